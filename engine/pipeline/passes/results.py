"""What a long-form or quote summary run returns: the summary and the record of its passes.

Value types only; imports the chunking spans, the runtime's ``Generation`` and the budget's
``Config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from engine.pipeline.parts.chunking import Span
from engine.pipeline.passes.budget import Config
from engine.runtime.base import Generation
from engine.schema import Summary

PassKind = Literal["one-pass", "notes", "merge", "final", "section"]


@dataclass(frozen=True)
class PassRecord:
    kind: PassKind
    part: int | None  # 1-based part the pass is about (None: the whole video)
    prompt_tokens: int
    prompt_evaluated: int  # the rest came from the KV cache
    generated_tokens: int
    seconds: float
    attempts: int


@dataclass(frozen=True)
class ChunkRecord:
    """A stretch of the transcript that reached the model in one prompt."""

    part: int  # 1-based
    start_char: int
    end_char: int
    start_s: float | None
    end_s: float | None
    tokens: int  # exact token count of the stretch
    seconds: float  # time of the pass that read it

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "part": self.part,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class LongformResult:
    summary: Summary  # sections carry start/end when the transcript is timed
    flags: list[str]  # degenerate-output flags of the kept answer (empty: clean)
    mode: Literal["one-pass", "multi-pass"]
    config: Config
    fraction: float  # transcript tokens that reached the model / transcript tokens
    transcript_tokens: int
    parts: list[Span]
    chunks: list[ChunkRecord]
    passes: list[PassRecord]
    generation: Generation  # totals over every pass; text is the final answer
    n_ctx: int

    def all_flags(self) -> list[str]:
        """Quality flags, then what a user should know about a reduced configuration."""
        out = list(self.flags)
        if self.config.examples == 0:
            out.append(
                f"no_few_shot: no room for few-shot examples in the {self.n_ctx}-token context"
            )
        if self.config.grammar == "compact":
            out.append(
                "compact_grammar: shorter strings than usual, to fit the answer in the "
                f"{self.n_ctx}-token context"
            )
        return out


def total_generation(g: Sequence[Generation]) -> Generation:
    """Totals over every pass; text and stop reason of the last."""
    return Generation(
        text=g[-1].text,
        prompt_tokens=sum(x.prompt_tokens for x in g),
        prompt_evaluated=sum(x.prompt_evaluated for x in g),
        prompt_seconds=sum(x.prompt_seconds for x in g),
        generated_tokens=sum(x.generated_tokens for x in g),
        generation_seconds=sum(x.generation_seconds for x in g),
        stop_reason=g[-1].stop_reason,
    )
