"""Token budgets of the long-form passes: what must stay free, and the summary configurations.

How many tokens an answer needs (from the model's own characters per token on the few-shot
answers), the safety margins kept beyond every estimate, and the ladder of summary
configurations tried richest first. Imports the grammars, the notes' limits and the examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.pipeline.prompts.grammar import summary_constraint
from engine.pipeline.prompts.notes import (
    COMPACT_LIMITS,
    FULL_LIMITS,
    SummaryLimits,
    compact_constraint,
)
from engine.pipeline.prompts.prompting import load_examples
from engine.runtime.base import Backend, Constraint

# Tokens kept free beyond every estimate (the unit token counts are sums over pieces).
SAFETY_TOKENS = 32
# The answer reserve assumes the model writes this share of the characters per token that the
# few-shot answers take with its own tokenizer (strings filled to their limits tokenize worse).
RESERVE_SAFETY = 0.85
# A chunk smaller than this is not worth a notes pass: the context is too small.
MIN_CHUNK_TOKENS = 256

GrammarKind = Literal["full", "compact"]


@dataclass(frozen=True)
class Config:
    """Few-shot examples and grammar of the pass that writes the summary."""

    examples: int
    grammar: GrammarKind

    @property
    def limits(self) -> SummaryLimits:
        return FULL_LIMITS if self.grammar == "full" else COMPACT_LIMITS

    def constraint(self) -> Constraint:
        return summary_constraint() if self.grammar == "full" else compact_constraint()


# Richest first: the first that fits is used.
LADDER: tuple[Config, ...] = (Config(2, "full"), Config(0, "full"), Config(0, "compact"))

_CHARS_PER_TOKEN: dict[str, float] = {}


def chars_per_token(runner: Backend) -> float:
    """Characters per token this model's tokenizer gives summary-like JSON, with a safety
    margin (measured on the few-shot answers; cached per model file)."""
    key = str(runner.info.path)
    if key not in _CHARS_PER_TOKEN:
        answers = [e.answer for e in load_examples()]
        counts = runner.count_tokens(answers)
        _CHARS_PER_TOKEN[key] = (
            min(len(a) / max(1, n) for a, n in zip(answers, counts, strict=True)) * RESERVE_SAFETY
        )
    return _CHARS_PER_TOKEN[key]
