"""The chat page's Documents tab: upload files (one or many, dragged in or
chosen), index them with the progress shown, the table of every document of
the corpus with its state, and removing one after a confirmation.

All the work is `assistant.library` and `build_index`; this module only puts
their results into the page. Indexing runs in a thread of its own while the
event streams its progress, so questions asked meanwhile are answered from
what is already indexed.
"""

# No `from __future__ import annotations`: Gradio finds gr.SelectData by its annotation.
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from assistant.apps.chat_render import escape
from assistant.apps.progress import progress_text
from assistant.errors import AssistantError
from assistant.settings import Settings
from assistant.types import IndexProgress

log = logging.getLogger(__name__)

COLUMNS = ["Document", "Type", "Size", "Chunks", "Indexed", "Status"]
STATUS = {"indexed": "indexed", "pending": "waiting to be indexed", "skipped": "skipped"}


def size_text(n: int) -> str:
    """A file size as people read it."""
    for unit in ("bytes", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def rows(docs) -> list[list]:
    """The documents table: one row per corpus file a reader takes."""
    out = []
    for d in docs:
        status = STATUS.get(d.status, d.status)
        if d.problem:
            status = f"{status}: {d.problem}"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.indexed_at)) if d.indexed_at else ""
        kind = d.kind + (f", {d.pages} pages" if getattr(d, "pages", None) else "")
        chunks = d.chunks if d.status == "indexed" else ""
        out.append([shown_name(d.source), kind, size_text(d.size), chunks, when, status])
    return out


def shown_name(source: str) -> str:
    """A document's name as the page shows it: a character that would not show
    but changes how it reads (U+202E, a file put in the corpus by hand) as its escape."""
    from assistant.library import visible_name

    return visible_name(source)


def summary(docs) -> str:
    """One line on the documents: how many are indexed, waiting, skipped."""
    counts = {k: sum(d.status == k for d in docs) for k in STATUS}
    line = f"{counts['indexed']} document{'s' if counts['indexed'] != 1 else ''} indexed"
    extra = [f"{counts['pending']} waiting"] if counts["pending"] else []
    extra += [f"{counts['skipped']} skipped"] if counts["skipped"] else []
    return line + (f" ({', '.join(extra)})" if extra else "")


def list_documents(settings: Settings) -> list:
    """Every document of the corpus; none when the corpus cannot be read (said in the log)."""
    from assistant.library import documents

    try:
        return documents(settings=settings)
    except AssistantError as e:
        log.warning("documents cannot be listed: %s", e)
        return []


def upload_lines(uploads, docs: list | None = None) -> list[str]:
    """What happened to each uploaded file, one line each; with the documents
    after indexing (`docs`), how each added one was indexed. Only the uploads:
    files of the corpus skipped before are the table's to show."""
    # Words, not emoji: a browser without an emoji font shows boxes.
    state = {d.source: d for d in docs or []}
    out = []
    for u in uploads:
        d = state.get(u.source) if u.ok and u.source else None
        if not u.ok:
            out.append(f"**Not added:** {md(u.message)}")
        elif d is not None and d.status == "skipped":
            out.append(f"**Not indexed:** {md(u.message)}, but skipped: {md(d.problem)}")
        elif d is not None and docs is not None:
            out.append(f"{md(u.message)}; {STATUS.get(d.status, d.status)}")
        else:
            out.append(md(u.message))
    return out


def forget_uploads(paths: list[str], cache: Path) -> None:
    """Delete handled uploads from Gradio's upload folder `cache` (and the
    folder Gradio made for each): the corpus holds the copy that is kept, a
    refused file is kept nowhere. Nothing outside `cache` is touched."""
    root = cache.resolve()
    for given in paths:
        path = Path(given)
        folder = path.parent.resolve()  # the file itself is never followed if a link
        if not folder.is_relative_to(root):
            continue
        try:
            (folder / path.name).unlink(missing_ok=True)
            if folder != root:
                folder.rmdir()  # Gradio's folder for this upload; kept if something else is in it
        except OSError as e:
            log.debug("upload %s left in %s: %s", path.name, folder, e)


def md(text: str) -> str:
    """Text shown as itself in a Markdown component (file names hold `_` and `*`)."""
    return escape(str(text))


@dataclass
class Progress:
    """Where an indexing run is (the build's last `IndexProgress`, None before
    the first); done with the report or the error. `cancel` stops it at its
    next committed point (`build_index(cancel=...)`)."""

    event: IndexProgress | None = None
    done: bool = False
    report: object = None
    error: Exception | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


def index_with_progress(settings: Settings, every: float = 0.4, cancel: threading.Event | None = None):
    """Run `build_index` in a thread; yield a `Progress` at most every `every`
    seconds while it runs, and the last one (done) at its end. Setting
    `cancel` (or the yielded `Progress.cancel`) stops the build at its next
    committed point: the last `Progress` then has a report with `stopped`."""
    from assistant.api import build_index

    updates: queue.Queue = queue.Queue()
    state = Progress(cancel=cancel or threading.Event())

    def work():
        try:
            state.report = build_index(settings=settings, on_progress=updates.put, cancel=state.cancel)
        except Exception as e:  # shown in the page; the traceback of a bug goes to the log
            if not isinstance(e, AssistantError):
                log.exception("indexing failed")
            state.error = e
        finally:
            updates.put(None)

    thread = threading.Thread(target=work, name="page-index", daemon=True)
    thread.start()
    while True:
        try:
            item = updates.get(timeout=every)
        except queue.Empty:
            yield state
            continue
        if item is None:
            break
        state.event = item
        while not updates.empty():  # only the latest counts
            nxt = updates.get_nowait()
            if nxt is None:
                updates.put(None)
                break
            state.event = nxt
        yield state
    thread.join()
    state.done = True
    yield state


def progress_line(p: Progress) -> str:
    """The status line of an indexing run: "Indexing report.txt — file 7 of 11,
    segment 12 of 24 · 1,850 words/s · about 3 min left", then what it did."""
    if p.error is not None:
        return f"**Indexing failed:** {md(str(p.error) or type(p.error).__name__)}"
    if p.done and getattr(p.report, "stopped", False):
        what = p.report.stopped_line().removeprefix("Stopped: ")
        return (
            f"**Stopped:** {md(what)}. The rest is indexed with the next upload (or by `assistant index`); "
            "questions are answered from what is indexed."
        )
    if p.done:  # what became of each upload is its own line (upload_lines)
        r = p.report
        added = len(r.added) + len(r.updated)
        if not added:  # another build (the page's first question, a shell) got there first
            return f"**Indexed:** nothing was left to index ({r.seconds:.1f} s)."
        return f"**Indexed:** {added} file{'s' if added != 1 else ''} added or updated ({r.seconds:.1f} s)."
    if p.cancel.is_set():
        return "Stopping at the next committed point…"
    if p.event is None:
        return "Indexing: reading the files…"
    return "Indexing " + progress_text(p.event, name=md(Path(shown_name(p.event.source)).name))


def scope_choices(docs: list) -> list[tuple[str, str]]:
    """What a question can be asked of, for the page's "Ask only" picker:
    every folder holding indexed documents ("reports/", every document
    under it), then the indexed documents themselves."""
    indexed = sorted(d.source for d in docs if d.status == "indexed")
    folders = sorted({"/".join(s.split("/")[:k]) + "/" for s in indexed for k in range(1, s.count("/") + 1)})
    return [(f"{f} (folder)", f) for f in folders] + [(shown_name(s), s) for s in indexed]


def build_documents_tab(settings: Settings, gr):
    """The Documents tab's components and events, inside the current Blocks; returns
    (table, choice of the document to remove, their refresh function, the events
    that change the library) for the page to update them and what follows them."""
    from assistant.ingest.readers import corpus_suffixes

    types = ", ".join(corpus_suffixes(settings.file_types))
    gr.Markdown(
        f"Add documents ({md(types)}; up to {settings.upload_max_mb:g} MB each): they are copied into the corpus "
        "folder and indexed; questions keep being answered meanwhile from what is already indexed."
    )
    upload = gr.File(
        file_count="multiple", type="filepath", label="Drop files here, or click to choose", elem_id="upload"
    )
    status = gr.Markdown("", elem_id="upload-status")
    # Gradio refuses files over the limit in the browser, before they are sent, with a toast that
    # passes: the page's script puts the chosen files' names and sizes here, for the status to say so.
    chosen_sizes = gr.Textbox(
        elem_id="upload-sizes", elem_classes=["page-hidden"], label="Chosen files", container=False
    )
    skipped = gr.State([])  # the sources the last upload copied into the corpus that were not indexed
    drop_skipped = gr.Button(
        "Remove the files that were not indexed from the corpus folder",
        visible=False, elem_id="remove-skipped", size="sm", variant="secondary",
    )  # fmt: skip
    stop = gr.Button("Cancel indexing", elem_id="cancel-indexing", variant="stop", visible=False)
    table = gr.Dataframe(
        headers=COLUMNS, value=[], interactive=False, wrap=True, elem_id="documents", label="Documents"
    )
    with gr.Row():
        chosen = gr.Dropdown(choices=[], value=None, label="Document to remove", elem_id="remove-choice", scale=3)
        remove = gr.Button("Remove…", elem_id="remove", variant="secondary", scale=1)
    with gr.Row(visible=False, elem_id="remove-confirm") as confirm_row:
        confirm_text = gr.Markdown("")
        yes = gr.Button("Remove it", elem_id="remove-yes", variant="stop")
        no = gr.Button("Cancel", elem_id="remove-no")

    names: dict[str, str] = {}  # shown name -> source

    def refresh(docs: list | None = None):
        docs = list_documents(settings) if docs is None else docs
        # Shared by every session of the page: added to, never emptied (an
        # entry depends only on its source), so another session's lookup
        # never meets it half-filled.
        current = {shown_name(d.source): d.source for d in docs}  # a table row gives the shown name
        names.update(current)
        return rows(docs), gr.update(choices=list(current.items()))

    # Each session's indexing run, which its Cancel button stops (by the session, so
    # that one user's Cancel never stops another's upload).
    running: dict[str, threading.Event] = {}

    def add(files, request: gr.Request):
        """Outputs: the upload box, the status, the table, the removal choice, the files copied but
        skipped with the offer to remove them (the offer goes with the last upload's status), and
        the Cancel button while indexing."""
        from assistant.library import add_documents

        keep = gr.skip(), gr.skip(), gr.skip()
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in files or []]
        if not paths:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), *keep
            return
        no_offer = [], gr.update(visible=False), gr.skip()
        try:
            uploads = add_documents(paths, settings=settings)
        except AssistantError as e:
            yield None, f"**Not added:** {md(str(e))}", gr.skip(), gr.skip(), *no_offer
            return
        finally:  # copied into the corpus or refused: Gradio's copy goes either way
            forget_uploads(paths, Path(gr.utils.get_upload_folder()))
        lines = upload_lines(uploads)
        if not any(u.ok and u.source for u in uploads):
            yield None, "\n\n".join(lines), gr.skip(), gr.skip(), *no_offer
            return
        session = getattr(request, "session_hash", None) or ""
        running[session] = cancel = threading.Event()
        stop_shown = gr.update(visible=True, interactive=True, value="Cancel indexing")
        try:
            yield None, "\n\n".join(lines + ["Indexing…"]), *refresh(), *no_offer[:2], stop_shown
            for p in index_with_progress(settings, cancel=cancel):
                if not p.done:
                    yield gr.skip(), "\n\n".join(lines + [progress_line(p)]), gr.skip(), gr.skip(), *keep
                    continue
                docs = list_documents(settings)
                # Copied into the corpus but not indexed (encrypted, no text...): offered for removal, so
                # that no copy stays in the corpus folder by accident.
                ours = {u.source for u in uploads}
                skipped = [d.source for d in docs if d.status == "skipped" and d.source in ours]
                said = "\n\n".join(upload_lines(uploads, docs) + [progress_line(p)])
                yield (
                    gr.skip(),
                    said,
                    *refresh(docs),
                    skipped,
                    gr.update(visible=bool(skipped)),
                    gr.update(visible=False),
                )
        finally:
            running.pop(session, None)

    def cancel_indexing(request: gr.Request):
        cancel = running.get(getattr(request, "session_hash", None) or "")
        if cancel is None:
            return gr.update(visible=False)
        cancel.set()
        return gr.update(interactive=False, value="Stopping…")

    def remove_skipped(sources: list):
        """Remove the copies of the last upload that were skipped; the status says what became of each."""
        from assistant.library import remove_document

        said, still = [], {d.source for d in list_documents(settings) if d.status == "skipped"}
        for source in [s for s in sources or [] if s in still]:  # one removed meanwhile is not said again
            try:
                remove_document(source, settings=settings)
                said.append(f"**Removed:** {md(shown_name(source))} (it was not indexed) from the corpus folder.")
            except AssistantError as e:
                said.append(f"**Not removed:** {md(str(e))}")
        return "\n\n".join(said), *refresh(), [], gr.update(visible=False)

    def refuse_too_big(chosen: str):
        """The status, when some of the files chosen are over the limit (none of them was sent)."""
        from assistant.library import too_large, visible_name

        try:
            # [when, [[name, size], ...]]: the time makes each choice a change, the same file chosen again too
            files = [(visible_name(str(name)), int(size)) for name, size in json.loads(chosen or "[0, []]")[1]]
        except (ValueError, TypeError):
            return gr.skip(), gr.skip(), gr.skip()
        said = [f"**Not added:** {md(why)}" for n, size in files if (why := too_large(n, size, settings.upload_max_mb))]
        if not said:
            return gr.skip(), gr.skip(), gr.skip()
        if len(said) < len(files):
            said.append("None of the files chosen with it was added: choose them again without it.")
        return "\n\n".join(said), [], gr.update(visible=False)

    def ask_remove(source):
        if not source:
            return gr.update(visible=False), "", "Choose a document to remove first."
        text = (
            f"Remove **{md(shown_name(source))}** from the library? Its file is deleted from the corpus folder "
            "and its passages from the index."
        )
        return gr.update(visible=True), text, ""

    def do_remove(source):
        from assistant.library import remove_document

        if not source:
            return gr.update(visible=False), gr.skip(), gr.skip(), gr.skip()
        try:
            remove_document(source, settings=settings)
            said = f"**Removed:** {md(shown_name(source))}; its passages are no longer used in answers."
        except AssistantError as e:
            said = f"**Not removed:** {md(str(e))}"
        table_rows, choices = refresh()
        return gr.update(visible=False), said, table_rows, choices

    def pick(evt: gr.SelectData):  # a click on a row of the table chooses its document
        row = getattr(evt, "row_value", None)
        return gr.update(value=names.get(row[0], row[0])) if row else gr.skip()

    offer = [skipped, drop_skipped]
    added = upload.upload(
        add, [upload], [upload, status, table, chosen, *offer, stop], concurrency_limit=1, show_progress="hidden"
    )
    stop.click(cancel_indexing, None, [stop], queue=False)
    dropped = drop_skipped.click(remove_skipped, [skipped], [status, table, chosen, *offer], concurrency_limit=1)
    table.select(pick, None, [chosen], queue=False)
    chosen_sizes.change(refuse_too_big, [chosen_sizes], [status, *offer], queue=False, show_progress="hidden")
    remove.click(ask_remove, [chosen], [confirm_row, confirm_text, status], queue=False)
    no.click(lambda: gr.update(visible=False), None, [confirm_row], queue=False)
    removed = yes.click(do_remove, [chosen], [confirm_row, status, table, chosen], concurrency_limit=1)
    return table, chosen, refresh, [added, removed, dropped]


# -- what the page says about the documents, and follows as they change ---------


def backend_label(settings: Settings) -> str:
    if settings.use_llm():
        where = settings.openai_base_url or "OpenAI"
        return f"Answers by the LLM **{escape(settings.llm_model)}** at {escape(where)}, citations verified against the sources."
    return "Answers by the **offline extractive answerer** (no LLM configured): every sentence is quoted from a source."


def header(settings: Settings, docs: list | None) -> str:
    """The line above the chat: which documents, which answerer."""
    what = "Documents: loading…" if docs is None else f"**Documents:** {summary(docs)} (list in the Documents tab)."
    return f"# Ask your documents\n{what} {backend_label(settings)}"  # the page's one h1


class Examples:
    """Example questions per index version, computed in a thread (asking
    candidates takes seconds, and it also loads the index, so the first
    question is quick): the page shows them once they are there."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.lock = threading.Lock()
        self.version: str | None = None
        self.questions: list[str] | None = None
        self.running = False

    def get(self, version: str) -> list[str] | None:
        """The examples of `version`, or None while they are being found."""
        with self.lock:
            if self.version == version and self.questions is not None:
                return self.questions
            if not self.running:
                self.running = True
                threading.Thread(target=self._find, args=(version,), name="page-examples", daemon=True).start()
            return None

    def _find(self, version: str) -> None:
        from assistant.api import example_questions

        try:
            questions = example_questions(4, settings=self.settings)
        except Exception:  # no index yet, a broken corpus: no examples, the page works
            log.info("no example questions", exc_info=True)
            questions = []
        with self.lock:
            self.version, self.questions, self.running = version, questions, False


def index_version(settings: Settings) -> str:
    from assistant.library import index_version as version

    try:
        return version(settings=settings)
    except AssistantError:
        return ""
