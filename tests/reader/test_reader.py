"""The trained reader: its shipped files, its training data, its calibration,
and that it judges sentences (on text that is not in the seeds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.apps import reader_calibrate, reader_data
from assistant.apps import train_reader as reader_train
from assistant.evals import squad
from assistant.reader.model import READER_DIR, Reader, get_reader

ROOT = Path(__file__).resolve().parents[2]


def test_the_model_ships_in_the_package_with_its_card():
    model = READER_DIR / "reader.onnx"
    assert model.is_file() and model.stat().st_size <= 25 * 1024 * 1024
    card = json.loads((READER_DIR / "card.json").read_text())
    # the card names the data the model was trained on, and it is the project's copy
    assert card["data_sha256"] == squad.file_hash(ROOT / "evals/squad/squad1.1-train.json.gz")
    split = card["split"]
    assert split["held_out_articles"] == list(squad.HELD_OUT)
    assert not set(split["validation_articles"]) & set(squad.HELD_OUT)
    assert split["train_articles"] + len(split["validation_articles"]) + 2 == 442
    # the learning curve and the threshold's curve are on record
    # (of the whole-set run a fine-tune goes on from, when it is one)
    curve = card.get("fine_tuned_from", card)["figures"]["learning_curve"]
    assert [p["questions_seen"] for p in curve][:2] == [5000, 20000]
    assert card["calibration"]["curve_on_validation"]
    assert 0.0 < card["threshold"] < 1.0
    assert card["command"].startswith("assistant train-reader")
    assert card["figures"]["held_out_ranking"]["top1"] > 0.5


def test_the_reader_prefers_the_sentence_that_answers():
    reader = get_reader()
    q = "In what year did the observatory open to the public?"
    sentences = [
        "The observatory opened to the public in 1931, after six years of building.",
        "The observatory stands on a hill above the city and is reached by a winding road.",
        "Its telescope was made in Germany.",
    ]
    p = reader.score(q, sentences)
    assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))
    assert p[0] == p.max() and p[0] > 0.5
    who = reader.score(
        "Who designed the bridge?",
        ["The bridge was designed by the engineer Maria Lopez in 1962.", "The bridge is 400 metres long."],
    )
    assert who[0] > who[1]


def test_the_shipped_combination_weighs_the_reader_with_cosine_and_overlap():
    reader = get_reader()
    w = reader.card["combine"]
    # fitted on validation articles: each signal counts for the answer, and the
    # held-out figure it was kept for is on record beside it
    assert min(w["reader_logit"], w["cosine"], w["overlap"]) > 0
    figs = w["held_out_top1"]
    assert figs["LR reader+cos+lex"] > figs["reader alone"]
    probs = np.array([0.30, 0.30, 0.30], dtype=np.float32)
    out = reader.combine(probs, np.array([0.2, 0.6, 0.2]), np.array([0.1, 0.1, 0.8]))
    assert np.all((out > 0) & (out < 1))
    # equal reader probability: the sentence closer in meaning or in words wins
    assert out[1] > out[0] and out[2] > out[0]
    z = w["bias"] + w["cosine"] * 0.2 + w["overlap"] * 0.1 + w["reader_logit"] * np.log(0.3 / 0.7)
    assert out[0] == pytest.approx(1 / (1 + np.exp(-z)), rel=1e-5)


def test_a_question_nothing_answers_gets_low_probabilities():
    reader = get_reader()
    p = reader.score(
        "What is the population of the moon colony?",
        ["The observatory opened to the public in 1931.", "Its telescope was made in Germany."],
    )
    assert p.max() < 0.2


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    from assistant.errors import AssistantError

    with pytest.raises(AssistantError, match="reader model is missing"):
        Reader(tmp_path / "none.onnx")


def _tiny_squad(path: Path) -> Path:
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "Lighthouse_of_Tor",
                "paragraphs": [
                    {
                        "context": "The lighthouse of Tor was built in 1820. It was painted red in 1901. "
                        "Its keeper lived on the island.",
                        "qas": [
                            {
                                "id": "a1",
                                "question": "When was the lighthouse painted red?",
                                "answers": [{"text": "1901", "answer_start": 63}],
                                "is_impossible": False,
                            },
                            {
                                "id": "a2",
                                "question": "Who painted the lighthouse blue?",
                                "answers": [],
                                "plausible_answers": [{"text": "keeper", "answer_start": 73}],
                                "is_impossible": True,
                            },
                        ],
                    }
                ],
            },
            {
                "title": "Solar_energy",
                "paragraphs": [
                    {
                        "context": "Solar panels turn light into power. They were first sold in 1954.",
                        "qas": [
                            {
                                "id": "b1",
                                "question": "When were solar panels first sold?",
                                "answers": [{"text": "1954", "answer_start": 60}],
                                "is_impossible": False,
                            }
                        ],
                    }
                ],
            },
        ],
    }
    path.write_text(json.dumps(data))
    return path


def test_training_pairs_label_the_sentence_that_holds_the_answer(tmp_path):
    articles = squad.load(_tiny_squad(tmp_path / "tiny.json"))
    a = articles[0]
    q = a.questions[0]
    s, e = q.spans[0]
    assert a.text[s:e] == "1901"  # offsets moved into the corpus file's text
    train, held = squad.split(articles)
    assert [x.title for x in held] == ["Solar_energy"] and [x.title for x in train] == ["Lighthouse_of_Tor"]
    pairs = reader_data.build_pairs(train)
    pos = [p for p in pairs if p.label == 1.0]
    assert [p.sentence for p in pos] == ["It was painted red in 1901."]
    impossible = [p for p in pairs if p.qid == "a2"]
    assert impossible and all(p.label == 0.0 for p in impossible)
    assert {p.kind for p in pairs if p.qid == "a1" and p.label == 0.0} == {"para"}


def test_a_malformed_squad_file_is_a_one_line_error(tmp_path):
    from assistant.errors import GoldFileError

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(GoldFileError, match="not a SQuAD-format JSON file"):
        squad.load(bad)


def test_the_threshold_curve_and_its_choice():
    records = (
        [{"answerable": True, "best": 0.9, "right": True}] * 8
        + [{"answerable": True, "best": 0.3, "right": False}] * 2
        + [{"answerable": False, "best": 0.2, "right": False}] * 5
    )
    rows = reader_calibrate.curve(records, grid=11)
    at = {r["threshold"]: r for r in rows}
    assert at[0.0]["answer_rate"] == 1.0 and at[0.0]["unanswerable_refused"] == 0.0
    assert at[0.5]["false_refusals"] == 0.2 and at[0.5]["unanswerable_refused"] == 1.0
    # within 10 % false refusals, the best balance refuses the unanswerable ones and keeps the rest
    assert reader_calibrate.choose_threshold(rows) == 0.3


def test_nothing_at_run_time_imports_the_training_libraries(seeds_settings):
    code = (
        "import sys\n"
        "from assistant import answer\n"
        f"a = answer('How much is Seoul expected to invest in the US?', corpus={str(seeds_settings.corpus)!r}, "
        f"index_dir={str(seeds_settings.index_dir)!r}, backend='offline')\n"
        "assert a.citations, a\n"
        "print(sorted(m for m in ('torch', 'transformers', 'onnx', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_calibration_records_come_from_the_real_pipeline(tmp_path):
    path = _tiny_squad(tmp_path / "tiny.json")
    questions = [q for a in squad.load(path) for q in a.questions]
    records = reader_calibrate.pipeline_records(path, questions, tmp_path / "work", log=lambda s: None)
    assert [r["id"] for r in records] == ["a1", "a2", "b1"]
    assert all(0.0 <= r["best"] <= 1.0 for r in records)
    assert not records[1]["answerable"] and not records[1]["right"]
    # the answerable ones are answered from the right file (threshold 0: nothing refused for weakness)
    assert records[0]["best"] > 0 and records[2]["best"] > 0


def test_rerank_puts_the_passage_that_answers_first_and_keeps_units_with_their_passages():
    from assistant.reader.model import rerank_passages
    from assistant.retrieval.hybrid import Unit
    from assistant.types import Passage

    def passage(n):
        return Passage(n=n, id=f"p{n}", source=f"{n}.txt", title="t", text="x", start=0, end=1, score=1.0)

    def unit(n, i):
        return Unit(f"u{n}{i}", f"{n}.txt", "t", "x", 0, 1, False, i, np.zeros(3, dtype=np.float32), n)

    passages = [passage(1), passage(2), passage(3)]
    units = [unit(1, 0), unit(2, 0), unit(2, 1), unit(3, 0)]
    new, moved = rerank_passages(passages, units, np.array([0.1, 0.2, 0.9, 0.1]))
    assert [p.id for p in new] == ["p2", "p1", "p3"] and [p.n for p in new] == [1, 2, 3]
    assert [(u.id, u.passage) for u in moved] == [("u10", 2), ("u20", 1), ("u21", 1), ("u30", 3)]
    assert [p.n for p in passages] == [1, 2, 3]  # the originals are left as they were


def test_the_reader_answerer_gives_a_cited_answer_and_refuses_what_is_not_there(seeds_settings):
    from assistant import answer

    s = seeds_settings.with_options(offline_answerer="reader")
    a = answer("How much is Seoul expected to invest in the US?", settings=s)
    assert not a.refused and a.citations and "350" in a.text
    assert a.debug["best_prob"] >= a.debug["threshold"]
    r = answer("What did the French president say about the Korean tariffs in Paris?", settings=s)
    assert r.refused


def test_the_split_is_by_article_and_keeps_the_held_out_and_validation_apart():
    arts = squad.load(ROOT / "evals/squad/squad1.1-train.json.gz")
    train, val, held = reader_data.split_articles(arts)
    assert [a.title for a in held] == sorted(squad.HELD_OUT, key=[a.title for a in arts].index)
    assert reader_data.VALIDATION_ANCHOR in {a.title for a in val} and len(val) == reader_data.VALIDATION + 1
    names = [{a.title for a in x} for x in (train, val, held)]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    assert sum(map(len, names)) == len(arts) == 442
    # fixed by the seed
    assert [a.title for a in reader_data.split_articles(arts)[1]] == [a.title for a in val]


def test_a_swapped_question_asks_about_something_the_sentence_does_not_say():
    import random

    sentence = "The bridge over the Tamar was opened by Queen Victoria in 1859."
    pool = {"year": ["1859", "1901"], "number": [], "name": ["Queen Victoria", "Brunel"]}
    q = reader_data.swap("When did Queen Victoria open the bridge?", sentence, pool, random.Random(1))
    assert q == "When did Brunel open the bridge?"
    q2 = reader_data.swap("What opened in 1859?", sentence, pool, random.Random(1))
    assert q2 == "What opened in 1901?"
    # nothing the sentence holds to swap: no negative
    assert reader_data.swap("Who built it?", sentence, pool, random.Random(1)) is None
    # a word the text also writes in lower case is no name ("The" at a clause start)
    assert (
        "The" not in reader_data.mentions("In 1859 The bridge opened; the river", ["In 1859 The bridge opened"])["name"]
    )


def test_training_batches_are_bucketed_by_length_and_padded_to_their_longest():
    import random

    lengths = [5, 50, 6, 51, 7, 52, 8, 53] * 8
    batches = reader_train.bucketed(lengths, 4, random.Random(0), pool=16)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert max(spread) <= 3  # short with short, long with long
    encoded = [([1] * n, [0] * n) for n in (3, 5)]
    f = reader_train.feed(encoded, [0, 1])
    assert f["input_ids"].shape == (2, 5) and f["attention_mask"][0].tolist() == [1, 1, 1, 0, 0]


def test_a_gzipped_squad_file_loads_and_a_truncated_one_is_a_one_line_error(tmp_path):
    import gzip

    from assistant.errors import GoldFileError

    plain = _tiny_squad(tmp_path / "tiny.json")
    gz = tmp_path / "tiny.json.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert [a.title for a in squad.load(gz)] == [a.title for a in squad.load(plain)]
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gz.read_bytes()[:40])
    with pytest.raises(GoldFileError, match="not a SQuAD-format JSON file"):
        squad.load(cut)


def test_a_two_part_question_has_both_answer_sentences_as_positives(tmp_path):
    ctx = "The lighthouse of Tor was built in 1820. It was painted red in 1901. Its keeper lived on the island."
    qas = [("c1", "When was the lighthouse built?", "1820"), ("c2", "When was it painted red?", "1901"),
           ("c3", "What colour was it painted?", "red")]  # fmt: skip
    data = {"data": [{"title": "Lighthouse_of_Tor", "paragraphs": [{"context": ctx, "qas": [
        {"id": i, "question": q, "answers": [{"text": a, "answer_start": ctx.index(a)}]} for i, q, a in qas
    ]}]}]}  # fmt: skip
    (tmp_path / "t.json").write_text(json.dumps(data))
    articles = squad.load(tmp_path / "t.json")
    made = reader_data.compound_questions(articles, 10)
    qs = [q for a in made for q in a.questions]
    # c2 and c3 are answered by one sentence: asking both is not two parts
    assert sorted(q.id for q in qs) == ["c1+c2", "c1+c3"]
    assert all(q.question.startswith("When was the lighthouse built") for q in qs)
    pairs = reader_data.build_pairs(made, swap_rate=0.0)
    pos = {p.sentence for p in pairs if p.qid == "c1+c2" and p.label == 1.0}
    assert pos == {"The lighthouse of Tor was built in 1820.", "It was painted red in 1901."}
    assert [p.sentence for p in pairs if p.qid == "c1+c2" and p.label == 0.0] == ["Its keeper lived on the island."]


def test_a_cut_negative_is_the_answer_sentence_without_its_answer():
    assert reader_data.cut_answer("It was painted red in 1901.", ["1901"]) == "It was painted red."
    assert reader_data.cut_answer("The appointment of Kim Min-ho as AI chief was announced.", ["Kim Min-ho"]) == (
        "The appointment as AI chief was announced."
    )
    # nothing to cut, or the answer is most of the sentence: no negative
    assert reader_data.cut_answer("It was painted red in 1901.", ["1820"]) is None
    assert reader_data.cut_answer("Painted red in 1901.", ["Painted red in 1901"]) is None


def test_cut_negatives_come_only_when_asked_for(tmp_path):
    train, _ = squad.split(squad.load(_tiny_squad(tmp_path / "tiny.json")))
    assert "cut" not in reader_data.kinds(reader_data.build_pairs(train))
    cut = [p for p in reader_data.build_pairs(train, cut_rate=1.0) if p.kind == "cut"]
    assert [(p.qid, p.sentence, p.label) for p in cut] == [("a1", "It was painted red.", 0.0)]


def test_both_first_counts_two_part_questions_whose_two_best_sentences_answer():
    P = reader_data.Pair
    pairs = [P("x", "q", "a", 1.0, "pos"), P("x", "q", "b", 1.0, "pos"), P("x", "q", "c", 0.0, "para"),
             P("y", "q", "a", 1.0, "pos"), P("y", "q", "b", 1.0, "pos"), P("y", "q", "c", 0.0, "para")]  # fmt: skip
    got = reader_train.both_first(pairs, np.array([0.9, 0.8, 0.1, 0.9, 0.2, 0.5]))
    assert got == {"questions": 2, "share": 0.5}


class _Lemma:
    def __init__(self, name):
        self._name = name

    def name(self):
        return self._name


class _Synset:
    def __init__(self, pos, *names):
        self._pos, self._lemmas = pos, [_Lemma(n) for n in names]

    def pos(self):
        return self._pos

    def lemmas(self):
        return self._lemmas


class _WordNet:
    """The two calls `paraphrase` makes of nltk's WordNet reader, on a hand-made lexicon."""

    base = {"directors": "director", "opened": "open"}
    senses = {
        "director": [_Synset("n", "director", "manager")],
        "open": [_Synset("v", "open", "unfold")],
        "public": [_Synset("n", "populace", "public")],
        "first": [_Synset("a", "first", "initial")],
    }

    def morphy(self, word):
        return self.base.get(word, word)

    def synsets(self, word):
        return self.senses.get(word, [])


def test_a_paraphrased_question_rewords_what_it_shares_with_its_sentence():
    wn = _WordNet()
    sentence = "The first director of the museum opened it to the public in 1931."
    # shared words in their base form get a noun or verb synonym; "first" is an adjective
    q = reader_data.paraphrase("Who was the first director to open it to the public?", sentence, ["1931"], wn, most=3)
    assert q == "Who was the first manager to unfold it to the populace?"
    # at most `most` words (2 unless asked); a word of the answer stays; inflected words stay ("directors")
    assert reader_data.paraphrase("When did directors open the public hall?", sentence, ["1931"], wn, most=1) == (
        "When did directors unfold the public hall?"
    )
    assert reader_data.paraphrase("Who was the director?", "Its director was Elena Wirth.", ["director"], wn) is None
    # nothing shared: nothing to reword
    assert reader_data.paraphrase("Where is the hall?", sentence, ["1931"], wn) is None


def test_paraphrasing_without_the_wordnet_files_is_a_one_line_error(tmp_path):
    from assistant.errors import AssistantError

    with pytest.raises(AssistantError, match="no WordNet dictionary in .*wordnet-base"):
        reader_data.load_wordnet(tmp_path)
