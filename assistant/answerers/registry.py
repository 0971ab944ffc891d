"""The offline answerers by name (`settings.offline_answerer`), in the one
registry shape (assistant/registry.py). A new offline answerer is one new
file (a class with `answer(question, context)`, see base.py) and one line
here, or no line: `ASSISTANT_OFFLINE_ANSWERER=package.module:Class`, whose
`sections = ("answer",)` says which settings it is built from.
"""

from __future__ import annotations

from assistant.answerers.base import Answerer
from assistant.registry import Registry


def _rules(answer) -> Answerer:
    from assistant.answerers.extractive import RulesAnswerer

    return RulesAnswerer(answer.max_sentences)


def _reader(answer) -> Answerer:
    # The reader model loads on first use (onnxruntime, 19 MB), and once.
    from assistant.answerers.reader import ReaderAnswerer

    return ReaderAnswerer.from_settings(answer)


OFFLINE_ANSWERERS: Registry[Answerer] = Registry("offline answerer", "ASSISTANT_OFFLINE_ANSWERER")
OFFLINE_ANSWERERS.register("rules", _rules, "answer")
OFFLINE_ANSWERERS.register("reader", _reader, "answer")


def offline_answerer(settings) -> Answerer:
    """The offline answerer `settings.offline_answerer` names, built from the answer section."""
    return OFFLINE_ANSWERERS.build(settings.offline_answerer, settings)
