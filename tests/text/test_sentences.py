"""The one sentence splitter (assistant/text/sentences.py) and the places
that use it: answer verification and follow-up context."""

import pytest

from assistant.answerers.cite import cited_sentences, split_sentences
from assistant.rewrite.condense import previous_answer_sentences
from assistant.text import sentences


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "Treasury Secretary Scott Bessent and U.S. Trade Representative Jamieson Greer will join the talks. "
            "The agenda is unclear.",
            [
                "Treasury Secretary Scott Bessent and U.S. Trade Representative Jamieson Greer will join the talks.",
                "The agenda is unclear.",
            ],
        ),
        (
            "Dr. Lee met Mr. Smith on Jan. 5 in Washington. He left.",
            ["Dr. Lee met Mr. Smith on Jan. 5 in Washington.", "He left."],
        ),
        ("J. R. R. Tolkien wrote it. Sales grew 3.5 times.", ["J. R. R. Tolkien wrote it.", "Sales grew 3.5 times."]),
        (
            "He is ranked No. 1 in the world. The U.S. Army won.",
            ["He is ranked No. 1 in the world.", "The U.S. Army won."],
        ),
        ("He moved to the U.S. He liked it there.", ["He moved to the U.S.", "He liked it there."]),
        (
            "Fruit, e.g. apples, is cheap. Prices rose 2.5% in Sept. 2024.",
            ["Fruit, e.g. apples, is cheap.", "Prices rose 2.5% in Sept. 2024."],
        ),
        ("2.1. The scope of the deal is wide.", ["2.1. The scope of the deal is wide."]),
        ("Is it? Yes! It is.", ["Is it?", "Yes!", "It is."]),
    ],
)
def test_abbreviations_initials_decimals_and_numbers_stay_inside_a_sentence(text, expected):
    assert sentences.split_sentences(text) == expected
    spans = sentences.sentence_spans(text)
    assert [text[s:e] for s, e in spans] == expected


def test_answer_sentences_keep_their_markers_even_after_a_quote():
    text = "He called it 'a nuclear power.' [3]. Seoul agreed. [1] The U.S. Trade office spoke [2]."
    assert cited_sentences(text) == [
        ("He called it 'a nuclear power.'.", [3]),
        ("Seoul agreed.", [1]),
        ("The U.S. Trade office spoke.", [2]),
    ]


def test_streaming_holds_back_what_may_still_change():
    done, rest = split_sentences("Seoul agreed [1]. The U.S. T", final=False)
    assert done == ["Seoul agreed [1]."] and rest == " The U.S. T"
    # "U.S." followed by one word only: the abbreviation is undecided, nothing is final.
    done, rest = split_sentences("Seoul went to the U.S. Tr", final=False)
    assert done == [] and rest == "Seoul went to the U.S. Tr"
    done, rest = split_sentences("One is here [1]. Two is here", final=False)
    assert done == ["One is here [1]."] and rest == " Two is here"
    assert split_sentences("One is here [1]. Two is here", final=True) == (["One is here [1].", "Two is here"], "")


def test_previous_answer_sentences_do_not_cut_at_abbreviations():
    history = [
        {"role": "user", "content": "Who joins the talks?"},
        {
            "role": "assistant",
            "content": "Scott Bessent and U.S. Trade Representative Jamieson Greer will join [1]. The talks start in April.",
        },
    ]
    assert previous_answer_sentences(history) == [
        "Scott Bessent and U.S. Trade Representative Jamieson Greer will join.",
        "The talks start in April.",
    ]
