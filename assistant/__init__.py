"""A chat assistant whose every answer is grounded in, and cites, its sources.

    from assistant import answer
    a = answer("How much is Seoul expected to invest in the US?")
    print(a.text)            # sentences with [n] markers
    for c in a.citations:    # what each [n] stands for
        print(c.n, c.source, c.start, c.end, c.text)

Heavy dependencies load on the first call, not on import.
"""

import os

# No hub downloads, telemetry or version checks, on this or any air-gapped box.
for _k, _v in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_k, _v)

from assistant.api import answer, answer_stream, build_index  # noqa: E402
from assistant.errors import AssistantError, CorpusError, IndexConfigError, IndexStoreError, QuestionError  # noqa: E402
from assistant.settings import Settings, get_settings  # noqa: E402
from assistant.types import Answer, Citation, Passage  # noqa: E402

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
