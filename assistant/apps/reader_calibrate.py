"""Calibrate the reader's refusal threshold: ask questions over a SQuAD
corpus with the threshold at 0, then choose the threshold that balances
right answers and refused unanswerable questions (false refusals kept within
a limit), and write it with the curve into the model's card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from assistant.evals import squad
from assistant.resources import PACKAGE_DIR


def pipeline_records(path: Path, questions: list[squad.Question], workdir: Path, log=print, **options) -> list[dict]:
    """Ask `questions` over the corpus of all the file's articles with the
    refusal threshold at 0: the reader's best probability and whether the
    gold span is in the answer, for calibration."""
    from assistant.api import answer, build_index
    from assistant.evals import squad_eval
    from assistant.settings import resolve_settings

    settings = resolve_settings({"index_dir": workdir, "backend": "offline"})
    articles, ss = squad_eval.prepare(path, squad_eval.check_file(path), settings, cache=workdir)
    ss = ss.with_options(offline_answerer="reader", reader_threshold=0.0, **options)
    build_index(settings=ss)
    files = {a.title: a.file for a in articles}
    out = []
    for i, q in enumerate(questions):
        a = answer(q.question, settings=ss)
        row = squad_eval.score(q, files[q.article], squad_eval.answer_record(a))
        out.append(
            {
                "id": q.id,
                "answerable": q.answerable,
                "best": float(a.debug.get("best_prob", 0.0)),
                "right": row["span_in_answer"],
            }
        )
        if (i + 1) % 100 == 0:
            log(f"asked {i + 1}/{len(questions)}")
    return out


def curve(records: list[dict], grid: int = 41) -> list[dict]:
    """Answer rate and accuracy at each threshold: of answerable questions,
    how many are answered and right, refused (false refusals); of
    unanswerable ones, how many are refused."""
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    rows = []
    for t in (round(float(x), 3) for x in np.linspace(0.0, 1.0, grid)):
        answered = [r for r in ans if r["best"] >= t]
        rows.append(
            {
                "threshold": t,
                "answer_rate": round(len(answered) / max(1, len(ans)), 4),
                "right_of_answered": round(sum(r["right"] for r in answered) / max(1, len(answered)), 4),
                "right": round(sum(r["right"] for r in answered) / max(1, len(ans)), 4),
                "false_refusals": round(1 - len(answered) / max(1, len(ans)), 4),
                "unanswerable_refused": round(sum(r["best"] < t for r in una) / max(1, len(una)), 4) if una else None,
            }
        )
    return rows


def choose_threshold(rows: list[dict], max_false_refusals: float = 0.10) -> float:
    """The threshold with the best balance of right answers and refused
    unanswerable questions, false refusals kept within the limit."""
    ok = [r for r in rows if r["false_refusals"] <= max_false_refusals] or rows[:1]
    return max(ok, key=lambda r: (r["right"] + (r["unanswerable_refused"] or 0)) / 2)["threshold"]


def calibrate(model_path: Path, data: Path | None = None, workdir: Path | None = None, log=print) -> dict:
    """Ask the validation article's questions (Spectre: 274 answerable, 188
    real unanswerable) and the held-out articles' questions over the whole
    ten-article corpus with `model_path`; choose the refusal threshold on the
    validation ones and report the held-out ones at it. Writes the threshold,
    the curve and the figures into the card beside the model."""
    import tempfile

    from assistant.apps.reader_data import VALIDATION_ANCHOR

    data = Path(data or PACKAGE_DIR.parent / "evals/squad/squad2-10-articles.json")
    articles = squad.load(data)
    choosing = [q for a in articles if a.title == VALIDATION_ANCHOR for q in a.questions]
    _, held_out = squad.split(articles)
    reporting = [q for a in held_out for q in a.questions]
    with tempfile.TemporaryDirectory() as tmp:
        records = pipeline_records(data, choosing + reporting, Path(workdir or tmp), log=log, reader_model=model_path)
    choose, report = records[: len(choosing)], records[len(choosing) :]
    rows = curve(choose)
    t = choose_threshold(rows)
    at = {r["threshold"]: r for r in curve(report)}
    nearest = min(at, key=lambda x: abs(x - t))
    card_path = model_path.parent / "card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    card["threshold"] = t
    card["calibration"] = {
        "how": f"threshold chosen on the validation article {VALIDATION_ANCHOR}'s questions (asked over all ten "
        "articles, with retrieval): best (right answers + unanswerable refused) / 2 with false refusals <= 0.10; "
        "figures on the held-out articles' questions at that threshold",
        "curve_on_validation": rows,
        "held_out_curve": curve(report),
        "at_threshold_on_held_out": at[nearest],
        "questions": {"choosing": len(choose), "report": len(report)},
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    log(f"threshold {t}: held-out {at[nearest]}")
    return card
