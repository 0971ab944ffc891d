"""Follow-up questions made standalone (assistant/condense.py): pure rules, no index."""

import pytest

from assistant.rewrite.condense import (
    asks_about_last_answer,
    condense,
    is_follow_up,
    is_refusal,
    previous_answer_sentences,
    resolve_references,
    split_context,
    subject_phrase,
    usable_history,
)

REFUSAL = "The sources don't say. No passage found addresses this question."
TARIFF = [
    {"role": "user", "content": "What tariff did Trump threaten?"},
    {
        "role": "assistant",
        "content": "President Trump indicated on April 2 that he would impose a 25% tariff on South Korea, "
        "setting a deadline of July 9 [1].",
    },
]


def turn(question: str, reply: str, **extra) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": reply, **extra}]


def test_a_refused_turn_and_its_question_are_left_out():
    refused = turn("What do the sources say about “Mixed signals”?", REFUSAL)
    assert usable_history(refused) == []
    assert usable_history(TARIFF + refused) == TARIFF
    # Known by the explicit key, which wins over the wording either way.
    assert usable_history(turn("Who won?", "Lee won [1].", refused=True)) == []
    kept = turn("Who won?", "The sources don’t say who lost, but Lee won [1].", refused=False)
    assert usable_history(kept) == kept
    assert is_refusal({"role": "assistant", "content": "The sources don’t say. They never mention Macron."})
    assert not is_refusal({"role": "user", "content": REFUSAL})
    # A refusal leaves nothing to avoid repeating, nor words to carry over.
    assert previous_answer_sentences(refused) == []
    assert previous_answer_sentences(TARIFF + refused) == previous_answer_sentences(TARIFF) != []
    assert condense("What is the 3050 Strategy?", refused) == "What is the 3050 Strategy?"
    assert condense("What about it?", refused) == "What about it?"
    assert condense("And why?", refused) == "And why?"


@pytest.mark.parametrize(
    "question",
    [
        "What is the 3050 Strategy?",
        "Who is Scott Bessent?",
        "What did Trump say he would do?",
        "How big is “K-Culture”?",
    ],
)
def test_a_question_that_names_its_own_subject_stands_alone(question):
    assert not is_follow_up(question)
    assert condense(question, TARIFF) == question


@pytest.mark.parametrize(
    "question",
    ["Why?", "Tariffs?", "And how did Xi respond?", "What about steel?", "But where was that?", "When did it start?",
     "What did he say?", "What happened there?", "Did that deal survive?"],
)  # fmt: skip
def test_a_question_that_leans_on_the_conversation_is_a_follow_up(question):
    assert is_follow_up(question)


def test_that_and_it_become_the_subject_of_the_last_question():
    assert condense("and when was that?", TARIFF) == "When was the tariff Trump threatened?"
    assert condense("When did it take effect?", TARIFF) == "When did the tariff Trump threatened take effect?"
    assert (
        condense("Apart from that, who else was hit?", TARIFF)
        == "Apart from the tariff Trump threatened, who else was hit?"
    )
    # No phrase can be made of the last question: its words follow in brackets.
    lee = turn("What did President Lee declare about NATO?", "He declared it would not join [1].")
    assert condense("When was that?", lee) == "When was that? (President Lee declare NATO)"
    assert split_context("When was that? (President Lee declare NATO)") == (
        "When was that?",
        "President Lee declare NATO",
    )
    assert split_context("What is KEI (Korea Economic Institute)") == ("What is KEI (Korea Economic Institute)", "")
    # A chain of follow-ups keeps the subject of the question they all lean on.
    chain = turn("Which ministers was Seoul sending to Washington?", "Choi and Ahn [1].") + turn(
        "Where did they fly out from?", "From Incheon [1]."
    )
    assert "ministers" in condense("Who will meet them?", chain)


@pytest.mark.parametrize(
    "question,phrase",
    [
        ("What tariff did Trump threaten?", "the tariff Trump threatened"),
        ("How many troops did Russia send?", "the troops Russia sent"),
        ("What tariff does Trump want?", "the tariff Trump wants"),
        ("Which plan did the U.S. stop?", "the plan the U.S. stopped"),
        ("What rate did Seoul and Washington agree on?", "the rate Seoul and Washington agreed on"),
        ("Which ministers was Seoul sending to Washington?", "the ministers Seoul was sending to Washington"),
        ("Which deal was signed in April?", "the deal that was signed in April"),
        ("In the 2025 piece, what project did Lee propose, and why?", "the project Lee proposed"),
        ("What is the 3050 Strategy?", "the 3050 Strategy"),
        ("What is alliance fatigue?", "the alliance fatigue"),
        ("What did President Lee declare about NATO?", None),
        ("Which official met Xi?", None),
        ("What is it?", None),
        ("Which deal was it?", None),
        ("What is North Korea planning to send?", None),
    ],
)
def test_the_subject_of_a_question_as_a_noun_phrase(question, phrase):
    assert subject_phrase(question) == phrase


def test_a_pronoun_whose_person_the_question_names_is_left_alone():
    history = turn("Which ministers went?", "Finance Minister Choi Sang-mok and Industry Minister Ahn Duk-geun [1].")
    assert resolve_references("What did Trump say he would do?", history) == "What did Trump say he would do?"
    assert resolve_references("What did he say?", history) == "What did Choi Sang-mok say?"


def test_a_follow_up_about_what_was_just_said_may_quote_it_again():
    assert asks_about_last_answer("and when was that?")
    assert asks_about_last_answer("When will they be sent?")
    assert not asks_about_last_answer("What other commitment goes along with that?")
    assert not asks_about_last_answer("What did he request from China?")
