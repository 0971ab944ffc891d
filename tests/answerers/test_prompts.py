from assistant import prompts
from assistant.answerers.extractive import KIND_WORDS


def test_refusal_templates_are_filled_by_their_callers():
    assert prompts.fields(prompts.load("refusal.txt")) == {"reason"}
    reasons = prompts.load_json("refusal_reasons.json")
    supplied = {
        "missing_names": {"names"},
        "missing_kind": {"kind"},
        "weak": set(),
        "empty_index": set(),
        "llm_refused": set(),
        "llm_unsupported": {"detail"},
    }
    assert set(reasons) == set(supplied)
    for key, template in reasons.items():
        assert prompts.fields(template) == supplied[key], key
        values = {f: "x" for f in supplied[key]}
        assert "{" not in prompts.render(template, **values)
    assert set(KIND_WORDS) == {"number", "date", "person", "place"}


def test_render_refuses_missing_placeholders():
    import pytest

    with pytest.raises(KeyError):
        prompts.render("Hello {name}")


def test_llm_prompts_use_exactly_the_placeholders_the_code_fills():
    # what generate.py / condense_llm pass to render()
    assert prompts.fields(prompts.load("system.txt")) == {"max_sentences"}
    assert prompts.fields(prompts.load("answer.txt")) == {"passages", "question"}
    assert prompts.fields(prompts.load("passage.txt")) == {"n", "source", "title", "text"}
    assert prompts.fields(prompts.load("condense.txt")) == {"history", "question"}


def test_built_messages_have_no_unfilled_placeholders():
    from assistant.answerers.generative import build_messages
    from assistant.types import Passage

    p = Passage(n=1, id="a", source="a.txt", title="Title", text="Some {curly} text.", start=0, end=5, score=1.0)
    msgs = build_messages("What {is} this?", [p], 3)
    assert "{max_sentences}" not in msgs[0]["content"] and "3 short sentences" in msgs[0]["content"]
    assert "{passages}" not in msgs[1]["content"] and "Some {curly} text." in msgs[1]["content"]
