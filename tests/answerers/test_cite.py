import numpy as np
import pytest

from assistant.answerers.cite import check_support, cited_sentences, markers, strip_markers
from assistant.embedders.local import LocalEmbedder


def test_marker_forms():
    assert markers("a [1] b [2, 3] c [4][5]") == [1, 2, 3, 4, 5]
    assert strip_markers("Seoul invests $350 billion [1].") == "Seoul invests $350 billion."
    assert cited_sentences("One [1]. Two. [2] Three [3][4]. The U.S. Trade Representative spoke [5].") == [
        ("One.", [1]),
        ("Two.", [2]),
        ("Three.", [3, 4]),
        ("The U.S. Trade Representative spoke.", [5]),
    ]
    assert cited_sentences("") == []


@pytest.fixture(scope="module")
def embed():
    return LocalEmbedder(threads=1).embed


def support(embed, claim, span):
    v = embed([claim, span])
    return check_support(claim, span, v[0], v[1])


def test_support_needs_the_numbers_and_names_of_the_claim(embed):
    span = "Seoul is expected to invest around US$350 billion in U.S. assets."
    assert support(embed, "Seoul will invest about $350 billion in American assets.", span).ok
    wrong_number = support(embed, "Seoul will invest about $550 billion in American assets.", span)
    assert not wrong_number.ok and "550" in wrong_number.missing
    wrong_name = support(embed, "Seoul and Tokyo will invest about $350 billion.", span)
    assert not wrong_name.ok and "tokyo" in wrong_name.missing


def test_unrelated_span_does_not_support(embed):
    s = support(
        embed, "Rice prices soared in Japan.", "Seoul is expected to invest around US$350 billion in U.S. assets."
    )
    assert not s.ok and s.semantic < 0.6
    assert isinstance(s.semantic, float) and np.isfinite(s.semantic)
