"""Cutting a transcript's text into *units*, the only places a part or a chunk may end, and
scoring each cut.

Units are cues, sentences, or at most ``MAX_UNIT_CHARS``, contiguous and covering the text
exactly. The cut before each unit has a *strength*: a long pause between cues is the best place
to cut, then a sentence end at a cue end, a sentence end, a cue end, a word gap; a cut between
two characters of a word happens only in a run of non-space text longer than ``MAX_UNIT_CHARS``
(not a word any more). ``engine.pipeline.parts.chunking.TextMap`` counts the units' tokens and
cuts runs of them into parts and chunks.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from engine.progress import CancelToken, check
from engine.transcripts.types import Transcript

# Units are at most this long, so a chunk can always be cut finely enough to fit a context.
MAX_UNIT_CHARS = 320
# Word-split pieces of an over-long sentence aim for this length.
WORD_PIECE_CHARS = 200
# Gaps between cues shorter than this are not pauses (auto-captions have 10 ms gaps).
MIN_PAUSE_S = 0.3

# Boundary strengths (see the module doc); ``chunking.WINDOW`` says how far they move a cut.
S_CHAR = -4.0
S_WORD = 0.0
S_CUE = 1.0
S_SENTENCE = 1.5
S_SENTENCE_CUE = 2.0
PAUSE_BONUS_PER_S = 0.5
PAUSE_BONUS_MAX = 1.5

# Loop steps between cancel checks in the pure-Python passes over the units.
CHECK_EVERY = 4096

_SENTENCE_END = re.compile(r"[.!?…。！？](?:[\"'”’)\]]*)\s+")
_SENTENCE_TAIL = re.compile(r"[.!?…。！？][\"'”’)\]]*\s*$")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Unit:
    """``text[start:end]``."""

    start: int
    end: int


def segment_spans(t: Transcript) -> list[tuple[int, int]]:
    """Character range of each segment's text in ``t.text`` (empty when untimed)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for seg in t.segments:
        s = t.text.find(seg.text, pos) if seg.text else pos
        if s < 0:
            # The text is documented to be the segments joined; if a reader ever breaks that,
            # lose the timings rather than mis-time the sections.
            return []
        spans.append((s, s + len(seg.text)))
        pos = s + len(seg.text)
    return spans


def cut_units(
    text: str, seg_spans: list[tuple[int, int]], t: Transcript, cancel: CancelToken | None = None
) -> tuple[list[Unit], list[float]]:
    """Contiguous units covering ``text`` and the strength of the cut before each unit (a
    cancel is seen every ``CHECK_EVERY`` steps: these loops take seconds on a 50 MB text)."""
    # Pieces: (start, strength of the cut before it). Cue starts first, then sentence starts.
    cut_strength: dict[int, float] = {}
    if seg_spans:
        segs = t.segments
        for i in range(1, len(seg_spans)):
            if i % CHECK_EVERY == 0:
                check(cancel)
            start = seg_spans[i][0]
            if start <= 0 or start >= len(text):
                continue
            prev_text = text[seg_spans[i - 1][0] : seg_spans[i - 1][1]]
            gap = segs[i].start - segs[i - 1].end
            strength = S_SENTENCE_CUE if _SENTENCE_TAIL.search(prev_text) else S_CUE
            if gap >= MIN_PAUSE_S:
                strength += min(PAUSE_BONUS_MAX, PAUSE_BONUS_PER_S * gap)
            cut_strength[start] = max(cut_strength.get(start, S_CUE), strength)
    for n, m in enumerate(_SENTENCE_END.finditer(text)):
        if n % CHECK_EVERY == 0:
            check(cancel)
        pos = m.end()
        if 0 < pos < len(text):
            cut_strength[pos] = max(cut_strength.get(pos, S_SENTENCE), S_SENTENCE)
    starts = sorted({0, *cut_strength})
    units: list[Unit] = []
    strengths: list[float] = []
    for n, (a, b) in enumerate(itertools.pairwise([*starts, len(text)])):
        if n % CHECK_EVERY == 0:
            check(cancel)
        if b <= a:
            continue
        pieces = _split_long(text, a, b)
        for n, (pa, pb) in enumerate(pieces):
            units.append(Unit(pa, pb))
            if n == 0:
                strengths.append(cut_strength.get(pa, 0.0) if pa else 0.0)
            else:
                strengths.append(S_WORD if text[pa - 1].isspace() else S_CHAR)
    strengths.append(0.0)  # the end of the text
    return units, strengths


def _split_long(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """Split ``text[a:b]`` into pieces of at most ``MAX_UNIT_CHARS`` at word gaps; a run of
    non-space text longer than that (not a word) is cut between characters."""
    if b - a <= MAX_UNIT_CHARS:
        return [(a, b)]
    out: list[tuple[int, int]] = []
    start = a
    last_gap = None  # position after the last whitespace run since `start`
    for m in _SPACE.finditer(text, a, b):
        gap_end = m.end()
        if gap_end - start > WORD_PIECE_CHARS and last_gap is not None and last_gap > start:
            out.append((start, last_gap))
            start = last_gap
        while gap_end - start > MAX_UNIT_CHARS:
            # No word gap within reach: a non-space run longer than a unit.
            out.append((start, start + MAX_UNIT_CHARS))
            start += MAX_UNIT_CHARS
        last_gap = gap_end
    if b - start > WORD_PIECE_CHARS and last_gap is not None and start < last_gap < b:
        out.append((start, last_gap))
        start = last_gap
    while b - start > MAX_UNIT_CHARS:
        out.append((start, start + MAX_UNIT_CHARS))
        start += MAX_UNIT_CHARS
    if b > start:
        out.append((start, b))
    return out
