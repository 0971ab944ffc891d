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

# Light-mode colours first, then `.dark` (Gradio sets it when the OS is dark):
# every text colour here is >= 4.5:1 (WCAG AA) on the message and panel
# backgrounds of both modes, which the browser tests check with axe-core.
CSS = """
.src-panel{font-size:14px;line-height:1.45}
.src-panel details, .msg-sources details{border:1px solid var(--border-color-primary);border-radius:6px;margin:6px 0;padding:4px 8px}
.src-panel summary, .msg-sources summary{cursor:pointer;font-weight:600}
.src-meta{color:#4b5563;font-weight:400;font-size:12px}
.passage{white-space:pre-wrap;margin:6px 0 2px 0}
.msg-sources{font-size:14px;line-height:1.45}
mark.cited{background:#ffe58a;color:#000;padding:0 1px;border-radius:2px}
.orig-page{margin:10px 0}.orig-page img{width:100%;height:auto;border:1px solid var(--border-color-primary);border-radius:4px}.orig-page figcaption{font-size:13px;margin-bottom:4px;opacity:.85}
a.cite{color:#1e40af;text-decoration:underline;text-underline-offset:2px;font-weight:600;border-radius:3px}
a.cite:hover{text-decoration-thickness:2px}
a.cite:focus-visible{outline:2px solid #1d4ed8;outline-offset:1px}
/* A preview spans the answer's width, just below the line of its [n]: never cut off at the bubble's edge. */
.answer{position:relative}
/* A preview only shows: a click where it lies goes to what is under it (Copy, a passage's header). */
.cite-wrap .tip{display:none;position:absolute;left:0;right:0;z-index:30;margin-top:2px;pointer-events:none;
  padding:6px 8px;border-radius:6px;background:#111827;color:#f9fafb;font-size:13px;font-weight:400;line-height:1.4;
  white-space:normal;box-shadow:0 2px 8px rgba(0,0,0,.3)}
.cite-wrap:hover .tip, .cite-wrap:focus-within .tip{display:block}
.cite-wrap.tip-off .tip{display:none}
.tip .tip-where{display:block;margin-top:3px;color:#d1d5db;font-size:12px}
.refusal{border-left:4px solid #6b7280;padding:4px 10px;color:#374151}
.note{font-size:12px;color:#7a4a00;margin-top:6px}
.error{border-left:4px solid #c0392b;padding:4px 10px}
details.source.flash{outline:3px solid #b45309}
.msg-tools{margin:6px 0 2px 0}
button.copy-answer{font-size:12px;padding:2px 10px;border-radius:5px;border:1px solid #6b7280;background:transparent;color:inherit;cursor:pointer}
button.copy-answer:focus-visible{outline:2px solid #1d4ed8;outline-offset:1px}
.copy-text{display:none}
.page-hidden{display:none !important}
/* The first thing Tab reaches: out of sight until it has the focus. */
.skip-link{position:absolute;left:8px;top:-60px;z-index:1000;padding:6px 12px;border-radius:6px;
  background:#1e40af;color:#fff;font-weight:600}
.skip-link:focus{top:8px}
a.back{display:block;margin-top:8px;font-size:13px;color:#1e40af;white-space:normal}
.dark a.back{color:#93c5fd}
.dark .src-meta{color:#d1d5db}
.dark a.cite{color:#93c5fd}
.dark a.cite:focus-visible, .dark button.copy-answer:focus-visible{outline-color:#93c5fd}
.dark .cite-wrap .tip{background:#f3f4f6;color:#111827}
.dark .tip .tip-where{color:#374151}
.dark .refusal{color:#e5e7eb;border-left-color:#9ca3af}
.dark .note{color:#fcd34d}
.dark details.source.flash{outline-color:#fbbf24}
.dark button.copy-answer{border-color:#9ca3af}
/* The default theme's orange primary button (white on #f97316: 2.8:1) and grey
   info/subdued text (#bbbbc2 on white: 1.9:1) are below AA: darker ones. */
.gradio-container{--button-primary-background-fill:#c2410c;--button-primary-background-fill-hover:#9a3412;
  --button-primary-text-color:#fff;--block-info-text-color:#4b5563;--body-text-color-subdued:#4b5563}
.dark .gradio-container{--button-primary-background-fill:#c2410c;--button-primary-background-fill-hover:#9a3412;
  --block-info-text-color:#bbbbc2;--body-text-color-subdued:#bbbbc2}
/* Gradio fades every message's text to 0.8 opacity, which takes grey text below AA. */
.message-wrap .prose.chatbot.md{opacity:1 !important}
/* The chat label would float over the first message (it is hidden; the log keeps its own name). */
#chat label[data-testid='block-label']{display:none}
/* A phone: the chat grows with its messages (no 560 px box inside a scrolling page),
   the sources panel comes below, and a citation opens in the message itself (script). */
@media (max-width: 767px){
  #chat{height:auto !important;max-height:none !important;min-height:200px}
  #chat .bubble-wrap{height:auto !important;max-height:none !important;overflow:visible}
}
"""

# Gradio has no component for "scroll to and open this passage", no copy hook
# that can change what is copied (its own button copies the message's HTML),
# and puts the raw HTML into each message's aria-label; a few lines of script
# do these (event delegation and one MutationObserver, no libraries).
HEAD = """<script>
(function () {
  function openPassage(a) {
    const key = (a.getAttribute('href') || '').replace(/^#(msg-)?/, '');
    // Gradio's sanitizer may drop the "msg-" prefix of ids inside messages.
    const inMsg = document.getElementById('msg-' + key) || document.getElementById(key);
    const panel = document.getElementById('panel-' + key);
    const w = a.closest('.cite-wrap');
    if (w) w.classList.add('tip-off');  // the passage is shown now (and a tap leaves :hover on)
    // The panel beside the chat is where the eye goes (opening the message's
    // copy too would scroll the answer away); stacked below it (a phone), or
    // for an older answer it no longer shows, the passage opens in the message.
    const beside = panel && panel.offsetParent && panel.getBoundingClientRect().left >= a.getBoundingClientRect().right;
    const box = beside ? panel : (inMsg || panel);
    if (!box) return;
    box.open = true; box.classList.add('flash');
    setTimeout(function () { box.classList.remove('flash'); }, 1500);
    const target = box.querySelector('mark.cited') || box;
    target.scrollIntoView({behavior: 'smooth', block: 'center'});
  }
  function copied(btn, ok) {
    btn.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(function () { btn.textContent = 'Copy'; }, 1500);
  }
  function copyAnswer(btn) {
    const src = btn.parentNode.querySelector('.copy-text');
    const text = src ? src.textContent : '';
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(btn, true); }, function () { copied(btn, fallback(text)); });
    } else {
      copied(btn, fallback(text));  // plain http on another host: no Clipboard API
    }
  }
  function fallback(text) {
    const ta = document.createElement('textarea');
    ta.value = text; ta.setAttribute('readonly', ''); ta.style.position = 'fixed'; ta.style.opacity = '0';
    document.body.appendChild(ta); ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }
  document.addEventListener('click', function (e) {
    const t = e.target;
    if (!t.closest) return;
    const btn = t.closest('button.copy-answer');
    if (btn) { e.preventDefault(); e.stopPropagation(); copyAnswer(btn); return; }
    const a = t.closest('a.cite');
    if (a) { e.preventDefault(); openPassage(a); return; }
    if (t.closest('a.skip-link')) {
      e.preventDefault();
      const box = document.querySelector('#question textarea');
      if (box) { box.scrollIntoView({block: 'center'}); box.focus(); }
      return;
    }
    const back = t.closest('a.back');
    const answer = back && back.closest('.answer');
    if (answer) {  // back to the [n] that opened this passage
      e.preventDefault();
      const cite = answer.querySelector('a.cite[href="' + back.getAttribute('href') + '"]') || answer;
      cite.scrollIntoView({behavior: 'smooth', block: 'center'});
      if (cite.focus) cite.focus({preventScroll: true});
    }
  }, true);
  // A preview shows while its [n] is hovered or focused; Escape, a click
  // elsewhere and a scroll close it until the pointer and the focus leave.
  function tipsOff() {
    document.querySelectorAll('.cite-wrap:hover, .cite-wrap:focus-within').forEach(function (w) { w.classList.add('tip-off'); });
  }
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') tipsOff(); });
  document.addEventListener('pointerdown', function (e) { if (!(e.target.closest && e.target.closest('.cite-wrap'))) tipsOff(); }, true);
  // The user's scrolling, not the page's own (focusing an [n] scrolls it into view):
  ['wheel', 'touchmove'].forEach(function (kind) { document.addEventListener(kind, tipsOff, {capture: true, passive: true}); });
  function tipBack(e) {
    const w = e.target.closest && e.target.closest('.cite-wrap');
    // Back once both have left: a closed preview does not reopen when only the pointer moves away.
    if (w && !w.contains(e.relatedTarget) && !(e.type === 'mouseout' && w.matches(':focus-within'))) w.classList.remove('tip-off');
  }
  document.addEventListener('focusout', tipBack);
  document.addEventListener('mouseout', tipBack);
  // The files chosen for an upload, names and sizes, to the page (chat_docs.refuse_too_big):
  // Gradio refuses a file over the size limit before the page's own events see it.
  function chosenFiles(files) {
    const box = document.querySelector('#upload-sizes textarea, #upload-sizes input');
    if (!box || !files || !files.length) return;
    box.value = JSON.stringify([Date.now(), Array.from(files, function (f) { return [f.name, f.size]; })]);
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }
  document.addEventListener('change', function (e) {
    if (e.target.matches && e.target.matches('#upload input[type=file]')) chosenFiles(e.target.files);
  }, true);
  document.addEventListener('drop', function (e) {
    if (e.target.closest && e.target.closest('#upload') && e.dataTransfer) chosenFiles(e.dataTransfer.files);
  }, true);
  function skipLink() {  // "Skip to question": past the sidebar, to the question box
    if (document.getElementById('skip-to-question')) return;
    const a = document.createElement('a');
    a.id = 'skip-to-question'; a.className = 'skip-link'; a.href = '#question'; a.textContent = 'Skip to question';
    document.body.insertBefore(a, document.body.firstChild);
  }
  if (document.body) skipLink(); else document.addEventListener('DOMContentLoaded', skipLink);
  // Gradio labels each message "bot's message: <its HTML>": relabel it with
  // its visible text (no sources, previews or buttons).
  const RAW = /^(user|bot|assistant)'s message: /;
  function relabel(el) {
    const v = el.getAttribute('aria-label') || '';
    const m = v.match(RAW);
    const who = m ? m[1] : el.getAttribute('data-who');
    if (!who) return;
    el.setAttribute('data-who', who);  // its content may render after the label is set
    const c = (el.querySelector('.message-content') || el).cloneNode(true);
    c.querySelectorAll('.msg-sources, .msg-tools, .tip, button').forEach(function (n) { n.remove(); });
    const label = (who === 'user' ? 'Your question: ' : 'Answer: ') + c.textContent.replace(/\\s+/g, ' ').trim();
    if (label !== v) el.setAttribute('aria-label', label);
  }
  function describe(root) {  // each [n] is described by its preview
    root.querySelectorAll('a.cite:not([aria-describedby])').forEach(function (a) {
      const tip = a.parentNode.querySelector('.tip');
      if (tip && tip.id) a.setAttribute('aria-describedby', tip.id);
    });
  }
  // Once per batch of changes: a streamed or reopened conversation makes many.
  new MutationObserver(function (records) {
    const labelled = new Set();
    records.forEach(function (r) {
      if (r.type === 'attributes') { labelled.add(r.target); return; }
      r.addedNodes.forEach(function (node) {
        if (node.nodeType !== 1) return;
        if (node.hasAttribute('aria-label')) labelled.add(node);
        node.querySelectorAll('[aria-label]').forEach(function (el) { labelled.add(el); });
        describe(node);
      });
      const host = r.target.closest && r.target.closest('[data-who]');
      if (host) labelled.add(host);
    });
    labelled.forEach(relabel);
  }).observe(document.documentElement, {subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label']});
})();
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
