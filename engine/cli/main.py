"""The `vidsum` command line: a plain face on the engine API (the TUI is the other one).

Human-readable results go to stdout, progress bars and messages to stderr; with ``--json``
stdout carries only JSON, one object per input, so scripts can consume it. This module owns
`summarize`, builds the parser and registers the other command modules' subcommands.

May import: ``engine.api``, the other ``engine.cli`` modules and the ground floor (errors,
progress, fsutil). Benchmarks are not commands: they live in ``bench/`` (a source checkout).
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
from engine.api import (
    Engine,
    Local,
    Servers,
    SummarizeOptions,
    default_sampling,
    entry_markdown,
    failed_advice,
    passes_words,
)
from engine.cli.library import export_file
from engine.cli.library import register as register_library
from engine.cli.models import register as register_models
from engine.cli.progress_bar import ProgressBar
from engine.cli.servers import register as register_servers
from engine.errors import Cancelled, ConfigError, ExportError, VidsumError
from engine.progress import CancelToken

if TYPE_CHECKING:
    from engine.batch.store import FileResult
    from engine.library.records import Entry


def _coverage_line(entry: Entry, attempts: int | None = None) -> str:
    c = entry.coverage
    p = entry.provenance
    if not c.passes and p.sampling.get("extractive"):  # quote mode's ranking: no model pass
        return (
            f"coverage {c.fraction:.0%}: sentences chosen by ranking "
            f"({p.sampling['extractive']}), no model pass"
        )
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


def _summarize_inputs(
    engine: Engine, files: Sequence[str], stdin: TextIO, err: TextIO
) -> list[Any]:
    """Paths, with ``-`` read from standard input (at most once) into a Transcript."""
    if files.count("-") > 1:
        raise ConfigError("`-` (standard input) can be given only once.")
    items: list[Any] = []
    for f in files:
        if f == "-":
            if stdin.isatty():
                print("Reading a transcript from standard input (end it with Ctrl-D).", file=err)
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
            items.append(engine.load_transcript_bytes(data))
        else:
            items.append(Path(f))
    return items


def _with_url(engine: Engine, inputs: list[Any], args: argparse.Namespace) -> Any:
    """``--url``: the one input, read now, carrying its video's page."""
    if len(inputs) != 1 or args.server:
        raise ConfigError("--url names the video of one transcript: give one FILE, no --server.")
    item = inputs[0]
    transcript = engine.load_transcript(item) if isinstance(item, Path) else item
    return engine.with_video_url(transcript, args.url)


def _output_name(res: Any, fmt: str, used: set[str]) -> str:
    """``<input stem>.<md|json>``; a second input with the same stem gets ``-<id>`` added."""
    stem = res.file.stem.strip("<>") or "summary"
    name = f"{stem}.{fmt}"
    if name in used:
        name = f"{stem}-{res.id}.{fmt}"
    used.add(name)
    return name


def summarize_options(args: argparse.Namespace) -> SummarizeOptions:
    """The engine's options from `summarize` flags; a flag not given (None) falls back to
    settings, then to vidsum's default, in the engine."""
    return SummarizeOptions(
        n_ctx=args.ctx,
        n_gpu_layers=args.gpu_layers,
        n_threads=args.threads,
        seed=args.seed,
        temperature=args.temperature,
        force=args.force,
        style=args.style,
        quote_pick=args.pick,
        attempts=args.attempts,
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


def _confirm_big(args: argparse.Namespace, err: TextIO) -> Callable[[str], bool] | None:
    """How a big batch is confirmed: asked on a terminal; ``--yes`` or no terminal (a script,
    a pipe) starts it, the estimate printed as on every run."""
    if args.yes or not sys.stdin.isatty():
        return None

    def ask(_line: str) -> bool:
        # The estimate is printed already (a big one even with -q). Ctrl-C here ends the run
        # at once (the handler that only sets the cancel token would leave readline waiting).
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            err.write("That is a long run. Start it? [y/N] ")
            err.flush()
            return sys.stdin.readline().strip().lower() in ("y", "yes")
        finally:
            signal.signal(signal.SIGINT, previous)

    return ask


def _print_result(res: FileResult, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    """One input's outcome: a JSON object (stdout, errors included), the saved summary
    (stdout), or a FAILED line for an input that could not be summarized (stderr)."""
    to_files = bool(args.output)  # -o DIR: the summaries go to files, not stdout
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
        print(f"FAILED  {_failure(res.file, res.error)}", file=err)
    elif res.failed is not None:
        print(
            f"FAILED  {res.file} -> #{res.id} {res.title}: failed the quality check "
            f"({res.failed}); stored as a failed summary. {failed_advice()}.",
            file=out,
        )
        if not args.brief and not to_files and res.entry is not None:
            # How the run went (passes, retries) still helps; the summary is not shown.
            print(_coverage_line(res.entry, res.attempts), file=out)
    elif res.skipped:
        print(
            f"exists  {res.file} -> #{res.id} {res.title} (already summarized; "
            "--force summarizes again)",
            file=out,
        )
    else:
        assert res.summary is not None and res.entry is not None
        print(f"saved   {res.file} -> #{res.id} {res.title}", file=out)
        if not args.brief and not to_files:
            print(entry_markdown(res.entry), file=out)
            print(_coverage_line(res.entry, res.attempts), file=out)


def _write_result(
    res: FileResult, engine: Engine, args: argparse.Namespace, written: set[str], err: TextIO
) -> bool:
    """``-o DIR``: write one good summary there; False when the file could not be written."""
    assert res.entry is not None
    target = Path(args.output).expanduser() / _output_name(res, args.format, written)
    try:
        target = export_file(engine, res.entry, args.format, target, args.force)
    except ExportError as exc:
        print(f"vidsum: {exc}", file=err)
        return False
    print(f"wrote   {target}", file=err)
    return True


def cmd_summarize(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    engine = Engine()
    inputs = _summarize_inputs(engine, args.files, sys.stdin, err)
    if args.url is not None:
        inputs = [_with_url(engine, inputs, args)]
    written: set[str] = set()
    bar = ProgressBar(err, enabled=not args.quiet)
    cancel = CancelToken()
    failures = 0
    restore_sigint = _sigint_cancels(cancel)
    demo_notice: str | None = None  # set once a summary came from the bundled demonstration model
    try:
        if args.server and not all(isinstance(i, Path) for i in inputs):
            raise ConfigError("`-` (standard input) cannot be summarized on a server yet.")
        if args.server and args.pick == "model":
            raise ConfigError("`--pick model` runs on the local model only, not on a server.")
        results = engine.summarize(
            inputs,
            on=Servers(tuple(args.server)) if args.server else Local(args.model),
            options=summarize_options(args),
            progress=bar,
            cancel=cancel,
            confirm=_confirm_big(args, err),
        )
        for res in results:
            bar.close()
            _print_result(res, args, out, err)
            if res.error is not None or res.failed is not None:
                failures += 1
            # The note is for a new summary, not one already in the library.
            if res.entry is not None and not res.skipped and demo_notice is None:
                demo_notice = engine.demo_notice(res.entry.provenance.model_id)
            good = res.error is None and res.failed is None
            if (
                good
                and args.output
                and res.id
                and not _write_result(res, engine, args, written, err)
            ):
                failures += 1
    except (KeyboardInterrupt, Cancelled):
        cancel.cancel()
        bar.close()
        print("Cancelled; nothing partial was saved.", file=err)
        return 130
    finally:
        restore_sigint()
        bar.close()
        engine.close()
    if demo_notice is not None and not args.quiet:
        print(demo_notice, file=err)
    return 1 if failures else 0


def _in_range(convert: Callable[[str], Any], kind: str, lo: float, hi: float) -> Any:
    """An argparse type: ``convert(text)`` within ``lo..hi``, else a message naming the value."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def _int_range(lo: int, hi: int) -> Any:
    return _in_range(int, "a whole number", lo, hi)


def _float_range(lo: float, hi: float) -> Any:
    return _in_range(float, "a number", lo, hi)


def _add_summarize(sub: Any) -> None:
    """The `summarize` command's flags."""
    s = sub.add_parser("summarize", help="summarize transcript files into the library")
    s.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help=".txt, .srt, .vtt, Whisper .json (openai-whisper, faster-whisper, WhisperX, "
        "whisper.cpp -oj), youtube-transcript-api .json or yt-dlp .info.json; "
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
        "model, abstractive for the others (a server's model included)",
    )
    s.add_argument(
        "--pick",
        choices=["rank", "model"],
        default="rank",
        help="quote mode: the bullets chosen by the ranking alone (default, no model pass) or "
        "by the model among each section's best-ranked sentences",
    )
    s.add_argument(
        "--server",
        action="append",
        metavar="NAME",
        help="summarize on this server profile (vidsum servers add); repeat to spread a batch",
    )
    s.add_argument(
        "--url",
        metavar="URL",
        help="the video's web page (one FILE): stored with a new summary, it links the "
        "Markdown export's timestamps to the video (a yt-dlp .info.json brings its own)",
    )
    s.add_argument("--json", action="store_true", help="one JSON object per input on stdout")
    s.add_argument("--brief", action="store_true", help="print one line per file, not the summary")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="start a long run without asking (asked on a terminal when the estimate is over "
        "10 minutes or 200,000 tokens)",
    )
    _add_model_run_flags(s)
    s.add_argument(
        "--force",
        action="store_true",
        help="summarize again even if the library has this transcript with the same model, "
        "prompt and grammar; the new summary replaces the stored one (it gets a new id); "
        "with -o, also replace files already in DIR",
    )
    s.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write each summary to DIR/<input name>.<format> instead of printing it (DIR is "
        "created; `-o .` is the current folder; standard input becomes stdin.<format>; a "
        "summary already in the library is written too; a file already there is kept unless "
        "--force)",
    )
    s.add_argument(
        "--format",
        choices=["md", "json"],
        default="md",
        help="file format for -o: Markdown or the `library show --json` object "
        "(default: %(default)s)",
    )
    s.set_defaults(func=cmd_summarize)


def _add_model_run_flags(s: argparse.ArgumentParser) -> None:
    """How the model runs: context, GPU layers, threads, seed, temperature (each falls back to
    settings, then to a default the help names)."""
    default = default_sampling()
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
        "--attempts",
        type=_int_range(1, 5),
        metavar="N",
        help="tries of a summary whose answer fails the quality check (default 3); when all "
        "fail, the least flagged answer is stored, marked failed",
    )
    s.add_argument(
        "--threads",
        type=_int_range(1, 1024),
        metavar="N",
        help="CPU threads (default: settings' threads, else the physical cores that are idle "
        "when the model loads)",
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vidsum",
        description="Structured summaries of technical video transcripts, offline. "
        "Run without arguments for the terminal UI.",
    )
    p.add_argument("--version", action="version", version=f"vidsum {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    _add_summarize(sub)

    # The order here is the order `vidsum --help` lists them.
    register_library(sub)
    register_models(sub)
    register_servers(sub)
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
