"""One-line messages for settings that pydantic (or the TOML parser)
rejected, naming each setting as the user wrote it: the environment
variable, the key in assistant.toml, a command-line flag or a keyword.

The functions take the settings class as an argument instead of importing
it, so that `settings.py` can use them without an import cycle.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ValidationError

from assistant.errors import SettingsError

Model = type[BaseModel]

# Values never repeated in a message.
SECRETS = {"chat_auth", "chroma_token", "openai_api_key"}


def toml_path() -> Path:
    """The settings file: `ASSISTANT_CONFIG`, else assistant.toml in the working directory."""
    return Path(os.environ.get("ASSISTANT_CONFIG", "assistant.toml"))


def _spellings(model: Model, name: str) -> list[str]:
    """The names a field is read under: its aliases, or ASSISTANT_<NAME>."""
    alias = model.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str)]
    return [f"ASSISTANT_{name.upper()}"]


def field_of(model: Model, key: Any) -> str | None:
    """The field that `key` (a field name, or a name it is read under) sets."""
    if not isinstance(key, str):
        return None
    if key in model.model_fields:
        return key
    for name in model.model_fields:
        if key.upper() in (s.upper() for s in _spellings(model, name)):
            return name
    return None


def env_var(model: Model, name: str) -> str | None:
    """The environment variable (as written: case does not matter) that sets `name`."""
    wanted = {s.upper() for s in _spellings(model, name)}
    return next((k for k in os.environ if k.upper() in wanted), None)


def _toml_key(model: Model, name: str) -> str | None:
    path = toml_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return None
    return next((k for k in data if field_of(model, k) == name), None)


def setting_source(model: Model, name: str) -> str:
    """Where the user set `name`, for messages: the environment variable,
    `key in assistant.toml`, or (not set anywhere) the variable that would set it."""
    if var := env_var(model, name):
        return var
    if key := _toml_key(model, name):
        return f"{key} in {toml_path()}"
    return _spellings(model, name)[0]


def _bounds(metadata: list) -> str:
    b = {k: getattr(m, k) for m in metadata for k in ("ge", "gt", "le", "lt") if getattr(m, k, None) is not None}
    if "ge" in b and "le" in b:
        return f" from {b['ge']} to {b['le']}"
    words = {"ge": "of at least", "gt": "greater than", "le": "of at most", "lt": "less than"}
    return "".join(f" {'and ' if i else ''}{words[k]} {v}" for i, (k, v) in enumerate(b.items()))


def allowed(model: Model, name: str) -> str | None:
    """What `name` may be, in words ("an integer from 1 to 50")."""
    field = model.model_fields[name]
    kind = field.annotation
    if name == "chat_auth":
        return "user:password (both non-empty), or several separated by commas, each user once"
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


def _one(model: Model, name: str | None, value: Any, message: str, given: dict, names: dict) -> str:
    if name is None:
        return message
    if name in given:
        value = given[name]
        where = f"{names[name]} {value}" if name in names else f"{name}={value!r}"
        if name in SECRETS:
            where = f"{names.get(name, name)} (value not shown)"
    elif var := env_var(model, name):
        where = f"{var} (value not shown)" if name in SECRETS else f"{var}={os.environ[var]!r}"
    elif key := _toml_key(model, name):
        shown = "(value not shown)" if name in SECRETS else f"= {value!r}"
        where = f"{key} {shown} in {toml_path()}"
    else:
        where = f"{name} (value not shown)" if name in SECRETS else f"{name}={value!r}"
    rule = allowed(model, name)
    return f"{where} is not valid: " + (f"must be {rule}" if rule else message)


def settings_error(
    model: Model, error: Exception, given: dict | None = None, names: dict[str, str] | None = None
) -> SettingsError:
    """A SettingsError of one line for what pydantic (or the TOML parser)
    rejected: each bad setting as the user wrote it (the environment
    variable, the key in assistant.toml, `names`' spelling of an option such
    as `--top-k`, or a keyword argument), its value and what is allowed.
    `given` holds the values passed in code or on the command line, which
    take precedence over the environment and the file."""
    given, names = given or {}, names or {}
    if isinstance(error, tomllib.TOMLDecodeError):
        return SettingsError(f"{toml_path()} is not valid TOML: {error}")
    if isinstance(error, ValidationError):
        problems = []
        for e in error.errors():
            loc = e.get("loc") or ()
            msg = e.get("msg", "").removeprefix("Value error, ")
            field = field_of(model, loc[0]) if loc else None
            problems.append(_one(model, field, e.get("input"), msg[:1].lower() + msg[1:], given, names))
        return SettingsError("; ".join(dict.fromkeys(problems)))
    # pydantic-settings could not parse a value (e.g. a list that is not JSON)
    m = re.search(r'field "(\w+)"', str(error))
    name = field_of(model, m.group(1)) if m else None
    if name is None:
        return SettingsError(f"invalid setting: {error}")
    return SettingsError(_one(model, name, None, "a valid value", given, names))
