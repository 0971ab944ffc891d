"""One settings object for the whole assistant.

Read once from environment variables prefixed `ASSISTANT_` (e.g.
`ASSISTANT_TOP_K=8`), then from an optional TOML file (`assistant.toml` in the
working directory, or the path in `ASSISTANT_CONFIG`), then the defaults.
`OPENAI_API_KEY` / `OPENAI_BASE_URL` are read under their usual names too.
Every module receives the object; none reads the environment itself.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _project_root() -> Path:
    # A source checkout (editable install) keeps seeds/ next to the package;
    # anywhere else, paths are relative to the working directory.
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file() and (here / "seeds").is_dir():
        return here
    return Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    # Corpus and index
    corpus: Path = Field(default_factory=lambda: _project_root() / "seeds")
    index_dir: Path = Field(default_factory=lambda: _project_root() / "index")
    file_types: tuple[str, ...] = (".txt", ".md")

    # Chunking (tiktoken tokens)
    chunk_size: int = Field(220, ge=32, le=2048)
    chunk_overlap: int = Field(40, ge=0, le=512)
    # Longest sentence unit embedded on its own; longer sentences are split.
    unit_max_tokens: int = Field(96, ge=16, le=256)

    # Chroma server (client/server mode). Unset: an embedded store in
    # index_dir/chroma. Set (e.g. http://127.0.0.1:8000): the vectors live on
    # that server; index_dir keeps the manifest and the BM25 index.
    chroma_url: str | None = None
    chroma_tenant: str = "default_tenant"
    chroma_database: str = "default_database"
    chroma_token: str | None = None  # sent as "Authorization: Bearer <token>"
    # Prefix of the collection names, so several corpora can share one server.
    chroma_prefix: str = ""
    # Which corpus's collections on the server: unset, one namespace per
    # corpus folder (its absolute path), so clients indexing different
    # folders never touch each other's records; set it to share one index.
    chroma_namespace: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
    chroma_timeout: float = Field(60.0, gt=0)  # seconds per request to the server

    # Embeddings
    embed_backend: Literal["local", "openai"] = "local"
    embed_model: str = "text-embedding-3-small"
    embed_threads: int = Field(default_factory=lambda: min(2, os.cpu_count() or 1), ge=1)
    embed_batch_size: int = Field(32, ge=1, le=1024)

    # Retrieval
    top_k: int = Field(8, ge=1, le=50)
    candidates: int = Field(20, ge=1, le=200)
    rrf_k: int = Field(60, ge=1)

    # Answering
    max_sentences: int = Field(3, ge=1, le=10)
    max_question_chars: int = Field(2000, ge=10)

    # OpenAI or any OpenAI-compatible server (used when configured)
    openai_api_key: str | None = Field(
        None, validation_alias=AliasChoices("ASSISTANT_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("ASSISTANT_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_timeout: float = Field(30.0, gt=0)  # seconds for a whole LLM answer, retries included

    # Generation: "auto" uses the LLM when OPENAI_API_KEY or OPENAI_BASE_URL is set
    backend: Literal["auto", "offline", "llm"] = "auto"
    llm_model: str = Field(
        "gpt-4o-mini", validation_alias=AliasChoices("ASSISTANT_LLM_MODEL", "OPENAI_MODEL", "llm_model")
    )
    llm_max_tokens: int = Field(512, ge=16, le=8192)
    llm_temperature: float = Field(0.1, ge=0.0, le=2.0)
    llm_retries: int = Field(2, ge=0, le=10)  # on 429/5xx/connection errors, with backoff

    # Chat page: local only unless asked; optional basic auth "user:password"
    chat_host: str = "127.0.0.1"
    chat_port: int = Field(7860, ge=0, le=65535)
    chat_auth: str | None = None
    chat_share: bool = False

    def use_llm(self) -> bool:
        if self.backend == "auto":
            return bool(self.openai_api_key or self.openai_base_url)
        return self.backend == "llm"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("ASSISTANT_CONFIG", "assistant.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    def with_options(self, **options) -> Settings:
        """A copy with some fields replaced (unknown names are an error)."""
        if not options:
            return self
        unknown = set(options) - set(type(self).model_fields)
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        data = self.model_dump()
        data.update(options)
        return type(self).model_validate(data)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings read from the environment, once per process."""
    return Settings()
