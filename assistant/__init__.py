"""A chat assistant whose every answer is grounded in, and cites, its sources.

    from assistant import answer
    a = answer("How much is Seoul expected to invest in the US?")
    print(a.text)            # sentences with [n] markers
    for c in a.citations:    # what each [n] stands for
        print(c.n, c.source, c.start, c.end, c.text)

Heavy dependencies load on the first call, not on import, and importing
changes nothing in the process environment (see `resources.offline_env`).
"""

from assistant.api import answer, answer_stream, build_index
from assistant.errors import AssistantError, CorpusError, IndexConfigError, IndexStoreError, QuestionError
from assistant.settings import Settings, get_settings
from assistant.types import Answer, Citation, Passage

__all__ = [
    "answer",
    "answer_stream",
    "build_index",
    "Answer",
    "Citation",
    "Passage",
    "Settings",
    "get_settings",
    "AssistantError",
    "CorpusError",
    "IndexConfigError",
    "IndexStoreError",
    "QuestionError",
]
__version__ = "0.1.0"
