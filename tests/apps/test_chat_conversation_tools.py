"""Conversations in the page: regenerate the last answer, take the last
question back to edit it, search conversations by text, export one as
Markdown with its sources. On the page's own handlers, as Gradio calls them."""

from test_chat_failures import ASKED, FACT, ask, handlers, said

from assistant.apps.chat_conversations import Conversations
from assistant.conversations.markdown import to_markdown

from conftest import indexed_corpus

OTHER = "Who opened the Zorblat bridge?"


def _two_turns(tmp_path):
    settings = indexed_corpus(tmp_path, {"zorblat.md": f"# Bridges\n\n{FACT}\n"})
    page = handlers(settings)
    first = ask(page, ASKED)
    second = ask(page, OTHER, first[2], first[0])
    turns = {**first[3], **second[3]}  # assistant message -> saved turn, as the page keeps them
    return settings, page, (*second[:3], turns, *second[4:])


def _saved(settings, cid):
    return Conversations(settings).open(cid, "")


def test_regenerate_asks_the_last_question_again_in_place_of_its_answer(tmp_path):
    settings, page, last = _two_turns(tmp_path)
    messages, cid, turns = last[0], last[2], last[3]
    box, shown, asked, _, _, kept = page["again"](messages, cid, turns, None)
    assert asked == OTHER and len(shown) == 4 and shown[2]["role"] == "user"  # the question, answered anew
    assert len(_saved(settings, cid).turns) == 1 and sorted(kept) == [1]  # its old turn is gone
    *_, again = page["answer_turn"](asked, shown, cid, kept, [], None)
    assert "Quintana" in said(again)
    assert [t.question for t in _saved(settings, cid).turns] == [ASKED, OTHER]  # two turns, not three


def test_edit_puts_the_last_question_back_in_the_box_as_typed(tmp_path):
    settings, page, last = _two_turns(tmp_path)
    box, shown, kept, _ = page["edit"](last[0], last[2], last[3], None)
    assert box == OTHER and len(shown) == 2 and list(kept) == [1]
    assert [t.question for t in _saved(settings, last[2]).turns] == [ASKED]
    edited = ask(page, "In which year was it opened?", last[2], shown)
    assert "1987" in said(edited) and len(_saved(settings, last[2]).turns) == 2


def test_conversations_are_found_by_the_words_of_their_questions_and_answers(tmp_path):
    settings, page, last = _two_turns(tmp_path)
    cid = last[2]
    for text in ("zorblat", "Quintana", "1987"):  # a question's word, an answer's, a number
        assert [v for _, v in page["find"](text, cid, None)["choices"]] == [cid]
    assert page["find"]("Velmora lighthouse", cid, None)["choices"] == []
    assert len(page["find"]("", cid, None)["choices"]) == 1  # blank: all of them


def test_a_conversation_exports_as_markdown_with_its_sources(tmp_path):
    settings, page, last = _two_turns(tmp_path)
    update = page["export_one"](last[2], None)
    text = open(update["value"], encoding="utf-8").read()
    assert text.startswith("# When was the Zorblat bridge opened") and f"## {OTHER}" in text
    assert "Sources:" in text and "`zorblat.md`" in text and "Quintana" in text
    assert page["export_one"](None, None)["visible"] is False  # nothing open: nothing to export


def test_markdown_export_quotes_the_documents_literally():
    from types import SimpleNamespace as NS

    cite = NS(n=1, source="a.md", title="A", text="Use *all* <b>caps</b> # here", start=0, end=9, page=None)
    answer = NS(text="It says *all* [1].", citations=[cite], notes=[])
    conv = NS(title="Q *one*", created=0, turns=[NS(question="What # is it?", answer=answer)])
    md = to_markdown(conv)
    assert "# Q \\*one\\*" in md and "## What \\# is it?" in md
    assert "It says \\*all\\* [1]." in md and "Use \\*all\\* \\<b\\>caps\\</b\\> \\# here" in md
