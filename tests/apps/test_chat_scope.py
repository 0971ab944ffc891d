"""Asking a chosen subset of the documents from the page ("Ask only"): the
picker lists folders and indexed documents, and a question asked of one
document never cites another."""

from types import SimpleNamespace

from test_chat_failures import ask, handlers, said

from assistant.apps.chat_docs import scope_choices

from conftest import indexed_corpus

BRIDGES = {
    "north/old.md": "# Old bridge\n\nThe Qelm bridge was opened in 1887 by mayor Ilse Quintana.\n",
    "north/river.md": "# River\n\nThe Qelm river floods every spring.\n",
    "south/new.md": "# New bridge\n\nThe Qelm bridge was rebuilt and opened again in 1987 by mayor Otto Brand.\n",
}


def test_the_picker_offers_each_folder_and_each_indexed_document():
    docs = [
        SimpleNamespace(source=s, status=st)
        for s, st in (("a/b/c.md", "indexed"), ("d.md", "indexed"), ("x.pdf", "skipped"))
    ]
    values = [v for _, v in scope_choices(docs)]
    assert values == ["a/", "a/b/", "a/b/c.md", "d.md"]  # a skipped file cannot be asked


def test_a_question_asked_of_one_folder_cites_only_its_documents(tmp_path):
    page = handlers(indexed_corpus(tmp_path, BRIDGES))
    both = ask(page, "When was the Qelm bridge opened?")
    assert "1887" in said(both) or "1987" in said(both)
    south = ask(page, "When was the Qelm bridge opened?", scope=["south/"])
    assert "1987" in said(south) and "south/new.md" in said(south) and "north/" not in said(south)
    north = ask(page, "When was the Qelm bridge opened?", scope=["north/old.md"])
    assert "1887" in said(north) and "south/" not in said(north)
    wrong = ask(page, "When was the Qelm bridge opened?", scope=["east/"])
    assert "no indexed document is" in said(wrong) and "east/" in said(wrong)  # one line, in the chat
