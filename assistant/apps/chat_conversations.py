"""The chat page's saved conversations: what the sidebar lists, what a
reopened conversation shows, the history a follow-up is read with, and the
saving of each turn and its rating (the store is `assistant.conversations`).

A conversation is created by its first answered question, not by "New
conversation", so starting over and leaving leaves no empty entries.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from assistant.apps.chat_render import escape, plain, render_answer, render_question, render_sources
from assistant.errors import AssistantError
from assistant.library import original_page
from assistant.settings import Settings

log = logging.getLogger(__name__)

# What the browser keeps when no conversation is open: Gradio's BrowserState
# does not store a falsy value (the previous id would come back on reload).
NONE = "none"
PLACEHOLDER = "<div class='src-panel'><p>Cited passages appear here, with the cited words highlighted.</p></div>"
SEARCHING = "Searching the documents…"
WRITING = "Writing the answer…"
# Chatbot feedback values; "Like" and "Dislike" are the ones Gradio draws as thumbs.
RATINGS = {"Like": 1, "Dislike": -1}


def question_html(text: str) -> str:
    """The user's question as the chat shows it: the text itself, never read as Markdown or HTML."""
    return render_question(text)


def status_html(status: str, shown: str = "") -> str:
    """A message still being answered: what is written so far, then what is going on now."""
    return f"{shown}<div class='status' role='status'><span class='spinner'></span> {escape(status)}</div>"


def panel_html(text: str) -> str:
    """The sources panel with a line of text instead of sources."""
    return f"<div class='src-panel'><p>{escape(text)}</p></div>"


def answer_id(cid: str, turn: int) -> str:
    """The id a rendered answer's links and sources use: unique on the page, the same on every reopening."""
    return f"c{cid[:8]}t{turn}"


@dataclass
class Shown:
    """What a conversation looks like in the page."""

    messages: list[dict] = field(default_factory=list)
    sources: str = PLACEHOLDER
    turns: dict[int, int] = field(default_factory=dict)  # assistant message index -> turn index
    feedback: list[str | None] = field(default_factory=list)  # per assistant message: "Like", "Dislike" or None


class Conversations:
    """The page's conversations, on the database `settings` name; opened on
    first use, so a database that cannot be read stops saving, not the page.
    A damaged one is set aside (kept beside it) and a new one started: the
    page says so through `warn` (the page passes gr.Warning) and `notice`."""

    def __init__(self, settings: Settings, warn=None):
        self.settings = settings
        self.page_png = partial(original_page, settings=settings)  # cited PDF pages, for the sources panel
        self.warn = warn or (lambda message: None)
        self.notice = ""  # what the page keeps saying once a damaged database was set aside
        self._store = None
        self._lock = threading.Lock()

    @property
    def store(self):
        with self._lock:
            if self._store is None:
                self._store = self._open()
            return self._store

    def _open(self):
        from assistant.conversations import ConversationStore
        from assistant.conversations.database import DatabaseDamaged

        # Which file is opened, taken first: another page process that meets
        # the same damage may set it aside and start a new one meanwhile, and
        # that new file must not be taken for the damaged one.
        fid = _file_id(self.path)
        try:
            store = ConversationStore(self.path)
        except DatabaseDamaged as e:  # its header is gone: nothing in it reads
            return self._set_aside(e, fid)
        store.file_id = fid or _file_id(self.path)  # none before: the one just made
        try:
            store.check()  # damage seen at once, not as empty conversations later
        except DatabaseDamaged as e:
            return self._set_aside(e, fid, store)
        except BaseException:
            store.close()
            raise
        return store

    def _checked(self):
        from assistant.conversations import ConversationStore

        store = ConversationStore(self.path)
        try:
            store.check()
            store.file_id = _file_id(self.path)
        except BaseException:
            store.close()
            raise
        return store

    @property
    def path(self):
        from assistant.conversations import db_path

        return db_path(self.settings)

    def _set_aside(self, error, file_id, old=None):
        """Keep the damaged file beside it and start a new one, with the
        conversations of `old` (the store open on it) that still read; the new
        store. `error` again when the file is not SQLite's (not ours to move).
        `file_id`: the file the damage was met in, when it was open (another
        process may have set it aside and started a new one meanwhile: that
        one stays, with what that process carried over)."""
        from assistant.conversations.database import is_sqlite, set_aside

        path, saved, lost = self.path, [], None
        try:
            if file_id is not None and _file_id(path) != file_id:
                kept = "another process kept it beside it and started a new one"
            elif is_sqlite(path):
                if old is not None:  # read through the connection that has it open
                    try:
                        saved, lost, _ = old.readable()
                    except AssistantError:
                        pass
                # Closed before it moves: SQLite ends a connection by removing
                # its log by name, which would then be the new database's.
                _close(old)
                kept = f"kept beside it as {set_aside(path).name}; a new one was started"
            else:
                raise error
        finally:
            _close(old)
        new = self._checked()
        carried = ""
        if saved:
            try:
                n = new.carry(saved)
                carried = f" with the {_many(n, 'conversation')} that still read"
            except AssistantError as e:  # a full disk, say: they stay in the kept copy
                log.warning("the readable conversations were not carried over: %s", e)
        if carried and lost:
            carried += f" ({lost} did not)"
        elif not carried and "another process" not in kept:
            carried = "; earlier conversations are not listed here"
        self.notice = f"The conversations database {path} was damaged ({error.reason}): {kept}{carried}."
        log.warning("%s", self.notice)
        self.warn(escape(self.notice))
        return new

    def _call(self, work):
        """`work(store)`; again on a new store when the database turned out
        damaged (set aside), or was replaced meanwhile by another thread."""
        from assistant.conversations.database import DatabaseDamaged

        store = self.store
        try:
            return work(store)
        except DatabaseDamaged as e:
            with self._lock:
                if self._store is store:  # not already replaced by another thread
                    self._store = None
                    self._store = self._set_aside(e, store.file_id, store)
        except AssistantError:
            if self._store is store:  # a failure of the store in use, not of one closed meanwhile
                raise
        return work(self.store)

    # -- the sidebar --------------------------------------------------------
    def choices(self, user: str, query: str = "") -> list[tuple[str, str]]:
        """(label, id) of the user's conversations, the last one used first;
        with `query`, those whose title, questions or answers hold it."""
        try:
            summaries = self._call(lambda s: s.search(query, user=user))
        except AssistantError as e:
            log.warning("conversations cannot be listed: %s", e)
            return []
        labels = [label(s.title, s.updated) for s in summaries]
        if len(set(labels)) < len(labels):  # one title, the same minute: the seconds tell them apart
            labels = [label(s.title, s.updated, "%d %b %H:%M:%S") for s in summaries]
        counts, nth = Counter(labels), Counter()
        for i in reversed(range(len(labels))):  # still the same: numbered, the oldest #1
            key = labels[i]
            if counts[key] > 1:
                nth[key] += 1
                labels[i] = f"{key} #{nth[key]}"
        return list(zip(labels, (s.id for s in summaries)))

    def titles(self, user: str) -> list[tuple[str, str]]:
        """(id, title) of the user's conversations."""
        try:
            return [(s.id, s.title) for s in self._call(lambda s: s.list(user=user))]
        except AssistantError:
            return []

    # -- one conversation ---------------------------------------------------
    def open(self, cid: str | None, user: str):
        """The conversation `cid` of `user`, or None (missing, another user's, unreadable)."""
        if not live(cid):
            return None
        try:
            return self._call(lambda s: s.get(cid, user=user))
        except AssistantError as e:  # said, not an empty chat without a word
            log.warning("conversation %s cannot be read: %s", cid, e)
            self.warn(escape(f"This conversation cannot be read: {e}"))
            return None

    def shown(self, conversation) -> Shown:
        """Every turn of a saved conversation as the chat shows it, with the
        last answer's sources in the panel and the ratings given."""
        out = Shown()
        if conversation is None:
            return out
        for turn in conversation.turns:
            aid = answer_id(conversation.id, turn.index)
            out.messages.append({"role": "user", "content": question_html(turn.question)})
            out.turns[len(out.messages)] = turn.index
            out.messages.append({"role": "assistant", "content": render_answer(turn.answer, aid)})
            out.feedback.append({1: "Like", -1: "Dislike"}.get(turn.rating))
        if conversation.turns:
            last = conversation.turns[-1]
            out.sources = render_sources(last.answer, answer_id(conversation.id, last.index), self.page_png)
        return out

    @staticmethod
    def history(conversation) -> list[dict]:
        """The conversation as `answer()` history: its questions and answers as
        they were saved, refused ones marked so the next question does not lean on them."""
        out: list[dict] = []
        for turn in conversation.turns if conversation else []:
            out.append({"role": "user", "content": turn.question})
            out.append({"role": "assistant", "content": turn.answer.text, "refused": bool(turn.answer.refused)})
        return out

    def save(self, cid: str | None, question: str, answer, user: str) -> tuple[str, int]:
        """Add a finished turn, to a new conversation when `cid` is none of the
        user's; (conversation id, turn index). AssistantError when the store fails."""
        corpus = str(Path(self.settings.corpus).resolve())  # where `feedback export` reads the cited spans
        if cid and self.open(cid, user) is not None:
            return cid, self._call(lambda s: s.add_turn(cid, question, answer, user=user, corpus=corpus))

        def first(s):
            new = s.create(user=user)
            try:
                return new, s.add_turn(new, question, answer, user=user, corpus=corpus)
            except AssistantError:  # a full disk: no empty conversation left in the sidebar
                try:
                    s.delete(new, user=user)
                except AssistantError:
                    pass
                raise

        return self._call(first)

    def rename(self, cid: str, title: str, user: str) -> None:
        self._call(lambda s: s.rename(cid, title, user=user))

    def delete(self, cid: str, user: str) -> None:
        self._call(lambda s: s.delete(cid, user=user))

    def rate(self, cid: str, turn: int, rating: int, comment: str, user: str) -> None:
        self._call(lambda s: s.rate(cid, turn, rating, comment, user=user))

    def take_back(self, cid: str | None, messages: list, turn_of: dict, user: str) -> tuple[str, list, dict]:
        """The last question taken back, to ask again (regenerate) or to
        edit: (the question as it was typed, the messages before it, the
        turns of those). Its saved turn goes from the conversation."""
        i = max((k for k, m in enumerate(messages) if m.get("role") == "user"), default=None)
        if i is None:
            return "", list(messages), dict(turn_of or {})
        turn, saved = (turn_of or {}).get(i + 1), self.open(cid, user)
        if saved is not None and turn is not None and turn < len(saved.turns):
            question = saved.turns[turn].question  # as typed: the chat shows it escaped
            self._call(lambda s: s.truncate(cid, turn, user=user))
        else:
            question = plain(messages[i]["content"])
        return question, messages[:i], {k: v for k, v in (turn_of or {}).items() if k < i}

    def export(self, cid: str | None, user: str) -> Path | None:
        """The conversation as a Markdown file (`conversations.markdown`), in a
        new temporary folder (Gradio serves files from there); None when none is open."""
        import tempfile

        from assistant.conversations.markdown import to_markdown

        saved = self.open(cid, user)
        if saved is None or not saved.turns:
            return None
        name = re.sub(r"[^\w.-]+", "-", saved.title or "conversation").strip("-")[:60] or "conversation"
        path = Path(tempfile.mkdtemp(prefix="assistant-export-")) / f"{name}.md"
        path.write_text(to_markdown(saved), encoding="utf-8")
        return path


def _many(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")


def _close(store) -> None:
    if store is not None:
        try:
            store.close()
        except Exception:  # closing a damaged file may fail too; it is set aside all the same
            pass


def _file_id(path) -> tuple[int, int] | None:
    """Which file is at `path` (device, inode); None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def live(cid: str | None) -> str | None:
    """The open conversation's id, None when none is open."""
    return cid if cid and cid != NONE else None


def label(title: str, updated: float, clock: str = "%d %b %H:%M") -> str:
    """How the sidebar names a conversation: its title and when it was last used."""
    when = time.strftime(clock, time.localtime(updated))
    return f"{title or 'Untitled'} · {when}"
