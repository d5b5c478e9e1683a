"""Quote mode's grammar: a section's four bullets picked among a part's candidate quotes.

The four bullets are an alternation of the quotes' exact JSON literals, picked in transcript
order (so distinct); the title is ``Section N: `` plus words of that stretch; topics are
phrases of it. Imports the grammar building blocks and the quotes.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine import schema
from engine.pipeline.prompts.grammar import GbnfBuilder, gbnf_literal, json_literal
from engine.pipeline.quotes.text import MAX_WORD_CHARS, Quote
from engine.runtime.base import Constraint

TITLE_WORDS = (schema.MAX_TITLE - len("Section 5: ")) // (MAX_WORD_CHARS + 1)


def _ordered_pick(b: GbnfBuilder, name: str, items: Sequence[str], k: int, sep: str) -> str:
    """``k`` of ``items`` (expressions) in increasing index order, joined by ``sep``.

    ``{name}-K-I`` is "K more from items I.."; linear in ``len(items)``. With fewer than ``k``
    items, items may repeat (still in order): a part too short to hold four quotes.
    """
    n = len(items)
    if n == 0:
        raise ValueError("nothing to pick from")
    if n < k:
        return f" {gbnf_literal(sep)} ".join([f"({' | '.join(items)})"] * k)
    for left in range(1, k + 1):
        for i in range(n - left, -1, -1):
            head = (
                items[i]
                if left == 1
                else f"{items[i]} {gbnf_literal(sep)} {name}-{left - 1}-{i + 1}"
            )
            alts = [head]
            if i + 1 <= n - left:
                alts.append(f"{name}-{left}-{i + 1}")
            b.rule(f"{name}-{left}-{i}", " | ".join(alts))
    return f"{name}-{k}-0"


def _words_string(b: GbnfBuilder, name: str, word: str, max_words: int, prefix: str = "") -> str:
    more = f'(" " {word}){{0,{max_words - 1}}}' if max_words > 1 else ""
    return b.rule(name, f"{gbnf_literal(chr(34) + prefix)} {word} {more} {gbnf_literal(chr(34))}")


def _word_rule(b: GbnfBuilder, name: str, words: Sequence[str]) -> str:
    if not words:
        raise ValueError("no words to build from")
    return b.rule(name, " | ".join(gbnf_literal(w) for w in words))


def _topics(b: GbnfBuilder, name: str, phrases: Sequence[str], k: int) -> str:
    """``k`` distinct topic phrases, in order of first use."""
    items = [b.rule(f"{name}-p{i}", json_literal(p)) for i, p in enumerate(phrases)]
    return f'"[" {_ordered_pick(b, name, items, k, ",")} "]"'


def section_grammar(
    n: int, quotes: Sequence[Quote], words: Sequence[str], phrases: Sequence[str]
) -> str:
    """``{"content":[4 quotes in order],"title":"Section n: words","topics":[3 phrases]}``."""
    b = GbnfBuilder()
    b.rule("root", "section")
    lits = [b.rule(f"q{i}", json_literal(q.text)) for i, q in enumerate(quotes)]
    content = _ordered_pick(b, "pick", lits, schema.N_SECTION_BULLETS, ",")
    word = _word_rule(b, "word", words)
    title = _words_string(b, "title", word, TITLE_WORDS, prefix=f"Section {n}: ")
    topics = _topics(b, "topics", phrases, schema.N_SECTION_TOPICS)
    b.rule(
        "section",
        b.obj([("content", f'"[" {content} "]"'), ("title", title), ("topics", topics)]),
    )
    return b.render([f"Quote-mode grammar for section {n} (engine/pipeline/quotes/summary.py)."])


def section_constraint(
    n: int, quotes: Sequence[Quote], words: Sequence[str], phrases: Sequence[str]
) -> Constraint:
    """``section_grammar`` for a backend (no JSON schema: any JSON object where only a schema
    is taken; the answer is validated by the caller)."""
    return Constraint(f"section-{n}", section_grammar(n, quotes, words, phrases))
