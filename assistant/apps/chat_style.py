"""How the chat page looks and its few lines of script: the messages'
styles and behaviour (`CSS`, `HEAD`: [n] previews, Copy, focus) and the
page's own (`PAGE_CSS`, and the scripts run on its events). Strings only,
kept apart from the code that makes the page's HTML (`chat_render`) and
wires its events (`chat`)."""

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


# On a phone the sidebar covers the page: closed at the start, and once a
# conversation is chosen or started (its toggle button opens it again).
CLOSE_ON_PHONE = """() => { if (window.innerWidth < 768 && document.querySelector('#sidebar.open'))
  document.querySelector('#sidebar .toggle-button')?.click(); }"""
# Below a long list of conversations, the delete confirmation would open
# out of sight, under Delete: it is scrolled into view once it shows.
REVEAL_CONFIRM = """() => { let tries = 0; (function again() {
  const box = document.querySelector('#delete-confirm');
  if (box && box.offsetParent) box.scrollIntoView({block: 'nearest'});
  else if (tries++ < 40) setTimeout(again, 50); })(); }"""
# The question box is disabled while a question is answered, which sends the
# focus to <body>: once it takes input again (and on load), it gets the focus
# back, unless the user has moved it somewhere else meanwhile.
FOCUS_QUESTION = """() => { let tries = 0; (function again() {
  const box = document.querySelector('#question textarea'), now = document.activeElement;
  if (box && !box.disabled) { if (!now || now === document.body) box.focus(); }
  else if (tries++ < 100) setTimeout(again, 50); })(); }"""

# The page's own styles (the messages' styles are chat_render.CSS).
PAGE_CSS = """
.status{display:flex;align-items:center;gap:8px;font-style:italic;margin-top:4px}
.status .spinner{width:12px;height:12px;border:2px solid currentColor;border-right-color:transparent;border-radius:50%;
 display:inline-block;animation:status-spin .8s linear infinite}
@keyframes status-spin{to{transform:rotate(360deg)}}
@media (prefers-reduced-motion: reduce){.status .spinner{animation:none}}
#header p{margin:0}
@media (max-width: 640px){#header-row{flex-direction:column;align-items:flex-start}}
#conversations label{white-space:normal}
/* Gradio's orange and red buttons hold white text at 2.8:1 and 3.8:1: darker shades, >= 5:1 (WCAG AA) */
#new-conversation{background:#c2410c;border-color:#c2410c;color:#fff}
#new-conversation:hover{background:#9a3412}
#delete-yes, #remove-yes{background:#b91c1c;border-color:#b91c1c;color:#fff}
"""
