"""engine.pipeline.parts.tokens: the one length-based token estimate, at both callers' ratios."""

from __future__ import annotations

from engine.batch import estimate
from engine.pipeline.parts.tokens import estimate_tokens
from engine.pipeline.quotes.summary import _estimate_tokens


def test_the_generous_estimate_sizes_contexts() -> None:
    assert estimate.estimate_tokens is estimate_tokens
    assert [estimate_tokens(c) for c in (0, 2, 3, 2797, 10**6)] == [64, 64, 65, 996, 333_397]


def test_quote_parts_are_balanced_at_four_characters_a_token() -> None:
    # Quote part boundaries depend on these numbers: len // 4 + 1, as before issue 19.
    texts = ["", "abc", "abcd", "x" * 4001]
    assert _estimate_tokens(texts) == [len(t) // 4 + 1 for t in texts] == [1, 1, 2, 1001]
