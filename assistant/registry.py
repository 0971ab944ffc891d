"""One registry shape for every choice (offline answerers, embedders, vector
stores, rerankers, LLM providers): a name, a factory, and the settings
sections the factory takes, as txtai's `factory.py` per subpackage.

Each subpackage keeps its own `registry.py` with one `Registry` and one
`register` line per implementation. A setting may also name a dotted path,
`package.module:Factory`, so a user's own class plugs in without editing
the repo; the factory declares the sections it takes in a `sections`
attribute (none: it takes no settings).

A factory gets only its own sections, as frozen values (`Settings.section`),
never the whole settings object: a component cannot read what it was not
given, and a cache of built components is keyed by exactly those sections
(`Registry.key`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from assistant.errors import SettingsError

T = TypeVar("T")

DOTTED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    sections: tuple[str, ...] = ()  # settings sections the factory takes, in its argument order


class Registry(Generic[T]):
    """Named factories of one kind of component (`kind`, for messages), chosen
    by the setting `setting`."""

    def __init__(self, kind: str, setting: str):
        self.kind, self.setting = kind, setting
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, factory: Callable[..., T], *sections: str) -> None:
        self._entries[name] = Entry(name, factory, tuple(sections))

    @property
    def entries(self) -> dict[str, Entry[T]]:
        """The registered entries by name (tests put fakes in it)."""
        return self._entries

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries or bool(DOTTED.match(name))

    def entry(self, name: str) -> Entry[T]:
        """The entry `name` names: a registered name, or a dotted path
        `package.module:Factory` (imported here). SettingsError, one line,
        for anything else."""
        if name in self._entries:
            return self._entries[name]
        if not DOTTED.match(name):
            known = ", ".join(self._entries)
            raise SettingsError(f"unknown {self.kind} {name!r} ({self.setting}); known: {known}, or package.module:Class")
        module, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except ImportError as e:
            raise SettingsError(f"{self.setting}={name!r}: cannot import {module!r} ({e})") from None
        except AttributeError:
            raise SettingsError(f"{self.setting}={name!r}: {module!r} has no {attr!r}") from None
        sections = tuple(getattr(factory, "sections", ()))
        return Entry(name, factory, sections)

    def build(self, name: str, settings: Any, *extra: Any) -> T:
        """The component `name` built from its own sections of `settings`
        (then any `extra` arguments the caller passes, e.g. an embedder id)."""
        e = self.entry(name)
        return e.factory(*(settings.section(s) for s in e.sections), *extra)

    def key(self, name: str, settings: Any) -> str:
        """A cache key of the component: its name and its sections' values."""
        e = self.entry(name)
        return f"{name}:{settings.key(*e.sections)}" if e.sections else name
