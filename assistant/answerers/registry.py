"""The offline answerers by name (`settings.offline_answerer`).

A new offline answerer is one new file (a class with `answer(request)`,
see base.py) and one line in `OFFLINE_ANSWERERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.answerers.base import Answerer
from assistant.errors import SettingsError
from assistant.settings import Settings


def _rules(settings: Settings) -> Answerer:
    from assistant.answerers.extractive import RulesAnswerer

    return RulesAnswerer()


def _reader(settings: Settings) -> Answerer:
    # The reader model loads on first use (onnxruntime, 19 MB), and once.
    from assistant.answerers.reader import ReaderAnswerer
    from assistant.reader.model import get_reader

    return ReaderAnswerer(
        get_reader(settings.reader_model), candidates=settings.reader_candidates, threshold=settings.reader_threshold
    )


OFFLINE_ANSWERERS: dict[str, Callable[[Settings], Answerer]] = {
    "rules": _rules,
    "reader": _reader,
}


def offline_answerer(settings: Settings) -> Answerer:
    """The offline answerer `settings.offline_answerer` names."""
    try:
        factory = OFFLINE_ANSWERERS[settings.offline_answerer]
    except KeyError:
        known = ", ".join(OFFLINE_ANSWERERS)
        raise SettingsError(f"unknown offline answerer {settings.offline_answerer!r}; known: {known}") from None
    return factory(settings)
