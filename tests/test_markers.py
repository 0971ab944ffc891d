"""The unit/e2e sorting of tests/conftest.py: read from the code, so it can be wrong; shown here on both sides."""

from __future__ import annotations

import sys

from conftest import _touches_real_parts


def _pure():
    assert sorted([2, 1]) == [1, 2]


def _builds(tmp_path):
    from assistant import build_index

    build_index(corpus=tmp_path)


def _calls_a_builder_helper():
    _builds(None)


def test_a_test_that_builds_an_index_is_e2e_and_a_pure_one_unit():
    me = sys.modules[__name__]
    assert not _touches_real_parts(_pure, me)
    assert _touches_real_parts(_builds, me)
    # one level down: a helper of the module that builds counts too
    assert _touches_real_parts(_calls_a_builder_helper, me)


def test_every_collected_test_is_sorted(request):
    assert request.node.get_closest_marker("unit") or request.node.get_closest_marker("e2e")
