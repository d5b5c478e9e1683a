"""Which abstractive prompt keeps a small base model on its own video? (issue 9, item 3)

    python bench/abstractive_variants.py [--model ID|PATH] [--ctx 8192] [--only NAME ...]
                                         [--variants two-examples zero-shot one-short]

Runs one grammar-constrained one-pass summary per transcript and prompt variant on one loaded model
(default: vidsum's, i.e. the bundled Gemma 3 270M when nothing else is installed) and prints
grounded / leaked (``engine.pipeline.checks.grounding``) and the quality flags for each, then the
mean per variant. Inputs: the seed run's transcripts (``../shared/data/seed-run/transcripts`` and
the two seed examples' transcripts). Variants:

- ``two-examples``: what vidsum does when they fit (the first two few-shot examples);
- ``zero-shot``: instructions and the grammar only;
- ``one-short``: one example whose transcript parts are cut to their first sentences (the
  answer stays whole), so the example is a pattern, not a text to continue.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.batch.summary import chat_spec  # noqa: E402
from engine.errors import GenerationError  # noqa: E402
from engine.modelstore.manager import resolve_model  # noqa: E402
from engine.pipeline.checks.grounding import measure  # noqa: E402
from engine.pipeline.checks.quality import check_summary  # noqa: E402
from engine.pipeline.checks.validate import parse_summary  # noqa: E402
from engine.pipeline.longform.multipass import MultiPassJob  # noqa: E402
from engine.pipeline.prompts.grammar import summary_constraint  # noqa: E402
from engine.pipeline.prompts.instructions import instructions  # noqa: E402
from engine.pipeline.prompts.prompting import (  # noqa: E402
    ChatSpec,
    Message,
    build_summary_prompt,
    defuse,
    load_examples,
    render_messages,
    user_message,
)
from engine.runtime.base import LoadOptions, Sampling  # noqa: E402
from engine.runtime.llamacpp.runner import LlamaRunner  # noqa: E402
from engine.transcripts.readers import load_transcript  # noqa: E402
from engine.transcripts.types import Transcript  # noqa: E402

SEED = (REPO.parent / "shared" / "data" / "seed-run").resolve()
VARIANTS = ("two-examples", "zero-shot", "one-short")
# Characters of each example part kept by "one-short".
SHORT_PART = 300


def inputs() -> list[Path]:
    return sorted((SEED / "transcripts").glob("*.txt")) + sorted((SEED / "examples").glob("*.txt"))


def shortened(transcript: str) -> str:
    """Each ``[Part N]`` block of an example transcript cut to about SHORT_PART characters,
    at a sentence end."""
    blocks = re.split(r"(\[Part [1-5]\]\n)", transcript)
    out = []
    for piece in blocks:
        if piece.startswith("[Part"):
            out.append(piece)
        elif piece.strip():
            cut = piece[:SHORT_PART]
            end = cut.rfind(". ")
            out.append((cut[: end + 1] if end > 0 else cut).strip() + "\n\n")
    return "".join(out).strip()


def prompt_for(variant: str, t: Transcript, marked: str, chat: ChatSpec) -> tuple[str, list[str]]:
    """(prompt text, example answers shown)."""
    if variant == "two-examples":
        p = build_summary_prompt(marked, chat, title=t.meta.title, exclude_hash=t.content_hash)
        shown = [e.answer for e in load_examples() if e.name in p.example_names]
        return p.text, shown
    if variant == "zero-shot":
        p = build_summary_prompt(marked, chat, title=t.meta.title, n_examples=0)
        return p.text, []
    ex = load_examples()[0]
    messages = [
        Message("system", instructions()),
        Message("user", defuse(user_message(shortened(ex.transcript), ex.title), chat)),
        Message("assistant", ex.answer),
        Message("user", defuse(user_message(marked, t.meta.title), chat)),
    ]
    return render_messages(messages, chat, add_generation_prompt=True), [ex.answer]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--ctx", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    args = ap.parse_args(argv)
    files = inputs()
    if args.only:
        files = [f for f in files if any(s in f.name for s in args.only)]
    model = resolve_model(args.model)
    scores: dict[str, list[tuple[float, float]]] = {v: [] for v in args.variants}
    print("| transcript | variant | grounded | leaked | flags | seconds |")
    print("|---|---|---|---|---|---|", flush=True)
    with LlamaRunner(
        LoadOptions(model_path=model.path, n_ctx=args.ctx, n_threads=args.threads)
    ) as runner:
        info = runner.load()
        chat = chat_spec(info, runner, model.chat_format)
        for path in files:
            t = load_transcript(path)
            job = MultiPassJob(t, runner, chat, Sampling(seed=args.seed), None, None, 1)
            marked = job.marked_text()
            for variant in args.variants:
                text, shown = prompt_for(variant, t, marked, chat)
                n = len(runner.tokenize(text))
                start = time.monotonic()
                gen = runner.generate(
                    text,
                    constraint=summary_constraint(),
                    sampling=Sampling(seed=args.seed, max_tokens=max(256, info.n_ctx - n)),
                )
                seconds = time.monotonic() - start
                try:
                    s = job.with_times(parse_summary(gen.text))
                except GenerationError as exc:
                    print(f"| {path.name} | {variant} | | | invalid: {exc} | {seconds:.0f} |")
                    continue
                g = measure(s, t.text)
                flags = check_summary(s, examples=shown, transcript=t.text, parts=job.part_texts)
                codes = ", ".join(sorted({f.code for f in flags})) or "none"
                scores[variant].append((g.grounded, g.leaked))
                print(
                    f"| {path.name} | {variant} | {g.grounded:.2f} | {g.leaked:.2f} | {codes} | "
                    f"{seconds:.0f} |",
                    flush=True,
                )
    print()
    print("| variant | mean grounded | mean leaked | runs |")
    print("|---|---|---|---|")
    for variant, vals in scores.items():
        if vals:
            print(
                f"| {variant} | {statistics.mean(v[0] for v in vals):.2f} | "
                f"{statistics.mean(v[1] for v in vals):.2f} | {len(vals)} |"
            )
    print(f"\nmodel {model.id} ({model.path.name}), n_ctx {info.n_ctx}, seed {args.seed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
