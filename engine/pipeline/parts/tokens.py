"""A text's tokens guessed from its length, for when no tokenizer is loaded: the one estimate.

Two callers, two ratios: sizing a context wants a generous guess (~3 characters a token, plus
room for the template: ``engine.batch.estimate``), balancing the quote parts wants a fair one
(~4 characters a token: ``engine.pipeline.quotes.summary``, whose part boundaries depend on it).
"""

from __future__ import annotations

GENEROUS_CHARS_PER_TOKEN = 3


def estimate_tokens(
    chars: int, *, chars_per_token: int = GENEROUS_CHARS_PER_TOKEN, extra: int = 64
) -> int:
    """About ``chars / chars_per_token`` tokens, plus ``extra``. The default is deliberately
    generous, so a context sized by it is never too small; the real count is taken with the
    model's tokenizer before generation."""
    return chars // chars_per_token + extra
