"""The gold set is sound (the quality gate on it is in test_eval.py)."""

from collections import Counter

from assistant.evals.gold import load_gold

from conftest import ROOT, SEEDS

GOLD = load_gold(ROOT / "evals" / "gold.jsonl")
TYPES = {"fact", "paraphrase", "numeric", "multi-document", "unanswerable", "follow-up", "adversarial"}


def test_gold_items_are_well_formed():
    assert len({g["id"] for g in GOLD}) == len(GOLD) >= 15
    assert {g["type"] for g in GOLD} == TYPES
    for g in GOLD:
        assert g["question"].strip()
        if g["must_include"]:
            assert g["sources"] and g["evidence"], g["id"]
        else:
            assert not g["evidence"] and not g["sources"], g["id"]
        if g["type"] == "follow-up":
            assert g["history"] and g["history"][0]["role"] == "user"


def test_evidence_is_verbatim_and_holds_the_key_facts():
    for g in GOLD:
        quotes = ""
        for e in g["evidence"]:
            text = (SEEDS / e["source"]).read_text(encoding="utf-8")
            assert e["quote"] in text, (g["id"], e["quote"][:60])
            assert e["source"] in g["sources"]
            quotes += e["quote"].lower()
        for alts in g["must_include"]:
            assert any(a.lower() in quotes for a in alts), (g["id"], alts)


def test_every_seed_file_is_covered():
    covered = Counter(s for g in GOLD for s in g["sources"])
    assert set(covered) == {p.name for p in SEEDS.glob("*.txt")}
