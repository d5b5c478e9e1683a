"""The README's path, measured: every seed transcript and shared talk through `vidsum summarize`
with default settings (the bundled default model unless --model), then grounding per summary.

    python bench/eval_default.py [--model ID] [--style auto|quotes|abstractive] [--only SUB ...]
                                 [--no-record]

Runs the engine's own ``summarize_files`` (model resolution, context sizing, style choice,
quality gate, library) in a fresh VIDSUM_HOME, so the numbers are those a new user gets. For
each summary: style, passes/attempts, time, grounded / leaked (``engine.pipeline.grounding``), how
many
content bullets occur verbatim in the transcript (whitespace-normalized), and the failed reason
if the quality gate failed it. Appends the table, with the commit, to EVALUATION.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DATA = (REPO.parent / "shared" / "data").resolve()
INPUTS = [
    *sorted((DATA / "seed-run" / "transcripts").glob("*.txt")),
    *sorted(p for p in (DATA / "talks").iterdir() if p.suffix in (".srt", ".vtt", ".txt")),
]
RECORD = REPO / "EVALUATION.md"
HEADER = (
    "| transcript | style | passes (attempts) | time | grounded | leaked | verbatim bullets "
    "| status |"
)
RULE = "|" + "---|" * (HEADER.count("|") - 1)


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model id or .gguf path (default: vidsum's)")
    ap.add_argument("--style", default="auto", choices=["auto", "quotes", "abstractive"])
    ap.add_argument("--only", nargs="*", default=None, help="inputs whose name contains this")
    ap.add_argument("--no-record", action="store_true", help="do not append to EVALUATION.md")
    args = ap.parse_args(argv)
    os.environ["VIDSUM_HOME"] = tempfile.mkdtemp(prefix="vidsum-eval-")

    from engine.library.store import Library
    from engine.pipeline.quote_text import clean
    from engine.pipeline.summarize import SummarizeOptions, summarize_files
    from engine.transcripts.readers import load_transcript

    files = [p for p in INPUTS if not args.only or any(s in p.name for s in args.only)]
    rows: list[str] = []
    worst = (1.0, 0.0)
    with Library() as lib:
        started = time.monotonic()
        for path in files:
            t0 = time.monotonic()
            (res,) = list(
                summarize_files(
                    [path],
                    model=args.model,
                    library=lib,
                    options=SummarizeOptions(style=args.style),  # type: ignore[arg-type]
                )
            )
            secs = time.monotonic() - t0
            if res.id is None:
                rows.append(f"| {path.name} | | | {secs:.0f} s | | | | error: {res.error} |")
                print(rows[-1], flush=True)
                continue
            entry = lib.get(res.id)
            text = clean(load_transcript(path).text)
            bullets = [b for s in entry.summary.sections for b in s.content]
            verbatim = sum(clean(b) in text for b in bullets)
            g = entry.grounding
            assert g is not None
            worst = (min(worst[0], g.grounded), max(worst[1], g.leaked))
            status = f"FAILED: {entry.failed}" if entry.failed else "ok"
            flags = "; ".join(f.split(":", 1)[0] for f in entry.flags)
            rows.append(
                f"| {path.name} | {entry.provenance.style} | {entry.coverage.passes} "
                f"({res.attempts}) | {secs:.0f} s | {g.grounded:.2f} | {g.leaked:.2f} | "
                f"{verbatim}/{len(bullets)} | {status}{' (' + flags + ')' if flags else ''} |"
            )
            print(rows[-1], flush=True)
        total = time.monotonic() - started
        model_id = entry.provenance.model_id if files else "?"
    print(f"worst grounded {worst[0]:.2f}, worst leaked {worst[1]:.2f}, {total / 60:.1f} min")
    if not args.no_record:
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        block = [
            "",
            f"## {when} · default settings · {model_id} · style {args.style} · commit "
            f"`{_commit()}`",
            "",
            f"`python bench/eval_default.py --style {args.style}` (the engine's summarize with "
            f"default settings, fresh library; {os.cpu_count()} logical CPUs, CPU only). Worst "
            f"grounded {worst[0]:.2f}, worst leaked {worst[1]:.2f}; {total / 60:.1f} min in all.",
            "",
            HEADER,
            RULE,
            *rows,
        ]
        with RECORD.open("a", encoding="utf-8") as f:
            f.write("\n".join(block) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
