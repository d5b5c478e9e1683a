"""The `vidsum` command line: a plain face on the engine API (the TUI is the other one).

Human-readable results go to stdout, progress bars and messages to stderr; with ``--json``
stdout carries only JSON, one object per input, so scripts can consume it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from engine import __version__
from engine.errors import Cancelled, VidsumError
from engine.progress import CancelToken, Progress


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


_STAGE_WORDS = {
    "load": "loading model",
    "prompt": "reading prompt",
    "generate": "writing summary",
    "download": "downloading",
    "verify": "verifying",
}


class ProgressBar:
    """A tqdm bar on stderr driven by engine Progress events (one bar per stage)."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        # Not a terminal (a log file, CI): one line per stage instead of a redrawn bar.
        self.interactive = stream.isatty()
        self._bar: Any = None
        self._key: tuple[str, str | None] | None = None

    def __call__(self, ev: Progress) -> None:
        if not self.enabled and ev.stage != "notice":
            return
        from tqdm import tqdm

        if ev.stage == "notice":
            self._close()
            print(ev.message, file=self.stream)
            return
        if ev.stage in ("read", "store", "done"):
            if ev.message and ev.stage != "read":
                self._close()
                print(f"  {ev.item or ''}: {ev.message}", file=self.stream)
            return
        key = (ev.stage, ev.item)
        desc = _STAGE_WORDS.get(ev.stage, ev.stage)
        if not self.interactive:
            if key != self._key:
                self._key = key
                print(f"  {ev.item or ''}: {desc}...", file=self.stream)
            return
        if key != self._key:
            self._close()
            self._key = key
            self._bar = tqdm(
                total=ev.total,
                desc=f"{ev.item + ': ' if ev.item else ''}{desc}",
                unit=ev.unit or "it",
                unit_scale=ev.unit == "B",
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
                mininterval=0.2,
            )
        bar = self._bar
        if ev.total is not None and bar.total != ev.total:
            bar.total = ev.total
        bar.n = ev.done
        if ev.rate:
            bar.set_postfix_str(f"{ev.rate:.1f} {ev.unit or 'it'}/s", refresh=False)
        bar.refresh()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._key = None

    def close(self) -> None:
        self._close()


def _coverage_line(entry: Any) -> str:
    c = entry.coverage
    p = entry.provenance
    tps = p.generated_tokens / p.generation_seconds if p.generation_seconds else 0.0
    return (
        f"coverage {c.fraction:.0%} in {c.passes} pass(es); {p.prompt_tokens} prompt tokens "
        f"in {p.prompt_seconds:.1f} s, {p.generated_tokens} generated in "
        f"{p.generation_seconds:.1f} s ({tps:.1f} tok/s) on {p.model_id}"
    )


def _print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def cmd_summarize(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from engine.api import Engine

    engine = Engine()
    bar = ProgressBar(err, enabled=not args.quiet)
    cancel = CancelToken()
    failures = 0
    try:
        files = [Path(p) for p in args.files]
        results = (
            engine.summarize_on_servers(files, args.server, progress=bar, cancel=cancel)
            if args.server
            else engine.summarize(files, model=args.model, progress=bar, cancel=cancel)
        )
        for res in results:
            bar.close()
            if args.json:
                if res.error is not None:
                    _print_json({"file": str(res.file), "error": res.error}, out)
                else:
                    assert res.summary is not None
                    _print_json(
                        {
                            "file": str(res.file),
                            "id": res.id,
                            "skipped": res.skipped,
                            "summary": res.summary.model_dump(mode="json"),
                        },
                        out,
                    )
            elif res.error is not None:
                print(f"FAILED  {res.file}: {res.error}", file=out)
            elif res.skipped:
                print(f"exists  {res.file} -> #{res.id} {res.title} (already summarized)", file=out)
            else:
                assert res.summary is not None and res.id is not None
                entry = engine.get_entry(res.id)
                print(f"saved   {res.file} -> #{res.id} {res.title}", file=out)
                if not args.brief:
                    print(engine.export_entry(res.id, "md"), file=out)
                    print(_coverage_line(entry), file=out)
            if res.error is not None:
                failures += 1
    except KeyboardInterrupt:
        cancel.cancel()
        bar.close()
        print("Cancelled; nothing partial was saved.", file=err)
        return 130
    finally:
        bar.close()
        engine.close()
    return 1 if failures else 0


def cmd_library(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from engine.api import Engine
    from engine.library import entry_to_json, row_to_json

    engine = Engine()
    try:
        if args.library_cmd == "list":
            rows = engine.list_entries(query=args.query, limit=args.limit, offset=0)
            if args.json:
                out.write(
                    json.dumps([row_to_json(r) for r in rows], ensure_ascii=False, indent=2) + "\n"
                )
                return 0
            if not rows:
                print("The library is empty." if not args.query else "No match.", file=out)
            for r in rows:
                gts = ", ".join(f"{t} {c:.2f}" for t, c in r.general_topics)
                print(
                    f"#{r.id:<5} {r.created_at[:10]}  {_fmt_time(r.duration)}  {r.title}"
                    f"  [{r.model_id}]  {gts}",
                    file=out,
                )
            return 0
        if args.library_cmd == "show":
            entry = engine.get_entry(args.id)
            if args.json:
                out.write(json.dumps(entry_to_json(entry), ensure_ascii=False, indent=2) + "\n")
            else:
                out.write(engine.export_entry(args.id, "md") + "\n")
            return 0
        if args.library_cmd == "export":
            text = engine.export_entry(args.id, args.format)
            if args.output:
                from engine.fsutil import atomic_write_text

                atomic_write_text(Path(args.output), text + "\n")
                print(f"Wrote {args.output}", file=err)
            else:
                out.write(text + "\n")
            return 0
        if args.library_cmd == "delete":
            engine.delete_entry(args.id)
            print(f"Deleted #{args.id}", file=err)
            return 0
    finally:
        engine.close()
    raise AssertionError(args.library_cmd)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vidsum",
        description="Structured summaries of technical video transcripts, offline. "
        "Run without arguments for the terminal UI.",
    )
    p.add_argument("--version", action="version", version=f"vidsum {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("summarize", help="summarize transcript files into the library")
    s.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help=".txt, .srt, .vtt, youtube-transcript-api .json or yt-dlp .info.json",
    )
    s.add_argument("--model", metavar="ID", help="catalog id, installed model or path to a .gguf")
    s.add_argument(
        "--server",
        action="append",
        metavar="NAME",
        help="summarize on this server profile (vidsum servers add); repeat to spread a batch",
    )
    s.add_argument("--json", action="store_true", help="one JSON object per input on stdout")
    s.add_argument("--brief", action="store_true", help="print one line per file, not the summary")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_summarize)

    lib = sub.add_parser("library", help="list, show and export stored summaries")
    lsub = lib.add_subparsers(dest="library_cmd", metavar="ACTION", required=True)
    ll = lsub.add_parser("list", help="list stored summaries")
    ll.add_argument("--json", action="store_true")
    ll.add_argument("--query", "-s", help="full-text search")
    ll.add_argument("--limit", type=int, default=1000)
    ls_ = lsub.add_parser("show", help="show one summary")
    ls_.add_argument("id", type=int)
    ls_.add_argument("--json", action="store_true")
    le = lsub.add_parser("export", help="export one summary")
    le.add_argument("id", type=int)
    le.add_argument("--format", choices=["json", "md"], default="md")
    le.add_argument("-o", "--output", help="write to this file instead of stdout")
    ld = lsub.add_parser("delete", help="delete one summary")
    ld.add_argument("id", type=int)
    lib.set_defaults(func=cmd_library)

    try:
        from engine.cli_models import register
    except ImportError:  # model manager not present in this build
        pass
    else:
        register(sub)
    from engine.servers.cli import register as register_servers

    register_servers(sub)
    from engine.bench import register as register_bench

    register_bench(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args, sys.stdout, sys.stderr))
    except Cancelled as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except VidsumError as exc:
        print(f"vidsum: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
