"""Command line: `assistant index`, `assistant ask`, `assistant chat`, `assistant eval`, `assistant feedback`.

assistant index [--corpus DIR] [--index-dir DIR] [--rebuild]
assistant ask "QUESTION" [--json] [--top-k N]
assistant ask                 # interactive: follow-up questions keep context
assistant eval [--gold FILE] [--squad FILE [--squad-sample N]] [--baseline FILE [--update-baseline]]
assistant feedback export [--out PATH] [--rating down|up|all]
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import logging
import socket
import sys
import traceback
from pathlib import Path

from assistant.errors import AssistantError, SettingsError
from assistant.resources import data_path, offline_env

# Settings the command line sets, and the option that sets each.
_FLAGS = {
    "corpus": "--corpus",
    "index_dir": "--index-dir",
    "top_k": "--top-k",
    "chroma_url": "--chroma-url",
    "chat_host": "--host",
    "chat_port": "--port",
    "sources": "--source",
}
_ARGS = {"chat_host": "host", "chat_port": "port", "sources": "source"}  # settings whose option has another name


def _options(args) -> dict:
    values = {n: getattr(args, _ARGS.get(n, n), None) for n in _FLAGS}
    return {n: v for n, v in values.items() if v is not None}


def _check_settings(args) -> None:
    """Every setting (environment, assistant.toml, options) checked before
    anything loads: a bad one is a SettingsError naming it as it was written."""
    from assistant.settings import get_settings, override

    override(get_settings(), _options(args), _FLAGS)


def cmd_index(args) -> int:
    from assistant.apps.progress import index_command

    return index_command(args.rebuild, args.quiet, _options(args))


def _ask_once(question: str, history: list[dict], opts: dict, as_json: bool):
    """Answer one question, streaming the text to stdout as it is verified."""
    from assistant.api import answer, answer_stream

    if as_json:
        ans = answer(question, history=history, **opts)
        print(json.dumps(ans.to_dict(), ensure_ascii=False, indent=2))
        return ans
    ans = None
    for piece in answer_stream(question, history=history, **opts):
        if isinstance(piece, str):
            print(piece, end="", flush=True)
        else:
            ans = piece
    print()
    body = ans.format()
    if body.startswith(ans.text):  # the text was streamed already
        body = body[len(ans.text) :].lstrip("\n")
    else:  # the streamed text was replaced (e.g. by a refusal): show the final one
        body = "\n" + body
    if body:
        print("\n" + body if not body.startswith("\n") else body)
    return ans


def cmd_ask(args) -> int:
    from assistant.api import clean_question, index_status
    from assistant.engine import unbuildable
    from assistant.settings import resolve_settings

    opts = _options(args)
    settings = resolve_settings(opts)
    if args.question:  # a bad question is told before the index is looked at
        clean_question(" ".join(args.question), settings.max_question_chars)
    status = index_status(**opts)
    if (error := unbuildable(settings, status)) is not None:  # as the API would say it, before "building it now"
        raise error
    if status != "ready":  # with a server and no corpus folder, the index is read from the server (as the API does)
        what = "reading it from the Chroma server" if not Path(settings.corpus).is_dir() else "building it now"
        print(f"(the index is {status}: {what}, this takes a few seconds)", file=sys.stderr)
    if args.question:
        _ask_once(" ".join(args.question), [], opts, args.json)
        return 0
    # Interactive: each question sees the conversation so far. Bytes that are
    # not text in the terminal's encoding become lone surrogates, which the
    # question check rejects, instead of an UnicodeDecodeError ending the session.
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="surrogateescape")
    if sys.stdin.isatty():
        import readline  # noqa: F401  (input() then has line editing and Up for history)
    history: list[dict] = []
    print("Ask a question about the corpus (empty line or Ctrl-D to quit, /new to start over).")
    while True:
        try:
            q = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not q:
            return 0
        if q == "/new":
            history = []
            print("(new conversation)")
            continue
        try:
            ans = _ask_once(q, history, opts, args.json)
        except BrokenPipeError:
            raise
        except Exception as e:  # this question failed; the session goes on
            _report(e)
            continue
        history += [{"role": "user", "content": q}, {"role": "assistant", "content": ans.text, "refused": ans.refused}]


def _listen_check(host: str, port: int, args) -> bool:
    """Whether `host` is this machine only (loopback); a SettingsError naming
    the setting when the page could not listen on host:port."""
    from assistant.settings import setting_source

    host_name = "--host" if args.host else setting_source("chat_host")
    port_name = "--port" if args.port is not None else setting_source("chat_port")
    try:
        addrs = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise SettingsError(
            f"{host_name} {host!r} is not valid: not an address or name of this machine ({e})"
        ) from None
    family, kind, proto, _, addr = addrs[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                why = f"{host}:{port} is already in use; stop what listens there or choose another port"
                raise SettingsError(f"{port_name} {port} is not available: {why}") from None
            if e.errno == errno.EACCES:
                raise SettingsError(f"{port_name} {port} is not allowed: ports below 1024 need privileges") from None
            raise SettingsError(f"{host_name} {host!r} is not valid: cannot listen there ({e.strerror})") from None
    return all(ipaddress.ip_address(a[4][0].split("%")[0]).is_loopback for a in addrs)


def cmd_chat(args) -> int:
    from assistant.api import index_status
    from assistant.settings import resolve_settings

    settings = resolve_settings(_options(args))
    host, port = settings.chat_host, settings.chat_port
    share = settings.chat_share or args.share
    local = _listen_check(host, port, args)  # before the index or a model loads
    if not local and not settings.chat_auth:
        print(
            f"warning: the chat page listens on {host}:{port} with no login: anyone who can reach this machine "
            "can use it (set ASSISTANT_CHAT_AUTH=user:password)",
            file=sys.stderr,
            flush=True,
        )
    if share:
        print("warning: sharing creates a public link to this page", file=sys.stderr, flush=True)
    status = index_status(settings=settings)
    if status != "ready":
        # Built here, as it says, so that the page opens on the documents
        # (built by the page's first request, it showed "0 documents indexed").
        print(f"(the index is {status}: building it before the page starts)", file=sys.stderr, flush=True)
        from assistant.api import get_engine

        get_engine(settings)
    from assistant.apps.chat import launch

    try:
        launch(settings, host=host, port=port, auth=settings.chat_auth, share=share)
    except OSError as e:
        if "Cannot find empty port" not in str(e):
            raise
        # taken between the check and the start
        raise SettingsError(f"port {port} is not available: {host}:{port} is already in use") from None
    return 0


def cmd_eval(args) -> int:
    from assistant.errors import GoldFileError
    from assistant.evals.evaluate import run
    from assistant.evals.gate import baseline_from, check_outputs, check_squad_baseline, gate
    from assistant.evals.gold import load_gold
    from assistant.evals.report import markdown, write
    from assistant.settings import resolve_settings

    settings = resolve_settings({**_options(args), "backend": args.backend})
    if args.backend == "llm" and not (settings.openai_api_key or settings.openai_base_url):
        print("error: --backend llm needs OPENAI_API_KEY or OPENAI_BASE_URL", file=sys.stderr)
        return 2
    squad_plan = None
    try:  # every input is checked before the index or a model is loaded
        gold = load_gold(Path(args.gold), settings)
        baseline = check_outputs(Path(args.out), args.baseline, args.update_baseline)
        if args.squad:
            from assistant.evals import squad_eval

            squad_plan = squad_eval.plan(args.squad, args.squad_articles, args.squad_sample, args.squad_seed)
            check_squad_baseline(baseline, squad_plan["meta"])
    except GoldFileError as e:  # one line per problem
        for line in e.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    report = run(gold, settings, backend=args.backend, progress=not args.quiet)
    if squad_plan is not None:
        report["squad"] = squad_eval.run(squad_plan, settings, progress=not args.quiet)
    paths = write(report, Path(args.out))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(markdown(report))
        print(f"report: {paths['html']} (also {paths['json'].name}, {paths['md'].name})")
    if args.update_baseline:
        base = Path(args.baseline or "evals/baseline.json")
        try:
            previous = json.loads(base.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        new = baseline_from(report, args.tolerance, previous if isinstance(previous, dict) else None)
        base.write_text(json.dumps(new, indent=1) + "\n", encoding="utf-8")
        print(f"baseline written: {base}")
        if squad_plan is None and new.get("squad"):
            print(f"  (its SQuAD figures are kept from before: {new['squad'].get('label')})")
        return 0
    if baseline is not None:
        problems, notes = gate(report, baseline)
        for note in notes:
            print(f"note: {note}")
        if problems:
            print("REGRESSION against " + args.baseline + ":", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            return 1
        print(f"gate: no metric below {args.baseline} (tolerance {baseline.get('tolerance', 0.02)})")
    return 0


def cmd_feedback(args) -> int:
    from assistant.conversations import db_path
    from assistant.conversations.database import damaged
    from assistant.conversations.export import read_candidates, write_jsonl
    from assistant.settings import get_settings, override

    settings = override(get_settings(), _options(args), _FLAGS)
    items, lost, why = read_candidates(settings, args.rating, args.user, args.corpus)
    if lost and not items:  # nothing of it reads: an error, not an empty export
        raise damaged(db_path(settings), f"none of its {lost} rated turns could be read ({why})")
    write_jsonl(items, args.out)
    if lost:  # a damaged file gives up what still reads
        print(
            f"warning: {lost} rated turns could not be read, the conversations database "
            f"{db_path(settings)} is damaged ({why}); they are not exported",
            file=sys.stderr,
        )
    up = sum(item["feedback"]["rating"] == "up" for item in items)
    where = f" to {args.out}" if args.out and args.out != "-" else ""
    print(
        f"{len(items)} rated turns exported{where} ({up} up, {len(items) - up} down); review each, "
        'fill in what is missing and delete "needs_review" before adding it to evals/gold.jsonl',
        file=sys.stderr,
    )
    return 0


def cmd_train_reader(args) -> int:
    try:
        from assistant.apps.reader_calibrate import calibrate
        from assistant.apps.train_reader import train
    except ImportError as e:  # pragma: no cover - depends on the extra
        print(f"error: training needs the [train] extra: pip install -e '.[train]' ({e})", file=sys.stderr)
        return 2
    out = Path(args.out)
    if not args.calibrate_only:
        train(
            out_dir=out, data=Path(args.data) if args.data else None, epochs=args.epochs, limit=args.limit,
            seed=args.seed, layers=args.layers, max_len=args.max_len, para_neg=args.para_neg,
            hard_neg=args.hard_neg, swap_rate=args.swap_rate, resume=args.resume, compound=args.compound,
            init=Path(args.init) if args.init else None, lr=args.lr, cut_rate=args.cut_rate,
            paraphrase_rate=args.paraphrase_rate,
        )  # fmt: skip
    calibrate(out / "reader.onnx")
    print(f"model and card: {out}")
    return 0


def _store_options(p: argparse.ArgumentParser, corpus_help: str | None = None) -> None:
    """The options every subcommand shares: which corpus, which index."""
    p.add_argument("--corpus", help=corpus_help or "folder of documents (default: seeds/)")
    p.add_argument("--chroma-url", help="a Chroma server (http://host:port) instead of the embedded store")
    p.add_argument("--index-dir", help="where the index lives (default: index/)")


def build_parser() -> argparse.ArgumentParser:
    from assistant.evals.squad_eval import SEED as SQUAD_SEED

    p = argparse.ArgumentParser(prog="assistant", description="Answers questions from your documents, with citations.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = p.add_subparsers(dest="command", required=True)

    pi = sub.add_parser("index", help="index the corpus (skips unchanged files)")
    _store_options(pi, "folder of documents: .txt, .md and every format a reader takes (default: seeds/)")
    pi.add_argument("--rebuild", action="store_true", help="drop the index and build it anew")
    pi.add_argument("-q", "--quiet", action="store_true")
    pi.set_defaults(func=cmd_index)

    pa = sub.add_parser("ask", help="answer a question (no question: interactive)")
    pa.add_argument("question", nargs="*", help="the question (none: ask interactively, with the conversation kept)")
    pa.add_argument("--json", action="store_true", help="print the Answer as JSON")
    pa.add_argument("--top-k", type=int, help="passages to retrieve")
    pa.add_argument(
        "--source", action="append", metavar="PATH", help="search only this document or folder (repeatable)"
    )
    _store_options(pa)
    pa.set_defaults(func=cmd_ask)

    pc = sub.add_parser("chat", help="serve the chat page (http://127.0.0.1:7860 by default)")
    pc.add_argument("--host", help="address to listen on (default 127.0.0.1: this machine only)")
    pc.add_argument("--port", type=int, help="port (default 7860)")
    pc.add_argument("--share", action="store_true", help="also make a public gradio.live link (off by default)")
    _store_options(pc)
    pc.set_defaults(func=cmd_chat)

    pe = sub.add_parser("eval", help="score answers on a gold set; write JSON, Markdown and HTML reports")
    pe.add_argument("--gold", default="evals/gold.jsonl", help="gold set (JSONL, see evals/README.md)")
    _store_options(pe)
    pe.add_argument("--top-k", type=int)
    pe.add_argument("--backend", choices=["offline", "llm"], default="offline")
    pe.add_argument("--out", default="evals/reports/latest", help="folder for report.json/.md/.html")
    pe.add_argument("--baseline", help="fail (exit 1) when a metric drops below this baseline")
    pe.add_argument("--update-baseline", action="store_true", help="write this run as the baseline (deliberate)")
    pe.add_argument("--tolerance", type=float, default=0.02, help="allowed drop, with --update-baseline")
    pe.add_argument("--json", action="store_true", help="print the whole report as JSON")
    pe.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    pe.add_argument(
        "--squad",
        metavar="FILE",
        help="also ask a SQuAD-format file's questions over its articles (a corpus of their own)",
    )
    pe.add_argument(
        "--squad-articles", default="held-out", metavar="WHICH",
        help="whose questions: held-out (default: the articles the reader never trains on), all, or TITLE,TITLE",
    )  # fmt: skip
    pe.add_argument("--squad-sample", type=int, metavar="N", help="a fixed stratified sample of N questions")
    pe.add_argument(
        "--squad-seed", type=int, default=SQUAD_SEED, metavar="S", help=f"seed of --squad-sample (default {SQUAD_SEED})"
    )
    pe.set_defaults(func=cmd_eval)

    pf = sub.add_parser("feedback", help="the thumbs up/down of the chat page")
    pfe = pf.add_subparsers(dest="action", required=True).add_parser(
        "export", help="write the rated answers as gold-set candidates (JSONL, see evals/README.md)"
    )
    pfe.add_argument("--out", help="file to write (default: stdout)")
    pfe.add_argument("--rating", choices=["down", "up", "all"], default="all")
    pfe.add_argument("--user", help="only this user's (the login of the chat page; default: every user)")
    pfe.add_argument("--corpus", help="the corpus the quotes are read from (default: the one each answer came from)")
    pfe.add_argument("--index-dir", help="where the conversations database is, unless ASSISTANT_CHAT_DB says")
    pfe.set_defaults(func=cmd_feedback)

    pt = sub.add_parser("train-reader", help="retrain the reader model (needs the [train] extra; ~90 min on 2 cores)")
    pt.add_argument("--out", default=str(data_path("reader")), help="model folder")
    pt.add_argument("--data", help="SQuAD-format file, may be gzipped (default: evals/squad/squad1.1-train.json.gz)")
    pt.add_argument("--epochs", type=float, default=1.0)
    pt.add_argument("--limit", type=int, default=0, help="train on this many questions only (a learning-curve point)")
    pt.add_argument("--seed", type=int, default=13)
    pt.add_argument("--layers", type=int, choices=[4, 6], default=4, help="of MiniLM-L6's six")
    pt.add_argument("--max-len", type=int, default=128, help="word pieces of question + sentence")
    pt.add_argument("--para-neg", type=int, default=2, help="negatives from the answer's paragraph, per question")
    pt.add_argument("--hard-neg", type=int, default=2, help="BM25 negatives from other paragraphs, per question")
    pt.add_argument("--swap-rate", type=float, default=0.5, help="share of questions given an entity-swapped negative")
    pt.add_argument("--resume", action="store_true", help="go on from the checkpoint in --out")
    pt.add_argument("--compound", type=int, default=0, help="two-part questions added to the training pairs")
    pt.add_argument("--init", help="a checkpoint.pt whose weights training starts from (a fine-tune)")
    pt.add_argument("--lr", type=float, default=5e-5)
    pt.add_argument("--cut-rate", type=float, default=0.0, help="share given their answer sentence, answer cut")
    pt.add_argument("--paraphrase-rate", type=float, default=0.0, help="share reworded by WordNet synonyms")
    pt.add_argument("--calibrate-only", action="store_true", help="only choose the threshold of the model in --out")
    pt.set_defaults(func=cmd_train_reader)
    return p


def _debug() -> bool:
    try:
        from assistant.settings import get_settings

        return get_settings().debug
    except Exception:  # the settings themselves are broken
        return False


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _report(e: Exception) -> int:
    """Print `e` as one line on stderr (with ASSISTANT_DEBUG, its traceback
    first); return the exit code. An AssistantError is a message for the user;
    anything else is a bug, named as one."""
    debug = _debug()
    if debug:
        traceback.print_exception(e, file=sys.stderr)
    if isinstance(e, AssistantError):
        print(f"error: {_one_line(str(e)) or type(e).__name__}", file=sys.stderr, flush=True)
        return e.exit_code
    hint = "" if debug else " (set ASSISTANT_DEBUG=1 for the traceback)"
    print(f"error: internal error: {type(e).__name__}: {_one_line(str(e))}{hint}", file=sys.stderr, flush=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    offline_env()  # before any library that reads it loads
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        _check_settings(args)
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed
        sys.stderr.close()
        return 0
    except Exception as e:  # AssistantError: its message and exit code; anything else: a bug, in one line
        return _report(e)


if __name__ == "__main__":
    sys.exit(main())
