"""The `vidsum` command line: a plain face on the engine API (the TUI is the other one).

Human-readable results go to stdout, progress bars and messages to stderr; with ``--json``
stdout carries only JSON, one object per input, so scripts can consume it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from engine import __version__
from engine.errors import Cancelled, ConfigError, VidsumError
from engine.progress import CancelToken, Progress

if TYPE_CHECKING:
    from engine.pipeline.summarize import SummarizeOptions


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
        self._key: tuple[str, str | None, str] | None = None

    def __call__(self, ev: Progress) -> None:
        if not self.enabled and ev.stage != "notice":
            return
        from tqdm import tqdm

        if ev.stage == "notice":
            self._close()
            print(ev.message, file=self.stream)
            return
        if ev.stage == "download" and ev.message:
            # A drop, a retry, a resume: a line of its own, in a log as on a terminal.
            self._close()
            print(f"  {ev.item or ''}: {ev.message}", file=self.stream)
            return
        if ev.stage in ("read", "store", "done"):
            if ev.message and ev.stage != "read":
                self._close()
                print(f"  {ev.item or ''}: {ev.message}", file=self.stream)
            return
        # The message of a pass (engine.progress.pass_line: "pass 7 of 21 · 00:32:10–00:41:55 ·
        # 41.2 tok/s · ETA 12:30", "attempt 2 of 3 (previous answer copied an example)") goes
        # in front of the stage words; a new pass or attempt starts a new bar / log line.
        passes = ev.stage in ("prompt", "generate")
        key = (ev.stage, ev.item, ev.message if passes else "")
        desc = _STAGE_WORDS.get(ev.stage, ev.stage)
        if passes and ev.message:
            desc = f"{ev.message} · {desc}"
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


def _coverage_line(entry: Any, attempts: int | None = None) -> str:
    from engine.pipeline.summarize import passes_words

    c = entry.coverage
    p = entry.provenance
    tps = p.generated_tokens / p.generation_seconds if p.generation_seconds else 0.0
    return (
        f"coverage {c.fraction:.0%} in {passes_words(c.passes, attempts or c.passes)}; "
        f"{p.prompt_tokens} prompt tokens "
        f"in {p.prompt_seconds:.1f} s, {p.generated_tokens} generated in "
        f"{p.generation_seconds:.1f} s ({tps:.1f} tok/s) on {p.model_id}"
    )


def _failure(file: Path, error: str) -> str:
    """``/x/empty.txt: file is empty``: the path once, even when the error already names it."""
    if error.startswith(f"{file}:") or error.startswith(f"{file} "):
        return error
    return f"{file}: {error}"


def _print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def _summarize_inputs(files: Sequence[str], stdin: TextIO, err: TextIO) -> list[Any]:
    """Paths, with ``-`` read from standard input (at most once) into a Transcript."""
    from engine.transcripts.readers import load_transcript_bytes

    if files.count("-") > 1:
        raise ConfigError("`-` (standard input) can be given only once.")
    items: list[Any] = []
    for f in files:
        if f == "-":
            if stdin.isatty():
                print("Reading a transcript from standard input (end it with Ctrl-D).", file=err)
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
            items.append(load_transcript_bytes(data))
        else:
            items.append(Path(f))
    return items


def _output_name(res: Any, fmt: str, used: set[str]) -> str:
    """``<input stem>.<md|json>``; a second input with the same stem gets ``-<id>`` added."""
    stem = res.file.stem.strip("<>") or "summary"
    name = f"{stem}.{fmt}"
    if name in used:
        name = f"{stem}-{res.id}.{fmt}"
    used.add(name)
    return name


def summarize_options(args: argparse.Namespace) -> SummarizeOptions:
    """The engine's options from `summarize` flags; a flag not given falls back to settings."""
    from engine.pipeline.summarize import options_from_settings

    return options_from_settings(
        n_ctx=args.ctx,
        n_gpu_layers=args.gpu_layers,
        n_threads=args.threads,
        seed=args.seed,
        temperature=args.temperature,
        force=args.force,
        style=args.style,
    )


def _sigint_cancels(cancel: CancelToken) -> Callable[[], None]:
    """Until the returned function is called, Ctrl-C cancels ``cancel`` (the engine stops within
    a fraction of a second and stores nothing); a second Ctrl-C interrupts at once."""

    def on_sigint(signum: int, frame: Any) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: keep Python's KeyboardInterrupt
        return lambda: None

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)

    return restore


def cmd_summarize(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from engine.api import Engine
    from engine.fsutil import atomic_write_text
    from engine.modelstore.catalog import demo_model_notice, is_demo_model
    from engine.pipeline.quality import FAILED_ADVICE

    options = summarize_options(args)
    inputs = _summarize_inputs(args.files, sys.stdin, err)
    out_dir = Path(args.output).expanduser() if args.output else None
    written: set[str] = set()
    engine = Engine()
    bar = ProgressBar(err, enabled=not args.quiet)
    cancel = CancelToken()
    failures = 0
    restore_sigint = _sigint_cancels(cancel)
    demo = False  # a summary came from the bundled demonstration model
    try:
        if args.server and not all(isinstance(i, Path) for i in inputs):
            raise ConfigError("`-` (standard input) cannot be summarized on a server yet.")
        results = (
            engine.summarize_on_servers(
                inputs, args.server, options=options, progress=bar, cancel=cancel
            )
            if args.server
            else engine.summarize(
                inputs, model=args.model, options=options, progress=bar, cancel=cancel
            )
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
                            "failed": res.failed,
                            "grounding": res.grounding.as_dict() if res.grounding else None,
                        },
                        out,
                    )
            elif res.error is not None:
                print(f"FAILED  {_failure(res.file, res.error)}", file=out)
            elif res.failed is not None:
                print(
                    f"FAILED  {res.file} -> #{res.id} {res.title}: failed the quality check "
                    f"({res.failed}); stored as a failed summary. {FAILED_ADVICE}.",
                    file=out,
                )
                if not args.brief and out_dir is None and res.id is not None:
                    # How the run went (passes, retries) still helps; the summary is not shown.
                    print(_coverage_line(engine.get_entry(res.id), res.attempts), file=out)
            elif res.skipped:
                print(
                    f"exists  {res.file} -> #{res.id} {res.title} (already summarized; "
                    "--force summarizes again)",
                    file=out,
                )
            else:
                assert res.summary is not None and res.id is not None
                entry = engine.get_entry(res.id)
                print(f"saved   {res.file} -> #{res.id} {res.title}", file=out)
                if not args.brief and out_dir is None:
                    print(engine.export_entry(res.id, "md"), file=out)
                    print(_coverage_line(entry, res.attempts), file=out)
            if res.error is not None or res.failed is not None:
                failures += 1
            if res.id is not None and not demo:
                demo = is_demo_model(engine.get_entry(res.id).provenance.model_id)
            if res.error is None and res.failed is None and out_dir is not None and res.id:
                target = out_dir / _output_name(res, args.format, written)
                try:
                    atomic_write_text(target, engine.export_entry(res.id, args.format) + "\n")
                except OSError as exc:
                    print(f"vidsum: could not write {target}: {exc.strerror or exc}.", file=err)
                    failures += 1
                else:
                    print(f"wrote   {target}", file=err)
    except (KeyboardInterrupt, Cancelled):
        cancel.cancel()
        bar.close()
        print("Cancelled; nothing partial was saved.", file=err)
        return 130
    finally:
        restore_sigint()
        bar.close()
        engine.close()
    if demo and not args.quiet:
        print(demo_model_notice(), file=err)
    return 1 if failures else 0


def cmd_library(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from engine.api import Engine
    from engine.library.export import entry_to_json, row_to_json

    engine = Engine()
    try:
        if args.library_cmd in ("list", "search"):
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
                badge = "[FAILED] " if r.failed else ""
                print(
                    f"#{r.id:<5} {r.created_at[:10]}  {_fmt_time(r.duration)}  {badge}{r.title}"
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


def _int_range(lo: int, hi: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def _float_range(lo: float, hi: float) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    from engine.runtime.llamacpp.runner import Sampling

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
        help=".txt, .srt, .vtt, youtube-transcript-api .json or yt-dlp .info.json; "
        "- reads one transcript from standard input",
    )
    s.add_argument(
        "--model",
        metavar="ID",
        help="catalog id, installed model or path to a .gguf (default: settings' "
        "default_model, else the first installed recommended model, else the offline default)",
    )
    s.add_argument(
        "--style",
        choices=["auto", "abstractive", "quotes"],
        default="auto",
        help="quotes: each bullet a verbatim sentence of its stretch of the video; "
        "abstractive: written by the model; auto (default): quotes for the bundled demo "
        "model, abstractive for the others",
    )
    s.add_argument(
        "--server",
        action="append",
        metavar="NAME",
        help="summarize on this server profile (vidsum servers add); repeat to spread a batch",
    )
    s.add_argument("--json", action="store_true", help="one JSON object per input on stdout")
    s.add_argument("--brief", action="store_true", help="print one line per file, not the summary")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    default = Sampling()
    s.add_argument(
        "--ctx",
        type=_int_range(256, 1 << 20),
        metavar="N",
        help="context size in tokens (default: settings' n_ctx, else sized to the "
        "longest transcript within the model's training context)",
    )
    s.add_argument(
        "--gpu-layers",
        type=_int_range(-1, 100_000),
        metavar="N",
        help="layers to offload to the GPU, -1 for all, 0 for none (default: "
        "settings' gpu_layers, else what fits this machine's GPU)",
    )
    s.add_argument(
        "--threads",
        type=_int_range(1, 1024),
        metavar="N",
        help="CPU threads (default: settings' threads, else the physical cores)",
    )
    s.add_argument(
        "--seed",
        type=_int_range(0, (1 << 32) - 1),
        metavar="N",
        help=f"sampling seed (default: settings' seed, else {default.seed})",
    )
    s.add_argument(
        "--temperature",
        type=_float_range(0.0, 5.0),
        metavar="T",
        help="sampling temperature, 0 is greedy (default: settings' "
        f"temperature, else {default.temperature})",
    )
    s.add_argument(
        "--force",
        action="store_true",
        help="summarize again even if the library has this transcript with the same model, "
        "prompt and grammar; the new summary replaces the stored one (it gets a new id)",
    )
    s.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write each summary to DIR/<input name>.<format> instead of printing it (DIR is "
        "created; `-o .` is the current folder; standard input becomes stdin.<format>; a "
        "summary already in the library is written too)",
    )
    s.add_argument(
        "--format",
        choices=["md", "json"],
        default="md",
        help="file format for -o: Markdown or the `library show --json` object "
        "(default: %(default)s)",
    )
    s.set_defaults(func=cmd_summarize)

    lib = sub.add_parser("library", help="list, show and export stored summaries")
    lsub = lib.add_subparsers(dest="library_cmd", metavar="ACTION", required=True)
    ll = lsub.add_parser("list", help="list stored summaries")
    ll.add_argument("--json", action="store_true")
    ll.add_argument("--query", "-s", help="full-text search")
    ll.add_argument("--limit", type=int, default=1000)
    lq = lsub.add_parser("search", help="search stored summaries (same as list -s QUERY)")
    lq.add_argument("query", metavar="QUERY", help="words to find (title, summary, transcript)")
    lq.add_argument("--json", action="store_true")
    lq.add_argument(
        "--limit", type=int, default=1000, help="at most this many (default: %(default)s)"
    )
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
        from engine.cli.models import register
    except ImportError:  # model manager not present in this build
        pass
    else:
        register(sub)
    from engine.cli.servers import register as register_servers

    register_servers(sub)
    from bench.vidsum_bench import register as register_bench

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
