"""The one registry shape (assistant/registry.py): names, dotted paths, and a
factory that sees only its own settings sections."""

from __future__ import annotations

import pytest

from assistant.errors import SettingsError
from assistant.registry import Registry
from assistant.settings import RetrievalSettings, Settings


class Probe:
    sections = ("retrieval",)

    def __init__(self, retrieval, *extra):
        self.retrieval, self.extra = retrieval, extra


def test_a_factory_gets_only_its_own_sections_and_the_callers_extras():
    reg: Registry[Probe] = Registry("probe", "ASSISTANT_PROBE")
    reg.register("probe", Probe, "retrieval")
    built = reg.build("probe", Settings(top_k=5), "extra")
    assert isinstance(built.retrieval, RetrievalSettings) and built.retrieval.top_k == 5
    assert not hasattr(built.retrieval, "chunk_size")  # the index section is not in reach
    assert built.extra == ("extra",)
    # the key follows the section's values, and only them
    assert reg.key("probe", Settings(top_k=5)) != reg.key("probe", Settings(top_k=6))
    assert reg.key("probe", Settings(top_k=5)) == reg.key("probe", Settings(top_k=5, chunk_size=300))


def test_a_dotted_path_plugs_in_a_class_from_outside_the_registry():
    reg: Registry[Probe] = Registry("probe", "ASSISTANT_PROBE")
    built = reg.build(f"{__name__}:Probe", Settings(top_k=7))
    assert isinstance(built, Probe) and built.retrieval.top_k == 7
    assert f"{__name__}:Probe" in reg and "nothing" not in reg


@pytest.mark.parametrize(
    "name, words",
    [
        ("nothing", "unknown probe 'nothing' (ASSISTANT_PROBE); known: probe"),
        ("no_such_module_xyz:Thing", "cannot import 'no_such_module_xyz'"),
        (f"{__name__}:Missing", "has no 'Missing'"),
    ],
)
def test_a_bad_name_is_a_one_line_settings_error(name, words):
    reg: Registry[Probe] = Registry("probe", "ASSISTANT_PROBE")
    reg.register("probe", Probe, "retrieval")
    with pytest.raises(SettingsError) as e:
        reg.build(name, Settings())
    assert words in str(e.value) and "\n" not in str(e.value)
