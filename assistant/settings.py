"""One settings object for the whole assistant, in sections.

Read once, highest first: keyword options (`Settings(top_k=8)`), environment
variables prefixed `ASSISTANT_` (e.g. `ASSISTANT_TOP_K=8`), an optional TOML
file (`assistant.toml` in the working directory, or the path in
`ASSISTANT_CONFIG`), a named profile (`ASSISTANT_PROFILE=ollama`, or
`profile = "ollama"` in the file: `assistant/data/profiles/<name>.toml`),
then the defaults. `OPENAI_API_KEY` / `OPENAI_BASE_URL` are read under their
usual names too. No module reads the environment itself.

The fields are declared in section classes (`IndexSettings`, ...): the flat
object (`settings.top_k`) has them all, and `settings.retrieval` is the
frozen view of one section, which is what a component should receive.
Adding a setting is one line in its section.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as _SourceError

from assistant import settings_errors as _errors
from assistant.errors import SettingsError
from assistant.resources import data_path


def _project_root() -> Path:
    # A source checkout (editable install) keeps seeds/ next to the package;
    # anywhere else, paths are relative to the working directory.
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file() and (here / "seeds").is_dir():
        return here
    return Path.cwd()


# A component setting (embed_backend, vector_store, reranker, refine_embed_backend, llm_provider):
# a name its registry knows, or a dotted path `package.module:Class` to a
# class of the user's own; which names exist is checked when the component is
# built, by its registry (assistant/registry.py).
COMPONENT = r"^[a-z][a-z0-9_-]*$|^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"


class _Section(BaseModel):
    # Sections are values: frozen, hashable, comparable.
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class IndexSettings(_Section):
    """The corpus and how it is cut into chunks."""

    corpus: Path = Field(default_factory=lambda: _project_root() / "seeds")
    index_dir: Path = Field(default_factory=lambda: _project_root() / "index")
    # Suffixes of the files indexed; empty: every suffix a document reader
    # takes (assistant/ingest/readers.py: .txt and .md today).
    file_types: tuple[str, ...] = ()
    # Where the vectors are kept: a name in stores/backends.py's BACKENDS, or package.module:Class.
    vector_store: str = Field("chroma", pattern=COMPONENT)
    # Chunking (tiktoken tokens)
    chunk_size: int = Field(220, ge=32, le=2048)
    chunk_overlap: int = Field(40, ge=0, le=512)
    # Longest sentence unit embedded on its own; longer sentences are split.
    unit_max_tokens: int = Field(96, ge=16, le=256)
    # A file larger than this (MB) is skipped with a reason, and reading one
    # file (PDF, Word, HTML) may take at most read_timeout seconds and
    # read_memory_mb of memory (the reading process's address space, the
    # file itself included: room for a max_file_mb file, read).
    max_file_mb: float = Field(200.0, gt=0)
    read_timeout: float = Field(120.0, gt=0)
    read_memory_mb: float = Field(2048.0, ge=256)  # the readers' libraries alone map ~250 MB


class ChromaSettings(_Section):
    """Where the vectors live. No URL: an embedded store in index_dir/chroma.
    A URL (e.g. http://127.0.0.1:8000): that server; index_dir keeps the
    manifest and the BM25 index."""

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


class EmbedSettings(_Section):
    """The embedding model (see assistant/embedders/)."""

    # A name in embedders/registry.py's EMBEDDERS ("local", "openai"), or package.module:Class.
    embed_backend: str = Field("local", pattern=COMPONENT)
    embed_model: str = "text-embedding-3-small"
    embed_threads: int = Field(default_factory=lambda: min(2, os.cpu_count() or 1), ge=1)
    embed_batch_size: int = Field(32, ge=1, le=1024)


class RetrievalSettings(_Section):
    """How many passages, and the hybrid search's fusion."""

    top_k: int = Field(8, ge=1, le=50)
    candidates: int = Field(20, ge=1, le=200)
    rrf_k: int = Field(60, ge=1)
    # Passages reordered before the LLM reads them: "auto" (the reader when it
    # is the offline answerer), "none", a name in reader/registry.py's
    # RERANKERS, or package.module:Class.
    reranker: str = Field("auto", pattern=COMPONENT)
    # A second embedder at question time ("none", or a name in embedders/
    # registry.py's EMBEDDERS): the query and the retrieved passages'
    # sentences are embedded again with it, for an index built with a cheap
    # embedder (the fast profile: static vectors, then MiniLM here). It also
    # reranks: refine_pool * top_k passages are retrieved, and the top_k kept
    # by BM25 and its best sentence (retrieval/refine.py); 1: no rerank.
    refine_embed_backend: str = Field("none", pattern=COMPONENT)
    refine_pool: int = Field(3, ge=1, le=10)
    # Only these documents are searched: paths relative to the corpus, or
    # folders (every document under them); empty: the whole corpus.
    sources: tuple[str, ...] = ()


class AnswerSettings(_Section):
    """The offline answerers and the questions they accept."""

    max_sentences: int = Field(3, ge=1, le=10)
    # The offline answerer: "rules" (extractive.py, the default), "reader"
    # (the trained reader, which does not yet beat the rules on the gold
    # set), or a class of your own as package.module:Class (answerers/registry.py).
    offline_answerer: str = Field("rules", pattern=r"^([a-z][a-z0-9_-]*|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$")
    # The reader model (an ONNX file with card.json beside it); unset: the
    # one shipped in assistant/data/reader/.
    reader_model: Path | None = None
    # Sentences the reader reads per question (the best by meaning and by words).
    reader_candidates: int = Field(16, ge=1, le=200)
    # Probability below which no sentence answers; unset: the value calibrated
    # with the model (assistant/data/reader/card.json).
    reader_threshold: float | None = Field(None, ge=0.0, le=1.0)
    max_question_chars: int = Field(2000, ge=10)


class LLMSettings(_Section):
    """OpenAI or any OpenAI-compatible server (used when configured)."""

    openai_api_key: str | None = Field(
        None, validation_alias=AliasChoices("ASSISTANT_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("ASSISTANT_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_timeout: float = Field(30.0, gt=0)  # seconds for a whole LLM answer, retries included
    # Generation: "auto" uses the LLM when OPENAI_API_KEY or OPENAI_BASE_URL is set
    backend: Literal["auto", "offline", "llm"] = "auto"
    # Which client talks to the model: a name in llms/registry.py's PROVIDERS
    # ("openai": OpenAI or any OpenAI-compatible server), or package.module:Class.
    llm_provider: str = Field("openai", pattern=COMPONENT)
    llm_model: str = Field(
        "gpt-4o-mini", validation_alias=AliasChoices("ASSISTANT_LLM_MODEL", "OPENAI_MODEL", "llm_model")
    )
    llm_max_tokens: int = Field(512, ge=16, le=8192)
    llm_temperature: float = Field(0.1, ge=0.0, le=2.0)
    llm_retries: int = Field(2, ge=0, le=10)  # on 429/5xx/connection errors, with backoff

    def use_llm(self) -> bool:
        """Whether answers come from the LLM ("auto": when a key or URL is set)."""
        if self.backend == "auto":
            return bool(self.openai_api_key or self.openai_base_url)
        return self.backend == "llm"


class ChatSettings(_Section):
    """The chat page: local only unless asked; optional login "user:password",
    or several users "alice:pw1,bob:pw2" (each sees only their own conversations)."""

    chat_host: str = "127.0.0.1"
    chat_port: int = Field(7860, ge=1, le=65535)
    chat_auth: str | None = None
    chat_share: bool = False
    # Saved conversations (SQLite); unset: index_dir/conversations.sqlite3.
    chat_db: Path | None = None
    # Where files uploaded in the page are stored: a folder inside the corpus
    # ("" is the corpus folder itself), and the largest file taken (MB).
    upload_dir: str = ""
    upload_max_mb: float = Field(50.0, gt=0)

    @field_validator("chat_auth")
    @classmethod
    def _user_colon_password(cls, value: str | None) -> str | None:
        if not value:
            return None
        chat_users(value)  # ValueError when an entry is not user:password or a user repeats
        return value


def chat_users(auth: str) -> list[tuple[str, str]]:
    """The (user, password) pairs of a `chat_auth` value "alice:pw1,bob:pw2"
    (a password may hold ":", not ","); ValueError when one is incomplete or a
    user is named twice (which password counts would be a guess)."""
    pairs = []
    for entry in auth.split(","):
        user, _, password = entry.strip().partition(":")
        if not (user and password):
            raise ValueError("must be user:password")
        pairs.append((user, password))
    if len({u for u, _ in pairs}) != len(pairs):
        raise ValueError("names a user twice")
    return pairs


def profiles() -> list[str]:
    """The named profiles shipped in assistant/data/profiles/."""
    return sorted(p.stem for p in data_path("profiles").glob("*.toml"))


class AppSettings(_Section):
    """How the program itself behaves."""

    # The named set of defaults applied (see `profiles()`).
    profile: str | None = None
    # Errors the CLI does not expect: a traceback instead of one line
    debug: bool = False

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        if not value:  # ASSISTANT_PROFILE= (empty): no profile
            return None
        if value not in profiles():
            raise ValueError("must be one of " + ", ".join(repr(p) for p in profiles()))
        return value


# Which section each field belongs to: a section's class declares its fields.
SECTIONS: dict[str, type[_Section]] = {
    "index": IndexSettings,
    "chroma": ChromaSettings,
    "embed": EmbedSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "llm": LLMSettings,
    "chat": ChatSettings,
    "app": AppSettings,
}


def _profile_name(init: dict[str, Any]) -> str | None:
    """The profile asked for, by the same precedence as any setting."""
    if init.get("profile"):
        return init["profile"]
    var = next((k for k in os.environ if k.upper() == "ASSISTANT_PROFILE"), None)
    if var is not None:
        return os.environ[var]
    path = _errors.toml_path()
    if path.is_file():
        return tomllib.loads(path.read_text(encoding="utf-8")).get("profile")
    return None


# Bases in reverse: pydantic lists inherited fields from the last base first,
# and messages name bad settings in field order (index first).
class Settings(
    AppSettings,
    ChatSettings,
    LLMSettings,
    AnswerSettings,
    RetrievalSettings,
    EmbedSettings,
    ChromaSettings,
    IndexSettings,
    BaseSettings,
):
    """Every setting, flat (`settings.top_k`), with a frozen view per
    section (`settings.retrieval.top_k`)."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    def __init__(self, **values: Any) -> None:
        # A bad value is a SettingsError naming it as the user wrote it; from
        # override(), which options were given and how they are spelled.
        given, names = values.pop("_given", (values, {}))
        try:
            super().__init__(**values)
        except (ValidationError, _SourceError, tomllib.TOMLDecodeError) as e:
            raise _errors.settings_error(type(self), e, given, names) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _errors.toml_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        # An unknown profile adds nothing here; the field's check names it.
        profile = _profile_name(init_settings())
        if profile in profiles():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=data_path("profiles", f"{profile}.toml")))
        return tuple(sources)

    def section(self, name: str) -> _Section:
        """The frozen view of one section ("index", "retrieval", ...)."""
        cls = SECTIONS[name]
        # Values already checked: construct without validating again.
        return cls.model_construct(**{f: getattr(self, f) for f in cls.model_fields})

    @property
    def index(self) -> IndexSettings:
        return self.section("index")  # type: ignore[return-value]

    @property
    def chroma(self) -> ChromaSettings:
        return self.section("chroma")  # type: ignore[return-value]

    @property
    def embed(self) -> EmbedSettings:
        return self.section("embed")  # type: ignore[return-value]

    @property
    def retrieval(self) -> RetrievalSettings:
        return self.section("retrieval")  # type: ignore[return-value]

    @property
    def answer(self) -> AnswerSettings:
        return self.section("answer")  # type: ignore[return-value]

    @property
    def llm(self) -> LLMSettings:
        return self.section("llm")  # type: ignore[return-value]

    @property
    def chat(self) -> ChatSettings:
        return self.section("chat")  # type: ignore[return-value]

    @property
    def app(self) -> AppSettings:
        return self.section("app")  # type: ignore[return-value]

    def key(self, *sections: str) -> str:
        """A stable string for the values of `sections` (all when none are
        named), for caches: equal settings give equal keys, in any process.
        A digest, so that secrets in the values never show in a key."""
        names = sections or tuple(SECTIONS)
        values = {name: self.section(name).model_dump(mode="json") for name in names}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()

    def with_options(self, **options: Any) -> Settings:
        """A copy with some fields replaced (unknown names are an error).
        The profile's defaults were applied when these settings were read:
        `profile=` here changes only the field."""
        if not options:
            return self
        unknown = set(options) - set(type(self).model_fields)
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return override(self, options)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings read from the environment, once per process."""
    return Settings()


def resolve_settings(options: dict) -> Settings:
    """The settings of one call of the API: `options["settings"]` (or the
    settings read from the environment) with the other options over them.
    `options` itself is left as it was."""
    options = dict(options)
    settings = options.pop("settings", None) or get_settings()
    return settings.with_options(**options)


def override(settings: Settings, options: dict, names: dict[str, str] | None = None) -> Settings:
    """`settings` with `options` replaced and checked; a bad value is a
    SettingsError naming the option as `names` spells it (e.g. `--top-k`),
    or as a keyword argument (`top_k=0`)."""
    if not options:
        return settings
    data = settings.model_dump()
    data.update(options)
    return type(settings)(**data, _given=(options, names or {}))


def setting_source(name: str) -> str:
    """Where the user set `name`, for messages: the environment variable,
    `key in assistant.toml`, or (not set anywhere) the variable that would set it."""
    return _errors.setting_source(Settings, name)


def allowed(name: str) -> str | None:
    """What setting `name` may be, in words ("an integer from 1 to 50")."""
    return _errors.allowed(Settings, name)


def settings_error(error: Exception, given: dict | None = None, names: dict[str, str] | None = None) -> SettingsError:
    """A one-line SettingsError for what pydantic or the TOML parser rejected
    (see `settings_errors.settings_error`)."""
    return _errors.settings_error(Settings, error, given, names)
