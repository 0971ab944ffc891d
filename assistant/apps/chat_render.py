"""What the chat page shows, as HTML: answers with `[n]` links, the sources
panel with the cited span highlighted, refusals, errors, and the history
sent back to `answer()`; the page's CSS and its few lines of script.

Every text that comes from documents or the model is escaped for both HTML
and Markdown before it is put into the page, so a document holding
`<script>` or a Markdown link shows as text.
"""

from __future__ import annotations

import html
import re

from assistant.errors import AssistantError

# Markdown syntax characters become numeric entities: shown as themselves,
# never read as links, emphasis or LaTeX; newlines become <br> so that a
# passage cannot end the HTML block it sits in.
_ENTITIES = {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+!|~$-:&<>\"'"}
_MARKER = re.compile(r"&#91;(\d+)&#93;")  # a [n] after escaping
# How a refusal and a failed question are shown, and recognised in the history.
_REFUSAL_BOX = "<div class='refusal'>"
_ERROR_BOX = "<div class='error'>"

CSS = """
.src-panel{font-size:14px;line-height:1.45}
.src-panel details, .msg-sources details{border:1px solid var(--border-color-primary);border-radius:6px;margin:6px 0;padding:4px 8px}
.src-panel summary, .msg-sources summary{cursor:pointer;font-weight:600}
.src-meta{color:var(--body-text-color-subdued);font-weight:400;font-size:12px}
.passage{white-space:pre-wrap;margin:6px 0 2px 0}
mark.cited{background:#ffe58a;color:#000;padding:0 1px;border-radius:2px}
a.cite{text-decoration:none;font-weight:600}
.refusal{border-left:4px solid #8a9ba8;padding:4px 10px;color:var(--body-text-color-subdued)}
.note{font-size:12px;color:#8a5300;margin-top:6px}
.error{border-left:4px solid #c0392b;padding:4px 10px}
details.source.flash{outline:3px solid #f5b700}
"""


# Opening a citation: Gradio has no component for "scroll to and open this
# passage", so a few lines of script do it (event delegation, no libraries).
HEAD = """<script>
document.addEventListener('click', function (e) {
  const a = e.target.closest && e.target.closest('a.cite');
  if (!a) return;
  e.preventDefault();
  const key = (a.getAttribute('href') || '').replace(/^#(msg-)?/, '');
  // Gradio's sanitizer may drop the "msg-" prefix of ids inside messages.
  const targets = ['panel-' + key, 'msg-' + key, key].map(function (id) { return document.getElementById(id); }).filter(Boolean);
  targets.forEach(function (el) { el.open = true; el.classList.add('flash'); setTimeout(function () { el.classList.remove('flash'); }, 1500); });
  if (targets.length) targets[0].scrollIntoView({behavior: 'smooth', block: 'center'});
});
</script>"""


def escape(text: str) -> str:
    """Text shown as itself, in Markdown-rendered chat messages and HTML alike."""
    return "".join(_ENTITIES.get(c, c) for c in text.replace("\r", "")).replace("\n", "<br>")


def _highlight(passage: str, span: str) -> str:
    """The passage, escaped, with `span` marked (found exactly, or by its start)."""
    i = passage.find(span)
    if i < 0 and len(span) > 40:
        i = passage.find(span[:40])
        span = passage[i : i + len(span)] if i >= 0 else span
    if i < 0:
        return escape(passage)
    j = i + len(span)
    return f"{escape(passage[:i])}<mark class='cited'>{escape(passage[i:j])}</mark>{escape(passage[j:])}"


def _source_block(ident: str, c, passage, open_: bool) -> str:
    meta = f"{escape(c.source)} · chars {c.start}–{c.end}"
    body = _highlight(passage.text, c.text) if passage is not None else f"<mark class='cited'>{escape(c.text)}</mark>"
    return (
        f"<details id='{ident}-{c.n}' class='source' {'open' if open_ else ''}><summary>[{c.n}] {escape(c.title)} "
        f"<span class='src-meta'>{meta}</span></summary><div class='passage'>{body}</div></details>"
    )


def render_answer(ans, aid: str) -> str:
    """The chat message for a finished answer."""
    if ans.refused:
        body = f"{_REFUSAL_BOX}ℹ️ {escape(ans.text)}</div>"
    else:
        text = _MARKER.sub(
            lambda m: f"<a class='cite' href='#msg-{aid}-{m.group(1)}'>[{m.group(1)}]</a>", escape(ans.text)
        )
        body = text
    if ans.citations:
        blocks = "".join(_source_block(aid, c, _passage(ans, c), False) for c in ans.citations)
        body += f"\n\n<div class='msg-sources'>{blocks}</div>"
    for note in ans.notes:
        body += f"\n\n<div class='note'>⚠️ {escape(note)}</div>"
    return body


def _passage(ans, c):
    return ans.passages[c.passage - 1] if 0 < c.passage <= len(ans.passages) else None


def render_sources(ans, aid: str) -> str:
    """The side panel: every cited passage open with its span highlighted."""
    if not ans.citations:
        what = "The sources don't answer this question." if ans.refused else "No citations."
        return f"<div class='src-panel'><p>{escape(what)}</p></div>"
    blocks = "".join(_source_block(f"panel-{aid}", c, _passage(ans, c), True) for c in ans.citations)
    return f"<div class='src-panel'><h3>Sources of the last answer</h3>{blocks}</div>"


def render_error(e: Exception) -> str:
    """The chat message for a question that failed: an AssistantError's own
    message (empty, too long, not text...); for anything else, which is a bug,
    no internals, only its kind (the traceback goes to the server's log)."""
    if isinstance(e, AssistantError):
        text = str(e) or type(e).__name__
    else:
        text = f"Something went wrong while answering ({type(e).__name__}); the details are in the server's log."
    return f"{_ERROR_BOX}⚠️ {escape(text)}</div>"


def _text(content) -> str:
    """A chat message's content (a string, or Gradio's list of parts) as one string."""
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content or [])


def plain(content) -> str:
    """An earlier chat message as plain text, for the conversation history."""
    content = _text(content)
    content = content.split("<div class='msg-sources'>")[0].split("<div class='note'>")[0]
    content = re.sub(r"<br>", "\n", content)
    content = re.sub(r"<[^>]+>", "", content)
    return html.unescape(content).replace("ℹ️ ", "").replace("⚠️ ", "").strip()


def chat_history(messages: list[dict]) -> list[dict]:
    """The chat page's messages as `answer()` history: plain text, each
    answer marked `"refused": True` when it was a refusal or an error (shown
    in their own boxes), so that the next question does not lean on it."""
    out = []
    for m in messages:
        if m.get("role") not in ("user", "assistant"):
            continue
        entry = {"role": m["role"], "content": plain(m["content"])}
        if m["role"] == "assistant":
            raw = _text(m["content"])
            entry["refused"] = _REFUSAL_BOX in raw or _ERROR_BOX in raw
        out.append(entry)
    return out
