"""Before a batch starts: its tokens, passes and time, from the transcripts' size and the
machine, so a huge input is announced (and, above ``BIG_SECONDS`` / ``BIG_TOKENS``, confirmed
by the face) before any model work.

Rough on purpose, and said to be: tokens are the generous count that sizes the context
(``estimate_tokens``, ~3 characters a token), passes follow the style's plan (quotes: five
stretches in groups that fit the context, then a final pass; abstractive: one pass when the
transcript fits, else notes per chunk and a final pass), and time is prompt and answer tokens
at speeds measured on the bundled Gemma 3 270M (BENCHMARKS.md), scaled by the model file's size
(CPU decoding is bound by memory bandwidth) and the threads. A GPU only makes it faster.

The default quote summary (``pick="rank"``) makes no model pass at all: 0 passes, and a time
from the measured speed of the ranking (``RANKED_CHARS_S``, one thread).

May import: the ground floor only (the pipeline computes the inputs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from engine.pipeline.parts.tokens import estimate_tokens
from engine.progress import eta_words
from engine.runs import Pick

# Above either, the faces ask before starting (CLI on a terminal, TUI dialog; `--yes` skips).
BIG_SECONDS = 600.0
BIG_TOKENS = 200_000

# BENCHMARKS.md (2026-11-24 settings table, Gemma 3 270M Q4_K_M, 2 cores): prompt 130-158
# tok/s (the lower end: the machine is rarely idle), decode with the grammar 15-40 tok/s
# (80+ with fast-forward and drafts): 30. rust.txt (quotes) estimates 38 s; it took 26-29 s
# at load 3.5-5 (BENCHMARKS.md, Busy machine).
_REF_MODEL_BYTES = 253_000_000
_REF_THREADS = 2
_REF_PROMPT_TOK_S = 130.0
_REF_DECODE_TOK_S = 30.0
# Tokens a pass answers with: a quote pick is short, an abstractive summary or notes longer.
_ANSWER_TOKENS = {"quotes": 150, "abstractive": 600}
# Prompt tokens of a pass that are not transcript: instructions, examples, the answer.
_QUOTE_OVERHEAD = 2048
_ABSTRACTIVE_OVERHEAD = 3072 + 3072


# The ranked quote path (engine.pipeline.quotes.summary.summarize_ranked: cutting, ranking,
# choosing, labels) measured 2026-12-06 on this 2-core shared machine: 113,000 chars/s on 5 MB of
# distinct seed sentences (44 s, peak RSS 275 MB), 104,000 on 5 MB of one seed repeated, 103,000 on
# 50 MB of distinct sentences (287k units, 483 s, peak RSS 1.9 GB); rounded down.
RANKED_CHARS_S = 100_000.0


@dataclass(frozen=True)
class Estimate:
    files: int
    chars: int
    tokens: int
    passes: int
    seconds: float
    threads: int

    @property
    def big(self) -> bool:
        """Worth a confirmation before starting (without a model pass, only a long time)."""
        if self.passes == 0:
            return self.seconds > BIG_SECONDS
        return self.seconds > BIG_SECONDS or self.tokens > BIG_TOKENS

    def words(self) -> str:
        """``~996 tokens, ~6 passes, about 0:38 on 2 CPU threads`` (ranked quotes: ``no model
        pass``)."""
        passes = (
            f"~{self.passes:,} pass{'' if self.passes == 1 else 'es'}"
            if self.passes
            else "no model pass"
        )
        return (
            f"~{self.tokens:,} tokens, {passes}, about {eta_words(self.seconds)} "
            f"on {self.threads} CPU thread{'' if self.threads == 1 else 's'}"
        )


def _passes(tokens: int, style: Literal["abstractive", "quotes"], n_ctx: int) -> int:
    if style == "quotes":
        groups = max(5, math.ceil(tokens / max(256, n_ctx - _QUOTE_OVERHEAD)))
        picks = 0 if groups == 5 else 5  # a part cut into groups needs a pass to pick from them
        return groups + picks + 1
    room = max(256, n_ctx - _ABSTRACTIVE_OVERHEAD)
    return 1 if tokens <= room else math.ceil(tokens / room) + 1


def estimate(
    char_counts: Sequence[int],
    style: Literal["abstractive", "quotes"],
    n_ctx: int,
    model_bytes: int,
    threads: int,
    pick: Pick = "model",
) -> Estimate:
    """The estimate for transcripts of ``char_counts`` characters, run in ``style`` with an
    ``n_ctx`` context on a model file of ``model_bytes`` with ``threads`` CPU threads; quotes
    picked by the ranking alone (``pick="rank"``) take no pass and one thread."""
    tokens = [estimate_tokens(c) for c in char_counts]
    if style == "quotes" and pick == "rank":
        seconds = sum(char_counts) / RANKED_CHARS_S
        return Estimate(len(tokens), sum(char_counts), sum(tokens), 0, seconds, 1)
    passes = sum(_passes(t, style, n_ctx) for t in tokens)
    speed = (_REF_MODEL_BYTES / max(model_bytes, 1)) * (max(threads, 1) / _REF_THREADS)
    seconds = sum(tokens) / (_REF_PROMPT_TOK_S * speed) + passes * _ANSWER_TOKENS[style] / (
        _REF_DECODE_TOK_S * speed
    )
    return Estimate(len(tokens), sum(char_counts), sum(tokens), passes, seconds, threads)
