"""Large files are indexed in segments (`ingest.Segments`): citations still
point at the exact span of the whole file, progress inside the file is
committed, an interrupted build continues the file where it stopped, and a
file that changed meanwhile starts over. The segment size is made small here
(2 KB) so that a ~20 KB file has ~10 segments."""

import json
import random
import re

import pytest

from assistant import Settings, answer, build_index
from assistant.api import reset_engines
from assistant.apps.cli import main
from assistant.embedders import get_embedder
from assistant.ingest import files as ingest
from assistant.ingest.files import Segments, open_file
from assistant.stores import IndexStore, manifest_from_store, signature, sync

SEGMENT = 2048
BIG = "big.txt"
FACT = "The zebra orchestra of Tallinn has exactly 47 violinists."
MARKER = "The heron count at Oldmere was first taken in spring."

PLACES = ["Arbor", "Bexley", "Caldra", "Dunmore", "Elsworth", "Fenwick", "Galloway", "Harrow", "Ilford", "Jarrow"]
NOUNS = ["mill", "bridge", "harbour", "school", "market", "library", "chapel", "granary", "tannery", "forge"]
THINGS = ["sheep", "barrels", "looms", "wagons", "apprentices", "lanterns", "ledgers", "boats", "hives", "kilns"]


def prose(n_chars: int, seed: int = 7) -> str:
    """Clean generated prose (cleaning leaves it as it is), with characters
    of two and three bytes so that byte and character offsets differ; FACT is
    in the third paragraph from the end, MARKER in the first."""
    rnd = random.Random(seed)
    paras, i = ["Annals of the Northern Valleys", MARKER], 0
    while sum(len(p) + 2 for p in paras) < n_chars:
        sents = []
        for _ in range(rnd.randint(3, 6)):
            i += 1
            sents.append(
                f"In {1700 + i} the {rnd.choice(NOUNS)} of {rnd.choice(PLACES)}{i} recorded "
                f"{rnd.randint(2, 900)} {rnd.choice(THINGS)}, and the café owner’s ledger — entry {i} — noted it."
            )
        paras.append(" ".join(sents))
    paras.insert(-2, FACT)
    return "\n\n".join(paras) + "\n"


class Counting:
    """The real embedder, counting the texts it is asked to embed (no model
    process: everything runs in this one)."""

    def __init__(self, settings):
        self.inner = get_embedder(settings)
        self.id, self.dim = self.inner.id, self.inner.dim
        self.texts = 0

    def embed(self, texts):
        self.texts += len(texts)
        return self.inner.embed(texts)

    def worker(self):
        return None


class Stop(BaseException):
    """As KeyboardInterrupt: the build is stopped from outside."""


def stop_at(segment: int):
    def progress(e):
        if e.event == "segment" and e.label.startswith(f"{BIG} (segment {segment}/"):
            raise Stop(e.label)

    return progress


@pytest.fixture(autouse=True)
def small_segments(monkeypatch):
    monkeypatch.setattr(ingest, "SEGMENT_CHARS", SEGMENT)
    reset_engines()


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a_note.txt").write_text("Harbor Notes\n\nThe quokka summit in Busan ended with 42 ferries.\n", "utf-8")
    (d / "b_note.md").write_text("# Mill report\n\nThe Oldmere mill ground 310 sacks of rye in May.\n", "utf-8")
    (d / BIG).write_bytes(b"\xef\xbb\xbf" + prose(20_000).encode())  # with a BOM
    return d


def original(path) -> str:
    return open(path, encoding="utf-8-sig", newline="").read()


def manifest(settings) -> dict:
    return json.loads((settings.index_dir / "manifest.json").read_text())


def contents(settings) -> dict:
    store = IndexStore(settings.index, settings.chroma, get_embedder(settings).id)
    chunks = store.chunks.get(include=["metadatas", "documents"])
    units = store.units.get(include=["metadatas"])
    return {
        "chunks": dict(zip(chunks["ids"], zip(chunks["documents"], chunks["metadatas"]))),
        "units": {uid: m["source"] for uid, m in zip(units["ids"], units["metadatas"])},
        "bm25": set(store.load_bm25()[1]) if (settings.index_dir / "bm25").is_dir() else set(),
    }


def clean_build(corpus, tmp_path, name="clean") -> dict:
    s = Settings(corpus=corpus, index_dir=tmp_path / name)
    build_index(settings=s)
    return contents(s)


def test_segments_cut_at_paragraphs_and_index_the_whole_text(corpus):
    fh, st = open_file(corpus / BIG, corpus.resolve())
    with fh:
        segs = Segments(fh, st, SEGMENT)
        whole = original(corpus / BIG)
        assert 8 <= len(segs.segments) <= 14
        assert segs.sha256 == ingest.file_digest((corpus / BIG).read_bytes())
        assert "".join(segs.text(k) for k in range(len(segs.segments))) == whole
        for seg in segs.segments:
            assert whole[seg.char_start : seg.char_end] == segs.text(seg.index)
            assert seg.char_end - seg.char_start <= SEGMENT
            if seg.index < len(segs.segments) - 1:
                assert whole[: seg.char_end].endswith("\n\n")  # at a paragraph break
    # Windows line ends, a long line, and a run with no space at all (cut at the limit).
    odd = corpus / "odd.txt"
    odd.write_bytes(("Ünïcode line\r\n\r\n" * 150 + "wörd " * 900 + "ß" * 5000).encode())
    fh, st = open_file(odd, corpus.resolve())
    with fh:
        segs = Segments(fh, st, SEGMENT)
        whole = original(odd)
        assert "".join(segs.text(k) for k in range(len(segs.segments))) == whole
        assert all(whole[g.char_start : g.char_end] == segs.text(g.index) for g in segs.segments)
        assert segs.text(0).endswith("\r\n\r\n") and any(segs.text(g.index) == "ß" * SEGMENT for g in segs.segments)
    bad = corpus / "bad.txt"
    bad.write_bytes(b"x" * 5000 + "é".encode()[:1] + b"y" * 5000)
    fh, st = open_file(bad, corpus.resolve())
    with fh, pytest.raises(ValueError, match="not UTF-8 text \\(byte 5000"):
        Segments(fh, st, SEGMENT)


def test_a_large_file_is_indexed_in_segments_and_cited_exactly(corpus, tmp_path, capsys):
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    assert main(["index", "--corpus", str(corpus), "--index-dir", str(s.index_dir)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("3 added")
    shown = re.findall(r"^big\.txt — file 3 of 3, segment (\d+) of (\d+) · ", err, re.M)  # progress inside the file
    count = int(shown[0][1])
    assert count >= 8 and [int(k) for k, _ in shown] == list(range(1, count + 1))
    m = manifest(s)
    assert m["complete"] and not m["partial"] and m["files"][BIG]["title"] == "Annals of the Northern Valleys"

    whole = original(corpus / BIG)
    got = contents(s)
    big = [(doc, meta) for doc, meta in got["chunks"].values() if meta["source"] == BIG]
    assert len(big) == m["files"][BIG]["chunks"] and {meta["segments"] for _, meta in big} == {count}
    assert sorted(meta["chunk"] for _, meta in big) == list(range(len(big)))  # numbered across segments
    units = set()
    for doc, meta in big:
        assert whole[meta["start"] : meta["end"]] == doc  # offsets into the whole file
        for index, rs, re_, start, end, _ in json.loads(meta["units"]):
            assert whole[start:end] == doc[rs:re_]
            units.add(index)
    assert units == set(range(m["files"][BIG]["units"]))
    assert sum(src == BIG for src in got["units"].values()) == len(units)
    assert got["bm25"] == set(got["chunks"])

    a = answer("How many violinists does the zebra orchestra of Tallinn have?", settings=s)
    assert not a.refused and "47" in a.text
    c = a.citations[0]
    assert c.source == BIG and FACT in whole[c.start : c.end]
    assert whole.index(FACT) > len(whole) * 0.8  # near the end: in one of the last segments

    assert not build_index(settings=s).changed  # unchanged: skipped by its sha256


def test_an_interrupted_build_commits_progress_and_resumes_inside_the_file(corpus, tmp_path):
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    with pytest.raises(Stop):
        # Groups of ~40 sentences: the small files share the first group with
        # the big file's first segments.
        sync(s, Counting(s), group_units=40, progress=stop_at(7))
    m = manifest(s)
    assert m["complete"] is False
    assert sorted(m["files"]) == ["a_note.txt", "b_note.md"]  # the small files are committed
    done = m["partial"][BIG]
    assert 2 <= done["segments_done"] < done["segments"] and done["units"] > 0

    # As if killed (-9) after its last segments were stored but before they
    # were committed: the manifest says the first segment only.
    first = [meta for _, meta in contents(s)["chunks"].values() if meta["source"] == BIG and meta["segment"] == 0][0]
    committed = {"segments_done": 1, "chunks": first["chunks_through"], "units": first["units_through"]}
    m["partial"][BIG] |= committed
    (s.index_dir / "manifest.json").write_text(json.dumps(m))

    again = Counting(s)
    report = sync(s, again)
    assert report.unchanged == ["a_note.txt", "b_note.md"] and report.added == [BIG]
    final = manifest(s)
    assert final["complete"] and not final["partial"]
    assert again.texts == final["files"][BIG]["units"] - committed["units"]  # only the rest was embedded

    resumed, clean = contents(s), clean_build(corpus, tmp_path)
    assert set(resumed["chunks"]) == set(clean["chunks"]) == resumed["bm25"]
    assert resumed["units"] == clean["units"]
    a = answer("How many violinists does the zebra orchestra of Tallinn have?", settings=s)
    assert "47" in a.text and a.citations[0].source == BIG


def test_a_file_changed_while_partial_starts_over(corpus, tmp_path):
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    with pytest.raises(Stop):
        sync(s, Counting(s), group_units=1, progress=stop_at(5))
    assert manifest(s)["partial"][BIG]["segments_done"] >= 1
    text = original(corpus / BIG).replace(MARKER, "The crane count at Newmere was first taken in autumn.")
    (corpus / BIG).write_text(text, encoding="utf-8")

    again = Counting(s)
    report = sync(s, again)
    assert report.added == [BIG]
    assert again.texts == manifest(s)["files"][BIG]["units"]  # all of it, from the start
    got, clean = contents(s), clean_build(corpus, tmp_path)
    assert set(got["chunks"]) == set(clean["chunks"]) and got["units"] == clean["units"]
    assert not any(MARKER in doc for doc, _ in got["chunks"].values())


def test_a_file_removed_while_partial_leaves_the_store(corpus, tmp_path):
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    with pytest.raises(Stop):
        sync(s, Counting(s), group_units=1, progress=stop_at(4))
    assert BIG in manifest(s)["partial"]
    (corpus / BIG).unlink()
    report = build_index(settings=s)
    assert report.removed == [BIG]
    got = contents(s)
    assert BIG not in {m["source"] for _, m in got["chunks"].values()} | set(got["units"].values())
    assert not manifest(s)["partial"]


def test_a_file_changed_while_being_read_is_left_for_the_next_build(corpus, tmp_path):
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")

    def edit(e):
        if e.event == "segment" and e.label.startswith(f"{BIG} (segment 4/"):
            with open(corpus / BIG, "a", encoding="utf-8") as fh:
                fh.write("\nA late addition.\n")

    report = sync(s, Counting(s), group_units=1, progress=edit)
    assert any(BIG in w and "changed while being indexed" in w for w in report.warnings)
    m = manifest(s)
    assert m["complete"] and BIG not in m["files"] and not m["partial"]
    assert BIG not in {meta["source"] for _, meta in contents(s)["chunks"].values()}
    assert build_index(settings=s).added == [BIG]


def test_the_manifest_derived_from_the_store_counts_segments(corpus, tmp_path):
    """Server mode derives the manifest from the chunks: a large file is whole
    only with all its segments; with one missing, the segments before it are
    its partial entry and the next build continues from there."""
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    build_index(settings=s)
    embedder = get_embedder(s)
    store = IndexStore(s.index, s.chroma, embedder.id)
    sig = signature(s.index, s.chroma, embedder.id)
    assert manifest_from_store(store, sig)["files"] == {
        k: {f: v[f] for f in ("sha256", "title", "chunks", "units")} for k, v in manifest(s)["files"].items()
    }

    before = contents(s)
    big = {cid: meta for cid, (_, meta) in before["chunks"].items() if meta["source"] == BIG}
    gone = sorted({meta["segment"] for meta in big.values()})[3]
    store.chunks.delete(ids=[cid for cid, meta in big.items() if meta["segment"] == gone])
    derived = manifest_from_store(store, sig)
    assert BIG not in derived["files"] and len(derived["files"]) == 2
    assert derived["partial"][BIG]["segments_done"] == gone

    (s.index_dir / "manifest.json").write_text(json.dumps(derived))
    again = Counting(s)
    report = sync(s, again)
    assert report.added == [BIG] and len(report.unchanged) == 2
    assert again.texts == manifest(s)["files"][BIG]["units"] - derived["partial"][BIG]["units"]
    after = contents(s)
    assert set(after["chunks"]) == set(before["chunks"]) and after["units"] == before["units"]
