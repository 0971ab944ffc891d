"""Command line: `assistant index`, `assistant ask`.

assistant index [--corpus DIR] [--index-dir DIR] [--rebuild]
assistant ask "QUESTION" [--json] [--top-k N]
assistant ask                 # interactive: follow-up questions keep context
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import AssistantError


def _options(args) -> dict:
    names = ("corpus", "index_dir", "top_k", "chroma_url")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def cmd_index(args) -> int:
    from .api import build_index

    def progress(i, n, source):
        # A large file reports each segment ("name (segment k/S)"): a long
        # name loses its start, so that the segment count stays in view.
        label = source if len(source) <= 60 else "…" + source[-59:]
        print(f"\r[{i + 1}/{n}] {label:<60}", end="", file=sys.stderr, flush=True)

    report = build_index(rebuild=args.rebuild, progress=None if args.quiet else progress, **_options(args))
    if not args.quiet:
        print(file=sys.stderr)
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(report.summary())
    return 0


def _ask_once(question: str, history: list[dict], opts: dict, as_json: bool):
    """Answer one question, streaming the text to stdout as it is verified."""
    from .api import answer, answer_stream

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
    from .api import index_status

    opts = _options(args)
    status = index_status(**opts)
    if status != "ready":
        print(f"(the index is {status}: building it now, this takes a few seconds)", file=sys.stderr)
    if args.question:
        _ask_once(" ".join(args.question), [], opts, args.json)
        return 0
    # Interactive: each question sees the conversation so far.
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
        except AssistantError as e:
            print(f"error: {e}", file=sys.stderr)
            continue
        history += [{"role": "user", "content": q}, {"role": "assistant", "content": ans.text}]


def cmd_chat(args) -> int:
    from .api import _resolve, index_status
    from .chat import launch

    settings = _resolve(_options(args))
    status = index_status(settings=settings)
    if status != "ready":
        print(f"(the index is {status}: building it before the page starts)", file=sys.stderr)
    host = args.host or settings.chat_host
    port = args.port if args.port is not None else settings.chat_port
    if settings.chat_share or args.share:
        print("warning: sharing creates a public link to this page", file=sys.stderr)
    launch(settings, host=host, port=port, auth=settings.chat_auth, share=settings.chat_share or args.share)
    return 0


def cmd_eval(args) -> int:
    from .api import _resolve
    from .evaluate import baseline_from, compare, load_gold, run
    from .report import markdown, write

    settings = _resolve({**_options(args), "backend": args.backend})
    if args.backend == "llm" and not (settings.openai_api_key or settings.openai_base_url):
        print("error: --backend llm needs OPENAI_API_KEY or OPENAI_BASE_URL", file=sys.stderr)
        return 2
    try:
        gold = load_gold(Path(args.gold))
    except (OSError, ValueError) as e:
        print(f"error: cannot read gold set: {e}", file=sys.stderr)
        return 2
    report = run(gold, settings, backend=args.backend, progress=not args.quiet)
    paths = write(report, Path(args.out))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(markdown(report))
        print(f"report: {paths['html']} (also {paths['json'].name}, {paths['md'].name})")
    if args.update_baseline:
        base = Path(args.baseline or "evals/baseline.json")
        base.write_text(json.dumps(baseline_from(report, args.tolerance), indent=1) + "\n", encoding="utf-8")
        print(f"baseline written: {base}")
        return 0
    if args.baseline:
        baseline = json.loads(Path(args.baseline).read_text(encoding="utf-8"))
        problems = compare(report["summary"], baseline)
        if problems:
            print("REGRESSION against " + args.baseline + ":", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            return 1
        print(f"gate: no metric below {args.baseline} (tolerance {baseline.get('tolerance', 0.02)})")
    return 0


def _store_options(p: argparse.ArgumentParser, corpus_help: str | None = None) -> None:
    """The options every subcommand shares: which corpus, which index."""
    p.add_argument("--corpus", help=corpus_help)
    p.add_argument("--chroma-url", help="a Chroma server (http://host:port) instead of the embedded store")
    p.add_argument("--index-dir", help="where the index lives (default: index/)" if corpus_help else None)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assistant", description="Answers questions from your documents, with citations.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = p.add_subparsers(dest="command", required=True)

    pi = sub.add_parser("index", help="index the corpus (skips unchanged files)")
    _store_options(pi, "folder of .txt/.md files (default: seeds/)")
    pi.add_argument("--rebuild", action="store_true", help="drop the index and build it anew")
    pi.add_argument("-q", "--quiet", action="store_true")
    pi.set_defaults(func=cmd_index)

    pa = sub.add_parser("ask", help="answer a question (no question: interactive)")
    pa.add_argument("question", nargs="*")
    pa.add_argument("--json", action="store_true", help="print the Answer as JSON")
    pa.add_argument("--top-k", type=int, help="passages to retrieve")
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
    pe.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except ValueError as e:  # pydantic's ValidationError for a bad setting
        print(f"error: invalid setting: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
