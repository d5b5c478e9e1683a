"""Quote mode's raw material: the transcript's sentences as quotes, and its words.

A part's text is cut into *quotes*: sentences, or caption groups for unpunctuated captions,
whitespace-normalized and at most ``schema.MAX_BULLET`` characters (an over-long sentence is
already split at word gaps into units of the text map). Topic and title words come from the
same text. Imports the schema, the text map and the stop words.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine import schema
from engine.pipeline.chunking import S_CUE, S_SENTENCE, Span, TextMap
from engine.pipeline.words import _STOP

# A quote ends at a sentence end once it has this many characters ...
MIN_QUOTE_CHARS = 40
# ... or at any cue end once it has this many (unpunctuated captions).
TARGET_QUOTE_CHARS = 160
# Words used in titles and topics: at most this long, so the word counts in
# ``engine.pipeline.quote_grammar`` keep every string inside the schema's limits.
MAX_WORD_CHARS = 15
MAX_VOCABULARY = 400

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


@dataclass(frozen=True)
class Quote:
    text: str  # whitespace-normalized, no control characters, 1..MAX_BULLET characters
    start_char: int
    end_char: int
    start_s: float | None

    @property
    def json(self) -> str:
        return json.dumps(self.text, ensure_ascii=False)


def clean(text: str) -> str:
    """Whitespace runs to one space, control characters dropped, ends stripped."""
    return " ".join(schema.CONTROL_RE.sub(" ", text).split())


def quotes_of(text_map: TextMap, part: Span) -> list[Quote]:
    """The part's text as quotes: runs of units ending at a sentence end (or, when long
    enough, a cue end), never longer than a bullet. Distinct texts only (first kept)."""
    lo = bisect.bisect_left(text_map.bounds, part.start_char)
    hi = bisect.bisect_left(text_map.bounds, part.end_char)
    out: list[Quote] = []
    seen: set[str] = set()

    def flush(a: int, b: int, text: str) -> None:
        if text and text not in seen:
            seen.add(text)
            start = text_map.time(a)
            if start is not None and part.start_s is not None and part.end_s is not None:
                start = min(max(start, part.start_s), part.end_s)
            out.append(Quote(text, text_map.char(a), text_map.char(b), start))

    a, text = lo, ""
    for i in range(lo, hi):
        piece = clean(text_map.text[text_map.char(i) : text_map.char(i + 1)])
        joined = f"{text} {piece}".strip()
        if len(joined) > schema.MAX_BULLET and text:
            flush(a, i, text)
            a, joined = i, piece
        text = joined
        after = text_map.strength[i + 1] if i + 1 < text_map.n_units else S_SENTENCE
        if (after >= S_SENTENCE and len(text) >= MIN_QUOTE_CHARS) or (
            after >= S_CUE and len(text) >= TARGET_QUOTE_CHARS
        ):
            flush(a, i + 1, text)
            a, text = i + 1, ""
    flush(a, hi, text)
    return _at_least_four(out)


def _at_least_four(quotes: list[Quote]) -> list[Quote]:
    """Split the longest quotes at their middle word gap until there are four (a short part)."""
    quotes = list(quotes)
    while len(quotes) < schema.N_SECTION_BULLETS:
        i = max(range(len(quotes)), key=lambda k: len(quotes[k].text.split()), default=None)
        if i is None or len(quotes[i].text.split()) < 2:
            break
        words = quotes[i].text.split()
        half = len(words) // 2
        q = quotes[i]
        first, second = " ".join(words[:half]), " ".join(words[half:])
        mid = q.start_char + len(first)
        quotes[i : i + 1] = [
            Quote(first, q.start_char, mid, q.start_s),
            Quote(second, mid, q.end_char, q.start_s),
        ]
    return quotes


def phrases_of(texts: Sequence[str], limit: int = MAX_VOCABULARY) -> list[str]:
    """Topic candidates: content words (not stop words, 3+ letters) and pairs of adjacent
    content words of ``texts``; the ``limit`` most frequent, in order of first use. Falls
    back to every word when there is no content word."""
    counts: dict[str, int] = {}
    for text in texts:
        ws = [
            w if len(w) <= MAX_WORD_CHARS and w.lower() not in _STOP and len(w) > 2 else None
            for w in _WORD.findall(text)
        ]
        for i, w in enumerate(ws):
            if w is None:
                continue
            counts[w] = counts.get(w, 0) + 1
            nxt = ws[i + 1] if i + 1 < len(ws) else None
            if nxt is not None:
                counts[f"{w} {nxt}"] = counts.get(f"{w} {nxt}", 0) + 1
    if not counts:
        return words_of(texts, limit)
    keep = set(sorted(counts, key=lambda w: -counts[w])[:limit])
    return [w for w in counts if w in keep]


def words_of(texts: Sequence[str], limit: int = MAX_VOCABULARY) -> list[str]:
    """Distinct words of ``texts`` (letters/digits, inner ' or -), at most ``MAX_WORD_CHARS``
    long; the ``limit`` most frequent, in order of first use."""
    counts: dict[str, int] = {}
    for text in texts:
        for w in _WORD.findall(text):
            if len(w) <= MAX_WORD_CHARS:
                counts[w] = counts.get(w, 0) + 1
    keep = set(sorted(counts, key=lambda w: -counts[w])[:limit])
    return [w for w in counts if w in keep]
