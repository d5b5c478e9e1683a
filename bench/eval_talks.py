"""Whole-video summaries of the shared real talks: passes, tokens, time, coverage, grounding,
flags.

    python bench/eval_talks.py [--ctx 2048] [--model ID|PATH] [--only SUBSTRING ...]
                               [--threads N] [--seed N] [--no-record]

Each talk in ../shared/data/talks/ goes through ``engine.pipeline.longform.summary.summarize_long``
on one loaded model (default: the offline default, Gemma 3 270M). Prints a table and appends it,
with the date, model and machine, to EVALUATION.md (unless ``--no-record``). A talk whose summary
fails is a row with the error, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.batch.summary import chat_spec  # noqa: E402
from engine.errors import VidsumError  # noqa: E402
from engine.hardware import physical_cores  # noqa: E402
from engine.modelstore.manager import resolve_model  # noqa: E402
from engine.pipeline.checks.grounding import measure  # noqa: E402
from engine.pipeline.longform.prompts import hms  # noqa: E402
from engine.pipeline.longform.summary import LongformResult, summarize_long  # noqa: E402
from engine.progress import Progress, ProgressCallback  # noqa: E402
from engine.runtime.base import LoadOptions, Sampling  # noqa: E402
from engine.runtime.llamacpp.runner import LlamaRunner  # noqa: E402
from engine.transcripts.readers import load_transcript  # noqa: E402

TALKS = (REPO.parent / "shared" / "data" / "talks").resolve()
RECORD = REPO / "EVALUATION.md"
HEADER = (
    "| talk | length | transcript tokens | mode | passes (notes/merge/final) | tokens in "
    "(evaluated) | tokens out | time | coverage | sections span | grounded | leaked | flags |"
)
RULE = "|" + "---|" * (HEADER.count("|") - 1)


def row(
    name: str, duration: float | None, res: LongformResult, seconds: float, transcript: str
) -> str:
    kinds = Counter(p.kind for p in res.passes)
    passes = (
        f"{len(res.passes)} (1 one-pass)"
        if res.mode == "one-pass"
        else f"{len(res.passes)} ({kinds['notes']}/{kinds['merge']}/{kinds['final']})"
    )
    g = res.generation
    secs = res.summary.sections
    span = "untimed" if secs[0].start is None else f"{hms(secs[0].start)}–{hms(secs[-1].end or 0)}"
    flags = "; ".join(f.split(":", 1)[0] for f in res.all_flags()) or "none"
    gr = measure(res.summary, transcript)
    return (
        f"| {name} | {hms(duration) if duration else 'untimed'} | {res.transcript_tokens} | "
        f"{res.mode} | {passes} | {g.prompt_tokens} ({g.prompt_evaluated}) | "
        f"{g.generated_tokens} | {seconds / 60:.1f} min | {res.fraction:.3f} | {span} | "
        f"{gr.grounded:.2f} | {gr.leaked:.2f} | {flags} |"
    )


def _pass_printer(start: float) -> ProgressCallback:
    last = [""]

    def show(ev: Progress) -> None:
        if ev.message and ev.message != last[0]:
            last[0] = ev.message
            print(f"  {time.monotonic() - start:7.1f}s {ev.message}", file=sys.stderr, flush=True)

    return show


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ctx", type=int, default=2048, help="context size (default 2048)")
    ap.add_argument("--model", default=None, help="model id or .gguf path (default: vidsum's)")
    ap.add_argument("--only", nargs="*", default=None, help="talks whose file name contains this")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-record", action="store_true", help="do not append to EVALUATION.md")
    ap.add_argument("--json", type=Path, default=None, help="also write the summaries here")
    ap.add_argument("-v", "--verbose", action="store_true", help="passes and retries on stderr")
    args = ap.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    files = sorted(p for p in TALKS.iterdir() if p.suffix in (".srt", ".vtt", ".txt", ".json"))
    if args.only:
        files = [p for p in files if any(s in p.name for s in args.only)]
    model = resolve_model(args.model)
    rows: list[str] = []
    out: dict[str, object] = {}
    failed = False
    with LlamaRunner(
        LoadOptions(model_path=model.path, n_ctx=args.ctx, n_threads=args.threads)
    ) as runner:
        info = runner.load()
        chat = chat_spec(info, None, model.chat_format)
        print(
            f"{model.id} ({model.path.name}), n_ctx {info.n_ctx}, {info.n_threads} threads",
            flush=True,
        )
        print(HEADER)
        print(RULE, flush=True)
        for path in files:
            t = load_transcript(path)
            start = time.monotonic()
            try:
                res = summarize_long(
                    t,
                    runner,
                    chat,
                    sampling=Sampling(seed=args.seed),
                    progress=_pass_printer(start) if args.verbose else None,
                )
            except VidsumError as exc:
                failed = True
                line = f"| {path.name} | | | failed: {exc} | | | | | | | | | |"
            else:
                line = row(path.name, t.duration, res, time.monotonic() - start, t.text)
                out[path.name] = {
                    "summary": res.summary.model_dump(),
                    "flags": res.all_flags(),
                    "grounding": measure(res.summary, t.text).as_dict(),
                    "passes": [p.__dict__ for p in res.passes],
                }
            rows.append(line)
            print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")
    if not args.no_record:
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        machine = (
            f"{platform.machine()}, {physical_cores()} physical cores available, "
            f"{os.cpu_count()} logical, CPU only"
            if not info.gpu_offload or not info.n_gpu_layers
            else f"{platform.machine()}, GPU offload"
        )
        block = [
            "",
            f"## {when} · {model.path.name} · n_ctx {info.n_ctx}",
            "",
            f"Model `{model.id}` (sha256 `{model.sha256[:12]}`), {machine}; sampling seed "
            f"{args.seed}; `python bench/eval_talks.py --ctx {args.ctx}`.",
            "",
            HEADER,
            RULE,
            *rows,
        ]
        if not RECORD.exists():
            RECORD.write_text(
                "# Evaluation: whole-video summaries of the shared talks\n\n"
                "Appended by `bench/eval_talks.py`. *tokens in*: prompt tokens over all passes "
                "(evaluated: not served from the KV cache); *coverage*: share of transcript "
                "tokens that reached the model; *grounded* / *leaked*: share of the summary's "
                "content words found in the transcript / only in a few-shot answer "
                "(`engine.pipeline.checks.grounding`); *flags*: degenerate-output "
                "and reduced-context flags of the kept answer.\n",
                encoding="utf-8",
            )
        with RECORD.open("a", encoding="utf-8") as f:
            f.write("\n".join(block) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
