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

# What the page passes to gr.Chatbot and gr.Textbox: no Gradio copy buttons
# (they copy the message's HTML; each answer has its own Copy), no floating
# label over the first message, accessible names for the textbox and the
# send button, no LaTeX ("$350 billion ... $55.7" is money).
CHATBOT_KWARGS = {
    "label": "Conversation",
    "show_label": False,
    "buttons": [],
    "latex_delimiters": [],
    "sanitize_html": True,
    "elem_id": "chat",
}
TEXTBOX_KWARGS = {
    "label": "Your question",
    "show_label": False,
    "placeholder": "Ask a question about the documents",
    "submit_btn": "Send",
    "stop_btn": "Stop",
    "elem_id": "question",
    "autofocus": True,
}


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


def where(c) -> str:
    """Where a cited sentence is: its page when the format has pages, else its characters."""
    return f"p. {c.page}" if c.page else f"chars {c.start}–{c.end}"


def _source_block(ident: str, c, passage, open_: bool, back: str = "") -> str:
    meta = f"{escape(c.source)} · {where(c)}"
    body = _highlight(passage.text, c.text) if passage is not None else f"<mark class='cited'>{escape(c.text)}</mark>"
    if back:  # a passage inside a message can be long (a phone): the way back up
        body += f"<a class='back' href='{back}'>↑ Back to the answer</a>"
    return (
        f"<details id='{ident}-{c.n}' class='source' {'open' if open_ else ''}><summary>[{c.n}] {escape(c.title)} "
        f"<span class='src-meta'>{meta}</span></summary><div class='passage'>{body}</div></details>"
    )


def _cite_link(aid: str, c) -> str:
    """`[n]` as a link that opens the passage, with a preview of the cited
    sentence shown on hover and focus (CSS) and described to screen readers."""
    tip = f"“{escape(c.text)}”<span class='tip-where'>{escape(c.source)}, {where(c)}</span>"
    return (
        f"<span class='cite-wrap'><a class='cite' href='#msg-{aid}-{c.n}'>[{c.n}]</a>"
        f"<span class='tip' role='tooltip' id='tip-{aid}-{c.n}'>{tip}</span></span>"
    )


def copy_text(ans) -> str:
    """The answer as clean text for the clipboard: its sentences with `[n]`
    markers, then the numbered sources (file, page or characters, the quoted
    sentence). No markup, no entities."""
    lines = [ans.text.strip()]
    if ans.citations:
        lines += ["", "Sources:"]
        for c in ans.citations:
            title = f" — {c.title}" if c.title and c.title != c.source else ""
            lines.append(f"[{c.n}] {c.source}, {where(c)}{title}")
            lines.append(f"    “{c.text}”")
    return "\n".join(lines)


def render_question(text: str) -> str:
    """The user's own message as the chat shows it: plain text, so that
    `**bold**` stays as typed and `<img src=x>` is text that requests nothing."""
    return escape(text)


def render_answer(ans, aid: str) -> str:
    """The chat message for a finished answer: its text with `[n]` links, a
    Copy button (clean text, see `copy_text`), the cited passages, notes."""
    cites = {str(c.n): c for c in ans.citations}
    if ans.refused:
        body = f"{_REFUSAL_BOX}ℹ️ {escape(ans.text)}</div>"
    else:
        body = _MARKER.sub(
            lambda m: _cite_link(aid, cites[m.group(1)]) if m.group(1) in cites else m.group(0), escape(ans.text)
        )
    # Newlines as &#10; so the copied text keeps its lines (the element is hidden).
    clean = escape(copy_text(ans)).replace("<br>", "&#10;")
    body += (
        f"<div class='msg-tools'><button class='copy-answer' type='button'>Copy</button>"
        f"<div class='copy-text'>{clean}</div></div>"
    )
    if ans.citations:
        blocks = "".join(_source_block(aid, c, _passage(ans, c), False, f"#msg-{aid}-{c.n}") for c in ans.citations)
        body += f"<div class='msg-sources'>{blocks}</div>"
    for note in ans.notes:
        body += f"<div class='note'>⚠️ {escape(note)}</div>"
    # One HTML block with no blank line in it: Markdown passes it through whole
    # (all text in it is escaped), and the previews are placed inside it.
    return f"<div class='answer'>{body}</div>"


def _passage(ans, c):
    return ans.passages[c.passage - 1] if 0 < c.passage <= len(ans.passages) else None


def render_sources(ans, aid: str, page_png=None) -> str:
    """The side panel: every cited passage open with its span highlighted,
    and for a cited PDF page the page itself, the cited words marked:
    `page_png(source, page, quotes)` gives it as PNG bytes (None: not shown)."""
    if not ans.citations:
        what = "The sources don't answer this question." if ans.refused else "No citations."
        return f"<div class='src-panel'><p>{escape(what)}</p></div>"
    blocks = "".join(_source_block(f"panel-{aid}", c, _passage(ans, c), True) for c in ans.citations)
    return f"<div class='src-panel'><h3>Sources of the last answer</h3>{blocks}{_pages(ans, page_png)}</div>"


def _pages(ans, page_png) -> str:
    """The original pages the answer cites, each once with all its quotes
    marked, as images inlined in the panel (data: URLs: the panel is one
    HTML value, and no file has to be served)."""
    import base64

    cited: dict[tuple[str, int], list] = {}
    for c in ans.citations:
        if c.page and c.source.lower().endswith(".pdf"):
            cited.setdefault((c.source, c.page), []).append(c)
    out = []
    for (source, page), cs in cited.items() if page_png else ():
        try:
            png = page_png(source, page, [c.text for c in cs])
        except Exception as e:  # the file gone or changed since: the text view stays, with the reason
            out.append(f"<p class='note'>Page {page} of {escape(source)} cannot be shown: {escape(str(e))}</p>")
            continue
        marks = ", ".join(f"[{c.n}]" for c in cs)
        alt = escape(f"Page {page} of {source}, the words of {marks} marked")
        out.append(
            f"<figure class='orig-page'><figcaption>{marks} on the original page: {escape(source)} · p. {page}"
            f"</figcaption><img alt='{alt}' src='data:image/png;base64,{base64.b64encode(png).decode()}'></figure>"
        )
    return "".join(out)


def render_error(e: Exception) -> str:
    """The chat message for a question that failed: an AssistantError's own
    message (empty, too long, not text...); for anything else, which is a bug,
    no internals, only its kind (the traceback goes to the server's log)."""
    if isinstance(e, AssistantError):
        text = str(e) or type(e).__name__
    else:
        text = f"Something went wrong while answering ({type(e).__name__}); the details are in the server's log."
    return f"{_ERROR_BOX}⚠️ {escape(text)}</div>"


def is_error(content) -> bool:
    """Whether a chat message is a failed question's (`render_error`)."""
    return _ERROR_BOX in _text(content)


def _text(content) -> str:
    """A chat message's content (a string, or Gradio's list of parts) as one string."""
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content or [])


def plain(content) -> str:
    """An earlier chat message as plain text, for the conversation history."""
    content = _text(content)
    for tail in ("<div class='msg-tools'>", "<div class='msg-sources'>", "<div class='note'>"):
        content = content.split(tail)[0]
    content = re.sub(r"<span class='tip'[^>]*>.*?</span></span>", "", content)  # a [n] preview
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
