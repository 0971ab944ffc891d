from assistant import prompts
from assistant.extractive import KIND_WORDS


def test_refusal_templates_are_filled_by_their_callers():
    assert prompts.fields(prompts.load("refusal.txt")) == {"reason"}
    reasons = prompts.load_json("refusal_reasons.json")
    supplied = {"missing_names": {"names"}, "missing_kind": {"kind"}, "weak": set(), "empty_index": set()}
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
