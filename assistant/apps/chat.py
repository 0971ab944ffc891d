"""The chat page: a conversation sidebar (saved conversations, reopened with
their sources), the chat with a visible status while a question is answered,
a sources panel that shows each cited passage with the exact cited span
highlighted, thumbs up/down with a comment, and a Documents tab (upload,
progress, the table of documents, remove). The HTML it shows is made in
`chat_render`; conversations are `chat_conversations`, documents `chat_docs`.

The page only calls the public functions (`answer_stream`, `library`, the
conversation store); all retrieval and answering lives below it. Nothing slow
runs before the page is served: the documents, the last conversation and the
example questions are loaded by the page once it is open, and a timer follows
changes made to the index from elsewhere (`assistant index` in a shell).
"""

# No `from __future__ import annotations`: Gradio finds gr.Request, gr.LikeData
# and gr.SelectData parameters by their annotations, which must be real types.
import hashlib
import logging
import uuid

from assistant.apps.chat_conversations import (
    NONE,
    PLACEHOLDER,
    RATINGS,
    SEARCHING,
    WRITING,
    Conversations,
    answer_id,
    live,
    panel_html,
    question_html,
    status_html,
)
from assistant.apps.chat_docs import (
    Examples,
    build_documents_tab,
    header,
    index_version,
    list_documents,
    scope_choices,
)
from assistant.apps.chat_render import (
    CHATBOT_KWARGS,
    TEXTBOX_KWARGS,
    chat_history,
    escape,
    is_error,
    render_answer,
    render_error,
    render_sources,
)
from assistant.apps.chat_style import CLOSE_ON_PHONE, CSS, FOCUS_QUESTION, HEAD, PAGE_CSS, REVEAL_CONFIRM
from assistant.errors import AssistantError, SettingsError
from assistant.resources import offline_env
from assistant.settings import Settings, chat_users

log = logging.getLogger(__name__)

POLL_SECONDS = 3.0  # how often an open page looks for a changed index


def user_of(request) -> str:
    """Who is asking: the login name with chat_auth, else "" (everyone)."""
    return (getattr(request, "username", None) or "") if request is not None else ""


def build(settings: Settings):
    """The Gradio Blocks app for `settings` (not launched)."""
    offline_env()  # before gradio loads: no analytics or version check
    import gradio as gr

    from assistant.api import answer_stream

    convs = Conversations(settings, warn=gr.Warning)
    examples = Examples(settings)
    # The browser keeps which conversation it had open (localStorage), across
    # reloads and server restarts; the key must outlive the process. The id is
    # no secret: the store gives a user only their own conversations.
    secret = hashlib.sha256(f"assistant-chat:{settings.corpus}".encode()).hexdigest()[:32]

    # delete_cache: an upload never handled (the page closed before its event) goes within two hours,
    # and at shutdown; a handled one goes at once (chat_docs.forget_uploads).
    blocks = dict(title="Assistant — answers from your documents", analytics_enabled=False, delete_cache=(3600, 3600))
    with gr.Blocks(**blocks) as demo:
        cid = gr.BrowserState(None, storage_key="assistant-conversation", secret=secret)
        turns = gr.State({})  # assistant message index -> saved turn index, for ratings
        asked = gr.State("")  # the question being answered
        seen = gr.State(None)  # (index version, examples) the page shows
        rated = gr.State(None)  # (conversation, turn, rating) a comment goes with
        with gr.Sidebar(label="Conversations", elem_id="sidebar", open=True):
            new = gr.Button("New conversation", elem_id="new-conversation", variant="primary")
            search = gr.Textbox(label="Search conversations", max_lines=1, elem_id="search-conversations")
            listing = gr.Radio(
                choices=[], value=None, label="Conversations (the newest first)", elem_id="conversations"
            )
            title_box = gr.Textbox(label="Title of this conversation", max_lines=1, elem_id="rename-title")
            with gr.Row():
                rename = gr.Button("Rename", elem_id="rename", size="sm")
                delete = gr.Button("Delete…", elem_id="delete", size="sm", variant="secondary")
                export = gr.Button("Export", elem_id="export", size="sm", variant="secondary")
            exported = gr.File(label="This conversation as Markdown", visible=False, elem_id="exported")
            with gr.Group(visible=False, elem_id="delete-confirm") as confirm:
                gr.Markdown("Delete this conversation? This cannot be undone.")
                with gr.Row():
                    yes = gr.Button("Delete it", elem_id="delete-yes", variant="stop", size="sm")
                    no = gr.Button("Cancel", elem_id="delete-no", size="sm")
        with gr.Row(elem_id="header-row"):
            head = gr.Markdown(header(settings, None), elem_id="header")
            show_docs = gr.Button("Show the documents", elem_id="show-documents", size="sm", scale=0, min_width=160)
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Chat", id="chat-tab", elem_id="chat-tab"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            height=560,
                            **CHATBOT_KWARGS,  # how messages look and are named: chat_render
                            feedback_options=("Like", "Dislike"),
                            placeholder="Ask a question about the documents. Follow-up questions use the conversation.",
                        )
                        # The stop button shows instead of send while a question is answered.
                        send, stop = TEXTBOX_KWARGS.get("submit_btn", True), TEXTBOX_KWARGS.get("stop_btn") or True
                        question = gr.Textbox(**{**TEXTBOX_KWARGS, "stop_btn": False}, lines=1)
                        scope = gr.Dropdown(
                            choices=[], value=[], multiselect=True, allow_custom_value=True, elem_id="ask-only",
                            label="Ask only these documents or folders", info="None chosen: all the documents.",
                        )  # fmt: skip
                        with gr.Group(visible=False, elem_id="feedback") as feedback:
                            comment = gr.Textbox(
                                label="Thanks! Add a comment to your rating (optional)", max_lines=1,
                                elem_id="feedback-comment", submit_btn="Save",
                            )  # fmt: skip
                            comment_said = gr.Markdown("", elem_id="feedback-said")
                    with gr.Column(scale=2):
                        sources = gr.HTML(PLACEHOLDER, elem_id="sources")
            with gr.Tab("Documents", id="docs-tab", elem_id="docs-tab"):
                table, chosen, refresh_docs, changes = build_documents_tab(settings, gr)
        timer = gr.Timer(POLL_SECONDS)

        def listed(user: str, value):
            """The sidebar's list; under its label, what became of a damaged database."""
            choices = convs.choices(user)  # first: it is what finds the damage
            return gr.update(choices=choices, value=value, info=escape(convs.notice) or None)  # info is Markdown

        # -- asking -----------------------------------------------------------
        def take(q: str, messages: list):
            """The question shows at once, with the status, before any work."""
            messages = list(messages or [])
            messages += [
                {"role": "user", "content": question_html(q)},
                {"role": "assistant", "content": status_html(SEARCHING)},
            ]
            busy = gr.update(value="", interactive=False, submit_btn=False, stop_btn=stop)
            return busy, messages, q, panel_html(SEARCHING), gr.update(visible=False)

        def answer_turn(q: str, messages: list, conversation: str | None, turn_of: dict, scope, request: gr.Request):
            user = user_of(request)
            saved = convs.open(conversation, user)
            # A saved conversation is read as it was saved; else what the page shows.
            history = convs.history(saved) if saved else chat_history(messages[:-2])
            messages = list(messages)
            shown, final = "", None
            try:
                only = {"sources": tuple(scope)} if scope else {}  # a chosen subset: retrieval filters to it
                for piece in answer_stream(q, history=history, settings=settings, **only):
                    if isinstance(piece, str):
                        shown += piece
                        messages[-1] = {"role": "assistant", "content": status_html(WRITING, escape(shown))}
                        yield messages, *[gr.skip()] * 5
                    else:
                        final = piece
            except Exception as e:  # any failure is a message in the chat; the page keeps working
                if not isinstance(e, AssistantError):
                    log.exception("answering %r failed", q)
                messages[-1] = {"role": "assistant", "content": render_error(e)}
                yield messages, panel_html("No sources: the question was not answered."), *[gr.skip()] * 4
                return
            aid, turn_of, title = uuid.uuid4().hex[:8], dict(turn_of or {}), gr.skip()
            try:
                conversation, turn = convs.save(conversation if saved else None, q, final, user)
                aid = answer_id(conversation, turn)
                turn_of[len(messages) - 1] = turn
                if turn == 0:  # a new conversation: its title (the question) ready to be renamed
                    title = next((t for i, t in convs.titles(user) if i == conversation), gr.skip())
            except AssistantError as e:  # the answer is shown all the same
                log.warning("the answer was not saved: %s", e)
                gr.Warning(f"This answer could not be saved: {e}")
            messages[-1] = {"role": "assistant", "content": render_answer(final, aid)}
            sources = render_sources(final, aid, convs.page_png)
            yield messages, sources, conversation, turn_of, listed(user, conversation), title

        # The page's own events are not API endpoints ("respond", below, is the one to call).
        quiet = dict(show_progress="hidden", api_visibility="private")
        asking = dict(outputs=[chatbot, sources, cid, turns, listing, title_box], concurrency_limit=2, **quiet)
        taking = dict(outputs=[question, chatbot, asked, sources, feedback], queue=False, **quiet)
        inputs = [asked, chatbot, cid, turns, scope]

        def done(messages: list, q: str):
            """The question box back; a question stopped before its answer says so. A question
            that was not answered (too long, stopped...) is put back in the box, to be edited."""
            ready = dict(interactive=True, submit_btn=send, stop_btn=False)
            last = messages[-1] if messages else None
            content = str(last.get("content")) if last and last.get("role") == "assistant" else ""
            if "class='status'" in content:
                messages = [*messages[:-1], {"role": "assistant", "content": render_error(AssistantError("Stopped."))}]
                return gr.update(value=q, **ready), messages, panel_html("No sources: the question was stopped.")
            if is_error(content):
                return gr.update(value=q, **ready), gr.skip(), gr.skip()
            return gr.update(**ready), gr.skip(), gr.skip()

        def take_example(messages: list, evt: gr.SelectData):
            return take(evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value), messages)

        answering = []
        for event in (
            question.submit(take, [question, chatbot], **taking),
            chatbot.example_select(take_example, [chatbot], **taking),
        ):
            answer_event = event.then(answer_turn, inputs, **asking)
            answer_event.then(done, [chatbot, asked], [question, chatbot, sources], queue=False).then(
                None, None, None, js=FOCUS_QUESTION
            )
            answering.append(answer_event)

        # Regenerate (↻) and edit (↶: the question back in the box) on the last answer.
        def again(messages: list, conversation: str | None, turn_of: dict, request: gr.Request):
            q, before, kept = convs.take_back(conversation, messages, turn_of, user_of(request))
            return *take(q, before), kept

        def edit(messages: list, conversation: str | None, turn_of: dict, request: gr.Request):
            q, before, kept = convs.take_back(conversation, messages, turn_of, user_of(request))
            return q, before, kept, PLACEHOLDER

        redo = chatbot.retry(again, [chatbot, cid, turns], taking["outputs"] + [turns], queue=False, **quiet)
        answering.append(redo.then(answer_turn, inputs, **asking))
        answering[-1].then(done, [chatbot, asked], [question, chatbot, sources], queue=False)
        chatbot.undo(edit, [chatbot, cid, turns], [question, chatbot, turns, sources], queue=False, **quiet).then(
            None, None, None, js=FOCUS_QUESTION
        )
        question.stop(None, None, None, cancels=answering, queue=False)

        def find(text: str, conversation: str | None, request: gr.Request):
            return gr.update(choices=convs.choices(user_of(request), text), value=live(conversation))

        def export_one(conversation: str | None, request: gr.Request):
            path = convs.export(conversation, user_of(request))
            return gr.update(value=str(path) if path else None, visible=path is not None)

        search.input(find, [search, cid], [listing], queue=False, **quiet)
        export.click(export_one, [cid], [exported], queue=False, **quiet)

        # -- ratings ----------------------------------------------------------
        def rate(conversation: str | None, turn_of: dict, data: gr.LikeData, request: gr.Request):
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            turn = (turn_of or {}).get(index)
            hidden = None, gr.update(visible=False), gr.skip(), gr.skip()
            if not live(conversation) or turn is None:
                gr.Warning("Only a finished, saved answer can be rated.")
                return hidden
            value = data.liked
            rating = {True: 1, False: -1}.get(value, RATINGS.get(value, 0)) if isinstance(value, (bool, str)) else 0
            try:
                convs.rate(conversation, turn, rating, "", user_of(request))
            except AssistantError as e:
                gr.Warning(str(e))
                return hidden
            return (conversation, turn, rating), gr.update(visible=rating != 0), gr.update(visible=True), ""

        def add_comment(target, text: str, request: gr.Request):
            """The comment saved, and said so where it was typed (the box gives way to the line)."""
            said = ""
            if target and text.strip():
                try:
                    convs.rate(*target, text.strip(), user_of(request))
                    said = "Comment saved with your rating."
                except AssistantError as e:
                    said = f"**The comment was not saved:** {escape(str(e))}"
            return None, gr.update(value="", visible=not said), said, gr.update(visible=bool(said))

        chatbot.like(rate, [cid, turns], [rated, feedback, comment, comment_said], queue=False)
        comment.submit(add_comment, [rated, comment], [rated, comment, comment_said, feedback], queue=False)

        # -- conversations ----------------------------------------------------
        def start_over():
            # The panel goes back to its placeholder with the chat: no stale sources.
            # feedback_value too: else the last conversation's ratings stay on the new answers.
            return (
                NONE,
                gr.update(value=[], feedback_value=[]),
                PLACEHOLDER,
                {},
                gr.update(value=None),
                "",
                gr.update(visible=False),
                gr.update(visible=False),
            )

        blank = [cid, chatbot, sources, turns, listing, title_box, feedback, confirm]
        new.click(start_over, None, blank, queue=False)
        chatbot.clear(start_over, None, blank, queue=False)

        def show(conversation_id: str | None, request: gr.Request):
            user = user_of(request)
            saved = convs.open(conversation_id, user)
            shown = convs.shown(saved)
            box = gr.update(value=shown.messages, feedback_value=shown.feedback)
            hide = gr.update(visible=False)
            return (
                saved.id if saved else NONE,
                box,
                shown.sources,
                shown.turns,
                listed(user, saved.id if saved else None),
                saved.title if saved else "",
                hide,
                hide,
            )

        listing.input(show, [listing], blank, show_progress="hidden")

        def do_rename(conversation: str | None, text: str, request: gr.Request):
            user = user_of(request)
            if not live(conversation):
                gr.Warning("Ask a question first: a conversation is saved with its first answer.")
                return gr.skip()
            try:
                convs.rename(conversation, text, user)
            except AssistantError as e:
                gr.Warning(str(e))
            return listed(user, conversation)

        rename.click(do_rename, [cid, title_box], [listing], queue=False)
        title_box.submit(do_rename, [cid, title_box], [listing], queue=False)
        delete.click(lambda c: gr.update(visible=bool(live(c))), [cid], [confirm], queue=False).then(
            None, None, None, js=REVEAL_CONFIRM
        )
        no.click(lambda: gr.update(visible=False), None, [confirm], queue=False)

        def do_delete(conversation: str | None, request: gr.Request):
            user = user_of(request)
            if live(conversation):
                try:
                    convs.delete(conversation, user)
                except AssistantError as e:
                    gr.Warning(str(e))
            cleared = list(start_over())
            cleared[4] = listed(user, None)
            return tuple(cleared)

        yes.click(do_delete, [cid], blank, queue=False)

        # -- the documents and what follows them --------------------------------
        show_docs.click(lambda: gr.Tabs(selected="docs-tab"), None, [tabs], queue=False)

        def follow(state):
            """Header, documents table and examples, when the index or the examples changed."""
            version = index_version(settings)
            found = examples.get(version)
            now = [version, found]
            if state == now:
                return (gr.skip(),) * 6
            docs = list_documents(settings)
            rows, choices = refresh_docs(docs)
            shown_examples = gr.update(examples=[{"text": q} for q in found]) if found is not None else gr.skip()
            return now, header(settings, docs), rows, choices, shown_examples, gr.update(choices=scope_choices(docs))

        watched = [seen, head, table, chosen, chatbot, scope]
        timer.tick(follow, [seen], watched, show_progress="hidden", queue=False)
        for change in changes:  # an upload or a removal here: the header at once, not at the next tick
            change.then(follow, [seen], watched, show_progress="hidden", queue=False)

        def load(conversation_id: str | None, request: gr.Request):
            opened = list(show(conversation_id, request))
            state, line, rows, choices, shown_examples, scopes = follow(None)
            if isinstance(shown_examples, dict) and "examples" in shown_examples:
                opened[1] = {**opened[1], "examples": shown_examples["examples"]}  # one update of the chat
            return (*opened, state, line, rows, choices, scopes)

        demo.load(load, [cid], blank + [seen, head, table, chosen, scope], show_progress="hidden")
        for event in (demo.load, listing.input, new.click):
            event(None, None, None, js=CLOSE_ON_PHONE)
        demo.load(None, None, None, js=FOCUS_QUESTION)

        # Questions through the API as the page asks them (scripts, tests); not saved.
        def respond_api(message: str, history: list) -> str:
            result = ""
            try:
                for piece in answer_stream(message, history=chat_history(history or []), settings=settings):
                    if not isinstance(piece, str):
                        result = render_answer(piece, uuid.uuid4().hex[:8])
            except Exception as e:
                if not isinstance(e, AssistantError):
                    log.exception("answering %r failed", message)
                result = render_error(e)
            return result

        gr.api(respond_api, api_name="respond", api_visibility="undocumented", concurrency_limit=2)
    return demo


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None, share: bool = False):
    offline_env()  # before gradio loads: no analytics or version check
    import gradio as gr

    try:  # never a page without the login asked for
        creds = chat_users(auth) if auth else None
    except ValueError:
        raise SettingsError("ASSISTANT_CHAT_AUTH (value not shown) is not valid: must be user:password") from None
    demo = build(settings)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    demo.queue(default_concurrency_limit=2).launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=creds,
        theme=theme,
        css=CSS + PAGE_CSS,
        head=HEAD,
        ssr_mode=False,
        footer_links=[],
        quiet=False,
        max_file_size=int(settings.upload_max_mb * 1024 * 1024),  # refused in the browser, before it is sent
    )
