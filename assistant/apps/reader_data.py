"""The reader's training data: labelled (question, sentence) pairs from SQuAD.

Split by article (`split_articles`): the two `squad.HELD_OUT` articles are
never seen (the figures on them are figures on new documents); about twenty
validation articles choose the model and the refusal threshold (Spectre is
one of them: its 188 real unanswerable questions calibrate refusing, and
Twilight Princess's 160 judge it); the rest train.

Kinds of pair, per question (`build_pairs`):
- "pos": the sentence holding the answer span;
- "para": other sentences of the same paragraph;
- "hard": the sentences BM25 ranks highest for the question in other
  paragraphs that do not contain the answer text;
- "swap": the question with one named entity, number or year swapped for
  another of the same type from the same article, paired with the original
  answer sentence: SQuAD 1.1 has no unanswerable questions, and this is the
  recipe SQuAD 2.0's writers followed by hand to make theirs;
- "cut": the answer sentence with the answer taken out, for the same
  question: the sentence still speaks of what is asked but no longer says
  it (an appointment without the name, a visit without the date), the trap
  of most real unanswerable questions;
- "impossible": every sentence of the paragraph of a real unanswerable
  question (SQuAD 2.0 files only).

`paraphrase_questions` rewords a share of the questions (WordNet synonyms
for the words they share with their answer sentence) before pairs are made.
"""

from __future__ import annotations

import random
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError
from assistant.evals import squad
from assistant.ingest.chunk import split_units

SEED = 13
VALIDATION = 20  # articles, besides the anchor below
# Spectre's real unanswerable questions calibrate refusing; it is validation, never training.
VALIDATION_ANCHOR = "Spectre_(2015_film)"
WORDNET = "/usr/share/wordnet"  # Debian's wordnet-base (`paraphrase`)
# WordNet 3.0's lexicographer files, in order (lexnames(5WN)); category 1-4: noun, verb, adjective, adverb.
LEXNAMES = [("adj.all", 3), ("adj.pert", 3), ("adv.all", 4)] + [(f"noun.{n}", 1) for n in (
    "Tops act animal artifact attribute body cognition communication event feeling food group location motive "
    "object person phenomenon plant possession process quantity relation shape state substance time").split()] + [
    (f"verb.{n}", 2) for n in ("body change cognition communication competition consumption contact creation "
                               "emotion motion perception possession social stative weather").split()] + [("adj.ppl", 3)]  # fmt: skip


@dataclass
class Pair:
    qid: str
    question: str
    sentence: str
    label: float
    kind: str  # "pos", "para", "hard", "swap", "impossible"


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def article_sentences(article: squad.Article) -> list[tuple[int, int, str]]:
    """(start, end, text) of the article's sentence units, split as the index splits them."""
    return [(u.start, u.end, " ".join(u.text.split())) for u in split_units(article.text, 96) if not u.heading]


def split_articles(
    articles: list[squad.Article], validation: int = VALIDATION, seed: int = SEED
) -> tuple[list[squad.Article], list[squad.Article], list[squad.Article]]:
    """(train, validation, held-out) by article title, fixed by the seed."""
    held = [a for a in articles if a.title in squad.HELD_OUT]
    rest = sorted((a for a in articles if a.title not in squad.HELD_OUT), key=lambda a: a.title)
    rng = random.Random(seed)
    pool = [a for a in rest if a.title != VALIDATION_ANCHOR]
    chosen = {a.title for a in rng.sample(pool, min(validation, len(pool)))} | {VALIDATION_ANCHOR}
    train = [a for a in rest if a.title not in chosen]
    val = [a for a in rest if a.title in chosen]
    return train, val, held


# Candidate mentions to swap: years, other numbers, and runs of capitalised
# words not opening the question. Used only to make training negatives, never
# at answer time.
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'-]*)*")


def mentions(text: str, sentences: list[str] | None = None) -> dict[str, set[str]]:
    """Years, numbers and capitalised names of `text`, by type. A name is a
    capitalised run not opening a sentence; one word whose lower-case form the
    text also uses ("The", "In") is not a name."""
    years = set(_YEAR.findall(text))
    numbers = {m for m in _NUMBER.findall(text) if m not in years}
    lower = set(re.findall(r"\b[a-z][\w'-]*", text))
    names = set()
    for s in sentences if sentences is not None else [text]:
        for m in _NAME.finditer(s):
            name = m.group(0)
            if m.start() == 0 or len(name) < 3 or (" " not in name and name.lower() in lower):
                continue
            names.add(name)
    return {"year": years, "number": numbers, "name": names}


def swap(question: str, sentence: str, pool: dict[str, list[str]], rng: random.Random) -> str | None:
    """`question` with one mention that `sentence` also holds replaced by
    another of its type from the article that `sentence` does not hold; None
    when there is no such mention."""
    found = mentions(question, [question])
    options = []
    for kind, ms in found.items():
        for m in ms:
            if m in sentence:
                subs = [x for x in pool.get(kind, []) if x != m and x not in sentence and x not in question]
                if subs:
                    options.append((m, subs))
    if not options:
        return None
    m, subs = rng.choice(sorted(options))
    new = rng.choice(subs)
    return re.sub(rf"(?<!\w){re.escape(m)}(?!\w)", new, question, count=1)


def cut_answer(sentence: str, answers: list[str]) -> str | None:
    """`sentence` without the first of `answers` it holds (and a short word
    such as "in" or "by" just before it), or None when it holds none or the
    answer is most of it."""
    for a in answers:
        a = a.strip()
        i = sentence.find(a) if a else -1
        if i < 0 or len(a) > 0.5 * len(sentence):
            continue
        head = re.sub(r"(?:^|\s)[a-z]{1,3}\s*$", " ", sentence[:i])
        out = re.sub(r"\s+([,.;:!?)])", r"\1", f"{head} {sentence[i + len(a) :]}")
        out = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", " ".join(out.split())).strip(" ,;:")
        return out if len(out.split()) >= 4 else None
    return None


def build_pairs(
    articles: list[squad.Article],
    para_neg: int = 2,
    hard_neg: int = 2,
    swap_rate: float = 0.5,
    seed: int = SEED,
    log=lambda _m: None,
    cut_rate: float = 0.0,
) -> list[Pair]:
    """Labelled pairs of the articles' questions (see the module doc)."""
    import bm25s
    import Stemmer

    rng = random.Random(seed)
    sents: list[tuple[int, int, int, str]] = []  # (article, start, end, text)
    pools: list[dict[str, list[str]]] = []
    for ai, a in enumerate(articles):
        own = article_sentences(a)
        sents += [(ai, s, e, t) for s, e, t in own]
        found = mentions(a.text, [t for *_, t in own])
        pools.append({k: sorted(v) for k, v in found.items()})
    log(f"sentences: {len(sents)} of {len(articles)} articles")
    stemmer = Stemmer.Stemmer("english")
    bm = bm25s.BM25()
    bm.index(
        bm25s.tokenize([t for *_, t in sents], stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    by_article: dict[int, list[int]] = {}
    for i, (ai, *_rest) in enumerate(sents):
        by_article.setdefault(ai, []).append(i)

    questions = [(ai, q) for ai, a in enumerate(articles) for q in a.questions]
    qtoks = bm25s.tokenize([q.question for _, q in questions], stopwords="en", stemmer=stemmer, show_progress=False)
    hits, _ = bm.retrieve(qtoks, k=min(12, len(sents)), show_progress=False, n_threads=2)
    log(f"questions: {len(questions)}; BM25 negatives found")
    pairs: list[Pair] = []
    for (ai, q), found in zip(questions, hits):
        ps, pe = q.paragraph
        para = [i for i in by_article[ai] if ps <= sents[i][1] < pe]
        pos = {i for i in para for s, _e in q.spans if sents[i][1] <= s < sents[i][2]} if q.answerable else set()
        answers = [norm(x) for x in q.answers if norm(x)]
        for i in sorted(pos):
            pairs.append(Pair(q.id, q.question, sents[i][3], 1.0, "pos"))
        others = [i for i in para if i not in pos]
        rng.shuffle(others)
        kind = "para" if q.answerable else "impossible"
        for i in others[: para_neg if q.answerable else para_neg + 2]:
            pairs.append(Pair(q.id, q.question, sents[i][3], 0.0, kind))
        n = 0
        for i in found:
            i = int(i)
            if n >= hard_neg:
                break
            if sents[i][0] == ai and ps <= sents[i][1] < pe:
                continue
            # Another paragraph may say the answer too: not a negative.
            if any(x in norm(sents[i][3]) for x in answers):
                continue
            pairs.append(Pair(q.id, q.question, sents[i][3], 0.0, "hard"))
            n += 1
        if len(pos) == 1 and cut_rate and rng.random() < cut_rate:
            cut = cut_answer(sents[min(pos)][3], q.answers)
            if cut:
                pairs.append(Pair(q.id, q.question, cut, 0.0, "cut"))
        if pos and rng.random() < swap_rate:
            sentence = sents[min(pos)][3]
            changed = swap(q.question, sentence, pools[ai], rng)
            if changed:
                pairs.append(Pair(q.id + "-swap", changed, sentence, 0.0, "swap"))
    return pairs


def kinds(pairs: list[Pair]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in pairs:
        out[p.kind] = out.get(p.kind, 0) + 1
    return out


def compound_questions(articles: list[squad.Article], n: int, seed: int = SEED) -> list[squad.Article]:
    """Copies of `articles` whose questions are `n` two-part questions: two
    questions of one paragraph whose answers lie in different sentences,
    asked as one ("What ..., and when ...?" or "What ...? When ...?"). Both
    answer sentences are positives (their spans are the question's), so the
    reader learns to score each part's sentence high and the answerer quotes
    both (issue 22: a many-part question gets a sentence per part)."""
    from dataclasses import replace

    rng = random.Random(seed)
    made: dict[int, list[squad.Question]] = {}
    options = []
    for ai, a in enumerate(articles):
        starts = [s for s, _e, _t in article_sentences(a)]
        lower = set(re.findall(r"\b[a-z][\w'-]*", a.text))
        # per paragraph: (start of the answer's sentence, question)
        by_para: dict[tuple[int, int], list[tuple[int, squad.Question]]] = {}
        for q in a.questions:
            if q.answerable and q.spans:
                sent = max((s for s in starts if s <= q.spans[0][0]), default=0)
                by_para.setdefault(q.paragraph, []).append((sent, q))
        for qs in by_para.values():
            for i, (s1, q1) in enumerate(qs):
                options += [(ai, q1, q2, lower) for s2, q2 in qs[i + 1 :] if s1 != s2]
    for ai, q1, q2, lower in rng.sample(options, min(n, len(options))):
        first, _, rest = q2.question.strip().partition(" ")
        if rng.random() < 0.5 and first.lower() in lower:  # a common word, not a name: "When", "Who"
            text = f"{q1.question.strip().rstrip('?').rstrip()}, and {first.lower()} {rest}"
        else:
            text = f"{q1.question.strip()} {q2.question.strip()}"
        made.setdefault(ai, []).append(
            replace(
                q1, id=f"{q1.id}+{q2.id}", question=text, answers=q1.answers + q2.answers, spans=q1.spans + q2.spans
            )
        )
    return [replace(a, questions=made[ai]) for ai, a in enumerate(articles) if ai in made]


def load_wordnet(root: str | Path = WORDNET):
    """WordNet 3.0 as nltk reads it, from the dictionary files of Debian's
    `wordnet-base` (a training-time need only: nltk ships no data, and its
    downloader goes to the network). That package leaves out `lexnames`,
    which nltk opens: a copy of the folder with the standard list is made in
    the temporary folder (a copy, as nltk refuses links out of its root)."""
    import shutil

    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = Path(root)
    if not (root / "data.noun").is_file():
        raise AssistantError(f"no WordNet dictionary in {root}: apt-get install wordnet-base")
    here = Path(tempfile.gettempdir()) / "assistant-wordnet"
    here.mkdir(exist_ok=True)
    for f in root.iterdir():
        if f.is_file() and not (here / f.name).exists():
            shutil.copy(f, here / f.name)
    if not (here / "lexnames").exists():
        (here / "lexnames").write_text("".join(f"{i:02d}\t{n}\t{c}\n" for i, (n, c) in enumerate(LEXNAMES)))
    nltk.data.path.insert(0, str(here.parent))  # nltk reads only below its data paths

    class WordNet30(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None  # these files are WordNet 3.0 itself: nothing to map onto nltk's `wordnet` corpus

    return WordNet30(str(here), None)


def synonym(word: str, wn) -> str | None:
    """Another word for `word` in one of its two most frequent senses
    (WordNet's first synsets), nouns and verbs only, or None. Only words in
    their base form, so the other word reads in its place ("director" ->
    "manager", not "directors" -> "manager")."""
    if wn.morphy(word) != word:
        return None
    for synset in [s for s in wn.synsets(word)[:2] if s.pos() in "nv"]:
        for lemma in synset.lemmas():
            name = lemma.name().replace("_", " ")
            if name.lower() != word and name.islower() and word[:4] not in name:
                return name
    return None


def paraphrase(question: str, sentence: str, answers: list[str], wn, most: int = 2) -> str | None:
    """The question with up to `most` words it shares with its answer
    sentence (lower case, not a name or number, not part of the answer)
    replaced by a synonym; None when none has one. News questions are worded away from
    their sentences and SQuAD's were written beside them: these teach the
    reader to find a sentence that says what is asked in other words."""
    said = {wn.morphy(w) or w for w in re.findall(r"[a-z]+", sentence)}
    answer_words = set(re.findall(r"[a-z]+", " ".join(answers).lower()))
    out, changed = [], 0
    for token in re.findall(r"[A-Za-z]+|[^A-Za-z]+", question):
        if changed < most and token.islower() and len(token) > 3 and token in said and token not in answer_words:
            if other := synonym(token, wn):
                token, changed = other, changed + 1
        out.append(token)
    return "".join(out) if changed else None


def paraphrase_questions(articles: list[squad.Article], rate: float, wn, seed: int = SEED) -> int:
    """Reword a share `rate` of the articles' answerable questions in place
    (`paraphrase`); returns how many were reworded."""
    rng = random.Random(seed)
    done = 0
    for a in articles:
        sentences = article_sentences(a)
        for q in a.questions:
            if not (q.answerable and q.spans) or rng.random() >= rate:
                continue
            s, e = q.spans[0]
            sentence = next((t for st, en, t in sentences if st <= s and e <= en), None)
            if sentence and (new := paraphrase(q.question, sentence, q.answers, wn)):
                q.question, done = new, done + 1
    return done
