"""One settings object for the whole assistant.

Read once from environment variables prefixed `ASSISTANT_` (e.g.
`ASSISTANT_TOP_K=8`), then from an optional TOML file (`assistant.toml` in the
working directory, or the path in `ASSISTANT_CONFIG`), then the defaults.
`OPENAI_API_KEY` / `OPENAI_BASE_URL` are read under their usual names too.
Every module receives the object; none reads the environment itself.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as _SourceError

from assistant.errors import SettingsError


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
    # The offline answerer: "rules" (extractive.py, the default) or "reader"
    # (reader_answer.py: the trained reader, which does not yet beat the rules).
    offline_answerer: Literal["rules", "reader"] = "rules"
    # The reader model (an ONNX file with card.json beside it); unset: the
    # one shipped in assistant/data/reader/.
    reader_model: Path | None = None
    # Sentences the reader reads per question (the best by a cheap pre-score).
    reader_candidates: int = Field(16, ge=1, le=200)
    # Probability below which no sentence answers; unset: the value calibrated
    # with the model (assistant/data/reader/card.json).
    reader_threshold: float | None = Field(None, ge=0.0, le=1.0)
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
    chat_port: int = Field(7860, ge=1, le=65535)
    chat_auth: str | None = None
    chat_share: bool = False

    # Errors the CLI does not expect: a traceback instead of one line
    debug: bool = False

    def __init__(self, **values: Any) -> None:
        # A bad value is a SettingsError naming it as the user wrote it; from
        # override(), which options were given and how they are spelled.
        given, names = values.pop("_given", (values, {}))
        try:
            super().__init__(**values)
        except (ValidationError, _SourceError, tomllib.TOMLDecodeError) as e:
            raise settings_error(e, given, names) from None

    @field_validator("chat_auth")
    @classmethod
    def _user_colon_password(cls, value: str | None) -> str | None:
        if not value:
            return None
        user, _, password = value.partition(":")
        if not (user and password):
            raise ValueError("must be user:password")
        return value

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
        return override(self, options)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings read from the environment, once per process."""
    return Settings()


def override(settings: Settings, options: dict, names: dict[str, str] | None = None) -> Settings:
    """`settings` with `options` replaced and checked; a bad value is a
    SettingsError naming the option as `names` spells it (e.g. `--top-k`),
    or as a keyword argument (`top_k=0`)."""
    if not options:
        return settings
    data = settings.model_dump()
    data.update(options)
    return type(settings)(**data, _given=(options, names or {}))


# Values never repeated in a message.
_SECRETS = {"chat_auth", "chroma_token", "openai_api_key"}


def _toml_path() -> Path:
    return Path(os.environ.get("ASSISTANT_CONFIG", "assistant.toml"))


def _spellings(name: str) -> list[str]:
    """The names a field is read under: its aliases, or ASSISTANT_<NAME>."""
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str)]
    return [f"ASSISTANT_{name.upper()}"]


def _field_of(key: Any) -> str | None:
    if not isinstance(key, str):
        return None
    if key in Settings.model_fields:
        return key
    for name in Settings.model_fields:
        if key.upper() in (s.upper() for s in _spellings(name)):
            return name
    return None


def _env_var(name: str) -> str | None:
    """The environment variable (as written: case does not matter) that sets `name`."""
    wanted = {s.upper() for s in _spellings(name)}
    return next((k for k in os.environ if k.upper() in wanted), None)


def _toml_key(name: str) -> str | None:
    path = _toml_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return None
    return next((k for k in data if _field_of(k) == name), None)


def setting_source(name: str) -> str:
    """Where the user set `name`, for messages: the environment variable,
    `key in assistant.toml`, or (not set anywhere) the variable that would set it."""
    if var := _env_var(name):
        return var
    if key := _toml_key(name):
        return f"{key} in {_toml_path()}"
    return _spellings(name)[0]


def _bounds(metadata: list) -> str:
    b = {k: getattr(m, k) for m in metadata for k in ("ge", "gt", "le", "lt") if getattr(m, k, None) is not None}
    if "ge" in b and "le" in b:
        return f" from {b['ge']} to {b['le']}"
    words = {"ge": "of at least", "gt": "greater than", "le": "of at most", "lt": "less than"}
    return "".join(f" {'and ' if i else ''}{words[k]} {v}" for i, (k, v) in enumerate(b.items()))


def allowed(name: str) -> str | None:
    """What `name` may be, in words ("an integer from 1 to 50")."""
    field = Settings.model_fields[name]
    kind = field.annotation
    if name == "chat_auth":
        return "user:password (both non-empty)"
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(kind))
    if kind is bool:
        return "true or false"
    if kind is int:
        return "an integer" + _bounds(field.metadata)
    if kind is float:
        return "a number" + _bounds(field.metadata)
    if get_origin(kind) is tuple:
        return 'a JSON list, e.g. [".txt", ".md"]'
    pattern = next((m.pattern for m in field.metadata if getattr(m, "pattern", None)), None)
    if pattern:
        return f"text matching {pattern}"
    if kind is Path:
        return "a path"
    return None


def _one(name: str | None, value: Any, message: str, given: dict, names: dict) -> str:
    if name is None:
        return message
    if name in given:
        value = given[name]
        where = f"{names[name]} {value}" if name in names else f"{name}={value!r}"
        if name in _SECRETS:
            where = f"{names.get(name, name)} (value not shown)"
    elif var := _env_var(name):
        where = f"{var} (value not shown)" if name in _SECRETS else f"{var}={os.environ[var]!r}"
    elif key := _toml_key(name):
        shown = "(value not shown)" if name in _SECRETS else f"= {value!r}"
        where = f"{key} {shown} in {_toml_path()}"
    else:
        where = f"{name} (value not shown)" if name in _SECRETS else f"{name}={value!r}"
    rule = allowed(name)
    return f"{where} is not valid: " + (f"must be {rule}" if rule else message)


def settings_error(error: Exception, given: dict | None = None, names: dict[str, str] | None = None) -> SettingsError:
    """A SettingsError of one line for what pydantic (or the TOML parser)
    rejected: each bad setting as the user wrote it (the environment
    variable, the key in assistant.toml, `names`' spelling of an option such
    as `--top-k`, or a keyword argument), its value and what is allowed.
    `given` holds the values passed in code or on the command line, which
    take precedence over the environment and the file."""
    given, names = given or {}, names or {}
    if isinstance(error, tomllib.TOMLDecodeError):
        return SettingsError(f"{_toml_path()} is not valid TOML: {error}")
    if isinstance(error, ValidationError):
        problems = []
        for e in error.errors():
            loc = e.get("loc") or ()
            msg = e.get("msg", "").removeprefix("Value error, ")
            problems.append(
                _one(_field_of(loc[0]) if loc else None, e.get("input"), msg[:1].lower() + msg[1:], given, names)
            )
        return SettingsError("; ".join(dict.fromkeys(problems)))
    # pydantic-settings could not parse a value (e.g. a list that is not JSON)
    m = re.search(r'field "(\w+)"', str(error))
    name = _field_of(m.group(1)) if m else None
    if name is None:
        return SettingsError(f"invalid setting: {error}")
    return SettingsError(_one(name, None, "a valid value", given, names))
