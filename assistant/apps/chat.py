"""The chat page: Gradio's ChatInterface with streaming answers, `[n]` links,
and a sources panel that shows each cited passage with the exact cited span
highlighted (the HTML it shows is made in `chat_render`).

The page only calls the public answer functions (`answer_stream`,
`example_questions`); all retrieval and answering lives below it. Every text
that comes from documents or the model is escaped for both HTML and Markdown
before it is put into the page, so a document holding `<script>` or a
Markdown link shows as text.
"""

from __future__ import annotations

import logging
import uuid

from assistant.apps.chat_render import (
    CHATBOT_KWARGS,
    CSS,
    HEAD,
    TEXTBOX_KWARGS,
    chat_history,
    escape,
    plain,
    render_answer,
    render_error,
    render_question,
    render_sources,
)
from assistant.errors import AssistantError, SettingsError
from assistant.resources import offline_env
from assistant.settings import Settings

log = logging.getLogger(__name__)


def backend_label(settings: Settings) -> str:
    if settings.use_llm():
        where = settings.openai_base_url or "OpenAI"
        return f"Answers by the LLM **{escape(settings.llm_model)}** at {escape(where)}, citations verified against the sources."
    return "Answers by the **offline extractive answerer** (no LLM configured): every sentence is quoted from a source."


def build(settings: Settings):
    """The Gradio Blocks app for `settings` (not launched)."""
    offline_env()  # before gradio loads: no analytics or version check
    import gradio as gr

    from assistant.api import answer_stream, example_questions

    placeholder = "<div class='src-panel'><p>Cited passages appear here, with the cited words highlighted.</p></div>"

    def respond(message: str, history: list[dict]):
        history = chat_history(history)
        aid = uuid.uuid4().hex[:8]
        shown = ""
        try:
            for piece in answer_stream(message, history=history, settings=settings):
                if isinstance(piece, str):
                    shown += piece
                    yield escape(shown), gr.skip()
                else:
                    yield render_answer(piece, aid), render_sources(piece, aid)
        except Exception as e:  # any failure is a message in the chat; the page keeps working
            if not isinstance(e, AssistantError):
                log.exception("answering %r failed", message)
            yield render_error(e), gr.skip()

    class _PlainQuestions(gr.ChatInterface):
        """The user's message is shown as the plain text it is (not Markdown/HTML)."""

        def _append_message_to_history(self, message, history, role="user"):
            if role == "user" and isinstance(message, str):
                message = render_question(message)
            elif role == "user" and isinstance(message, dict) and "text" in message:  # an example
                message = {**message, "text": render_question(message["text"])}
            return super()._append_message_to_history(message, history, role)

        def _pop_last_user_message(self, history):  # Retry asks the question as typed
            history, message = super()._pop_last_user_message(history)
            return history, plain(message) if isinstance(message, str) else message

    try:
        examples = example_questions(4, settings=settings)
    except Exception:  # no index yet and the corpus is broken: no examples
        examples = []
    with gr.Blocks(title="Assistant — answers from your documents", analytics_enabled=False) as demo:
        gr.Markdown(f"## Ask your documents\n{backend_label(settings)}")
        with gr.Row():
            with gr.Column(scale=3):
                sources = gr.HTML(placeholder, render=False, elem_id="sources")
                chatbot = gr.Chatbot(
                    height=560,
                    **CHATBOT_KWARGS,
                    placeholder="Ask a question about the documents. Follow-up questions use the conversation.",
                )
                chat = _PlainQuestions(
                    respond,
                    chatbot=chatbot,
                    textbox=gr.Textbox(**TEXTBOX_KWARGS),
                    additional_outputs=[sources],
                    examples=examples or None,
                    run_examples_on_click=True,
                    cache_examples=False,
                    concurrency_limit=2,
                    fill_height=False,
                    api_visibility="undocumented",
                )
                new = gr.Button("New conversation", elem_id="new-conversation", variant="secondary")
            with gr.Column(scale=2):
                sources.render()
        new.click(lambda: ([], [], placeholder), outputs=[chat.chatbot, chat.chatbot_state, sources], queue=False)
    return demo


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None, share: bool = False):
    offline_env()  # before gradio loads: no analytics or version check
    import gradio as gr

    user, _, password = (auth or "").partition(":")
    if auth and not (user and password):  # never a page without the login asked for
        raise SettingsError("ASSISTANT_CHAT_AUTH (value not shown) is not valid: must be user:password")
    creds = (user, password) if auth else None
    demo = build(settings)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    demo.queue(default_concurrency_limit=2).launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=creds,
        theme=theme,
        css=CSS,
        head=HEAD,
        ssr_mode=False,
        footer_links=[],
        quiet=False,
    )
