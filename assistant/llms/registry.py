"""The LLM providers by name (`ASSISTANT_LLM_PROVIDER`), in the one registry
shape (assistant/registry.py). A new provider is a class with `complete` and
`stream` (base.py's `ChatModel`) plus one `register` line below, or, from
outside the repo, a dotted path: `ASSISTANT_LLM_PROVIDER=mypkg.llm:MyModel`
(the class lists the settings sections it takes in `sections`, e.g. ("llm",))."""

from __future__ import annotations

from assistant.llms.base import ChatModel
from assistant.registry import Registry
from assistant.settings import LLMSettings, Settings


def _openai(llm: LLMSettings) -> ChatModel:
    # Imported on first use: the openai client is a heavy import.
    from assistant.llms.openai_compat import ChatClient

    return ChatClient(llm)


# "openai" is any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp
# server, LM Studio), set by OPENAI_BASE_URL.
PROVIDERS: Registry[ChatModel] = Registry("LLM provider", "ASSISTANT_LLM_PROVIDER")
PROVIDERS.register("openai", _openai, "llm")


def get_chat_model(settings: Settings, provider: str | None = None) -> ChatModel:
    """A chat model of `provider` (default: `ASSISTANT_LLM_PROVIDER`) for these
    settings (one per answer: it holds that answer's deadline watchdog); an
    unknown name is a one-line SettingsError."""
    return PROVIDERS.build(provider or settings.llm_provider, settings)
