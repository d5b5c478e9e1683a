"""Quote mode's raw material: the transcript's sentences as quotes, and its words.

A part's text is cut into *quotes*: the sentence-like units of ``engine.pipeline.quotes.sentences``
(whole sentences joined across cues, verbatim clauses of long ones, units rebuilt from pauses
for unpunctuated captions; speaker labels and stage text left out, back-channel marked),
whitespace-normalized and at most ``schema.MAX_BULLET`` characters. Topic and title words come
from the same text. Imports the schema, the text map, the units and the stop words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine import schema
from engine.pipeline.checks.words import _STOP
from engine.pipeline.parts.chunking import Span, TextMap
from engine.pipeline.quotes.sentences import halves, is_filler, units_of

# Words used in titles and topics: at most this long, so the word counts in
# ``engine.pipeline.quotes.grammar`` keep every string inside the schema's limits.
MAX_WORD_CHARS = 15
MAX_VOCABULARY = 400

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


@dataclass(frozen=True)
class Quote:
    text: str  # whitespace-normalized, no control characters, 1..MAX_BULLET characters
    start_char: int
    end_char: int
    start_s: float | None
    speaker: str | None = None  # the speaker label in force ("DAVID MALAN"), never in ``text``
    filler: bool = False  # back-channel ("OK, good.") or too few content words: never a bullet

    @property
    def json(self) -> str:
        return json.dumps(self.text, ensure_ascii=False)


def clean(text: str) -> str:
    """Whitespace runs to one space, control characters dropped, ends stripped."""
    return " ".join(schema.CONTROL_RE.sub(" ", text).split())


def quotes_of(text_map: TextMap, part: Span) -> list[Quote]:
    """The part's text as quotes: its sentence-like units (``engine.pipeline.quotes.sentences``),
    each at most a bullet long. Distinct texts only (first kept)."""
    out: list[Quote] = []
    seen: set[str] = set()
    last = part.start_s
    for u in units_of(text_map, part.start_char, part.end_char):
        text = clean(text_map.text[u.start : u.end])
        if not text or text in seen:
            continue
        seen.add(text)
        start = text_map.time_at(u.start)
        if start is not None and part.start_s is not None and part.end_s is not None:
            start = min(max(start, part.start_s), part.end_s)
        if start is not None and last is not None:
            start = max(start, last)  # overlapping cues must not put a quote back in time
        last = start
        out.append(Quote(text, u.start, u.end, start, u.speaker, u.filler))
    return _at_least_four(out, text_map.text)


def _at_least_four(quotes: list[Quote], text: str) -> list[Quote]:
    """Cut the longest quotes in two at a clause boundary near their middle until there are
    four (a short part)."""
    quotes = list(quotes)
    while len(quotes) < schema.N_SECTION_BULLETS:
        i = max(range(len(quotes)), key=lambda k: len(quotes[k].text.split()), default=None)
        cut = None if i is None else halves(text, quotes[i].start_char, quotes[i].end_char)
        if i is None or cut is None:
            break
        q = quotes[i]
        first, second = clean(text[q.start_char : cut[0]]), clean(text[cut[1] : q.end_char])
        quotes[i : i + 1] = [
            Quote(first, q.start_char, cut[0], q.start_s, q.speaker, is_filler(first)),
            Quote(second, cut[1], q.end_char, q.start_s, q.speaker, is_filler(second)),
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
