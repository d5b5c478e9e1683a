"""Splitting a transcript into the five parts that become the five sections, and a part into
chunks that fit a context.

Everything here is plain Python over the transcript's text; token counts come from a
``TokenCounter`` (the loaded model's tokenizer in the pipeline, any function in tests).

The text is first cut into small *units* (``engine.pipeline.parts.units``: cue / sentence /
at most ``MAX_UNIT_CHARS``), whose ends are the only places a part or a chunk may end, each end
with a *strength* (how good a cut it is). Units are contiguous and cover the text exactly, so
parts and chunks (runs of units) do too. ``TextMap`` holds the units, their token counts and
times, and cuts runs of them.

Parts come from chapters when the transcript has at least two that map onto its timings
(merged or split to get exactly five, balancing duration); otherwise the text is split into
five runs of balanced token count, each cut at the strongest boundary near its target
(``by="length"``), or where the topic changes (``by="topic"``, ``engine.pipeline.parts.segment``;
runs of balanced length when the text is too short to measure).
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from engine.pipeline.parts.segment import topic_boundaries
from engine.pipeline.parts.units import CHECK_EVERY, Unit, cut_units, segment_spans
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit
from engine.transcripts.chapters import parse_description_chapters
from engine.transcripts.types import Chapter, Transcript

N_PARTS = 5
# A cut is scored strength - (distance / window)^2 (strengths: ``units``) with the window a
# share of the ideal run size: a pause (up to 3.5) may move a cut about 11% of a run away from
# its ideal place, a sentence end (1.5) about 7%.
WINDOW = 0.06

TokenCounter = Callable[[list[str]], list[int]]
PartMode = Literal["length", "topic"]
# Units per tokenizer call: a 50 MB text is ~250k units, counted in calls of this many so a
# cancel is seen (and progress shown) every few hundred ms instead of after minutes.
COUNT_BATCH = 1024
# Texts from this many characters report the ``tokenize`` stage (cutting and counting take
# seconds from here on; a normal transcript is a few hundred thousand characters at most).
LONG_TEXT = 1 << 20


@dataclass(frozen=True)
class Span:
    """A contiguous stretch of the transcript: ``text[start_char:end_char]``."""

    index: int
    start_char: int
    end_char: int
    start_s: float | None  # None when the transcript has no timings
    end_s: float | None
    tokens: int  # sum of the units' token counts (an exact count is taken before a prompt)
    title: str | None = None  # chapter title(s) a part comes from

    @property
    def empty(self) -> bool:
        return self.end_char <= self.start_char


class TextMap:
    """The transcript's units, their token counts and the time at every unit boundary."""

    def __init__(
        self,
        transcript: Transcript,
        count_tokens: TokenCounter,
        *,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.transcript = transcript
        self.text = transcript.text
        self.cancel = cancel  # also seen while cutting: a 50 MB text has ~500k units
        if len(self.text) >= LONG_TEXT:
            emit(progress, Progress("tokenize", 0, len(self.text), unit="chars"))
        else:
            progress = None
        seg_spans = segment_spans(transcript)
        self.seg_spans = seg_spans
        self.seg_starts = [s for s, _ in seg_spans]
        units, strengths = cut_units(self.text, seg_spans, transcript, cancel)
        self.units = units
        # strength[i]: how good a cut *before* unit i is (i = 0 and i = len(units) are the ends).
        self.strength = strengths
        counts = _count_units(self.text, units, count_tokens, cancel, progress)
        if len(counts) != len(units):
            raise ValueError("the token counter returned the wrong number of counts")
        self.cum = [0]
        for c in counts:
            self.cum.append(self.cum[-1] + c)
        self.bounds = [u.start for u in units] + [len(self.text)]
        self.times = self._boundary_times() if seg_spans else None

    # --- positions ----------------------------------------------------------------------------

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def total_tokens(self) -> int:
        return self.cum[-1]

    def char(self, b: int) -> int:
        """Character offset of unit boundary ``b`` (0..n_units)."""
        return self.bounds[b]

    def time(self, b: int) -> float | None:
        return None if self.times is None else self.times[b]

    def tokens(self, lo: int, hi: int) -> int:
        return self.cum[hi] - self.cum[lo]

    def span(self, index: int, lo: int, hi: int, title: str | None = None) -> Span:
        return Span(
            index,
            self.char(lo),
            self.char(hi),
            self.time(lo),
            self.time(hi),
            self.tokens(lo, hi),
            title,
        )

    def time_at(self, c: int) -> float | None:
        """The time at character ``c`` (interpolated inside a cue); None when untimed."""
        if not self.seg_spans:
            return None
        segs = self.transcript.segments
        i = bisect.bisect_right(self.seg_starts, c) - 1
        if i < 0:
            return segs[0].start
        s, e = self.seg_spans[i]
        if c >= e and i + 1 < len(segs):
            return segs[i + 1].start  # in the space between two cues
        if c >= e:
            return segs[i].end
        return segs[i].start + (segs[i].end - segs[i].start) * (c - s) / max(1, e - s)

    def _boundary_times(self) -> list[float]:
        out = [t for c in self.bounds if (t := self.time_at(c)) is not None]
        # Caption timings may overlap or jitter; boundaries must never go back in time.
        for i in range(1, len(out)):
            out[i] = max(out[i], out[i - 1])
        return out

    # --- splitting ----------------------------------------------------------------------------

    def cuts(self, lo: int, hi: int, k: int, max_tokens: int | None = None) -> list[int] | None:
        """``k + 1`` boundaries ``lo = b0 <= b1 <= ... <= bk = hi`` splitting units ``[lo, hi)``
        into ``k`` runs of balanced token count, each cut at the best boundary near its
        target. With ``max_tokens`` every run holds at most that many tokens (None when that
        is impossible with ``k`` runs). Runs are empty only when there are fewer units than k.
        """
        if k <= 1:
            if max_tokens is not None and self.tokens(lo, hi) > max_tokens:
                return None
            return [lo, hi]
        if hi - lo < k:
            # Fewer units than runs: one unit each, the rest empty at the end.
            if max_tokens is not None and any(
                self.tokens(i, i + 1) > max_tokens for i in range(lo, hi)
            ):
                return None
            return [*range(lo, hi + 1), *([hi] * (k - (hi - lo)))]
        out = [lo]
        pos = lo
        for j in range(k - 1):
            left = k - j
            ideal = self.tokens(pos, hi) / left
            target = self.cum[pos] + ideal
            window = max(ideal * WINDOW, 1.0)
            best: tuple[float, int] | None = None
            for i in range(pos + 1, hi - (left - 2)):
                if i % CHECK_EVERY == 0:
                    check(self.cancel)
                size = self.tokens(pos, i)
                if max_tokens is not None:
                    if size > max_tokens:
                        break
                    if self.tokens(i, hi) > max_tokens * (left - 1):
                        continue
                score = self.strength[i] - ((self.cum[i] - target) / window) ** 2
                if best is None or score > best[0]:
                    best = (score, i)
            if best is None:
                return None
            pos = best[1]
            out.append(pos)
        if max_tokens is not None and self.tokens(pos, hi) > max_tokens:
            return None
        out.append(hi)
        return out

    def chunk(self, part: Span, max_tokens: int) -> list[Span]:
        """Split a part into the fewest balanced chunks of at most ``max_tokens`` tokens."""
        lo = bisect.bisect_left(self.bounds, part.start_char)
        hi = bisect.bisect_left(self.bounds, part.end_char)
        if hi <= lo:
            return [replace(part, index=0, title=None)]
        biggest = max(self.tokens(i, i + 1) for i in range(lo, hi))
        if biggest > max_tokens:
            raise ChunkTooSmall(biggest, max_tokens)
        k = max(1, math.ceil(self.tokens(lo, hi) / max_tokens))
        while True:
            cuts = self.cuts(lo, hi, k, max_tokens)
            if cuts is not None:
                return [self.span(n, a, b) for n, (a, b) in enumerate(itertools.pairwise(cuts))]
            k += 1


class ChunkTooSmall(ValueError):
    """One unit of text needs more tokens than a chunk may hold (the context is too small)."""

    def __init__(self, needed: int, room: int) -> None:
        super().__init__(f"a piece of the transcript needs {needed} tokens, a chunk holds {room}")
        self.needed = needed
        self.room = room


# --- token counts -------------------------------------------------------------------------------


def _count_units(
    text: str,
    units: Sequence[Unit],
    count_tokens: TokenCounter,
    cancel: CancelToken | None,
    progress: ProgressCallback | None,
) -> list[int]:
    """Token counts of the units, ``COUNT_BATCH`` per call, checking ``cancel`` between calls;
    progress in characters (stage ``tokenize``)."""
    counts: list[int] = []
    started = time.monotonic()
    for lo in range(0, len(units), COUNT_BATCH):
        check(cancel)
        batch = units[lo : lo + COUNT_BATCH]
        counts += count_tokens([text[u.start : u.end].strip() for u in batch])
        if progress is not None:
            done = batch[-1].end
            elapsed = time.monotonic() - started
            rate = done / elapsed if elapsed > 0 else None
            emit(progress, Progress("tokenize", done, len(text), rate, "chars"))
    return counts


# --- chapters -----------------------------------------------------------------------------------


def chapters_of(t: Transcript) -> tuple[Chapter, ...]:
    """The transcript's chapters, or those of a chapter list in its description."""
    return t.chapters or parse_description_chapters(t.meta.description or "")


# --- parts --------------------------------------------------------------------------------------


@dataclass
class _Piece:
    lo: int  # unit boundaries
    hi: int
    start_s: float
    end_s: float
    titles: list[str]


def video_end(t: Transcript, tm: TextMap) -> float | None:
    if tm.times is None:
        return None
    ends = [tm.times[-1], *(s.end for s in t.segments[-1:])]
    if t.meta.duration:
        ends.append(t.meta.duration)
    return max(ends)


def split_parts(tm: TextMap, n_parts: int = N_PARTS, by: PartMode = "length") -> list[Span]:
    """The ``n_parts`` contiguous parts (sections) of the transcript, in order.

    Timed: the first starts at 0 and the last ends at the video's end, each ending where the
    next starts. A chapter boundary keeps the chapter's own start time. Without chapters,
    ``by`` says where the parts end: balanced lengths, or topic changes.
    """
    t = tm.transcript
    end = video_end(t, tm)
    pieces = _chapter_pieces(tm, chapters_of(t), end) if tm.times is not None else None
    if pieces is None or len(pieces) < 2:
        cuts = (_topic_cuts(tm, n_parts) if by == "topic" else None) or tm.cuts(
            0, tm.n_units, n_parts
        )
        assert cuts is not None
        bounds = [(b, tm.time(b)) for b in cuts]
        titles: list[str | None] = [None] * n_parts
    else:
        bounds, titles = _fit_pieces(tm, pieces, n_parts)
    if end is not None:
        # The parts span the whole video: from 0 to its end, whatever the captions cover.
        bounds[0] = (bounds[0][0], 0.0)
        bounds[-1] = (bounds[-1][0], end)
    out: list[Span] = []
    for n in range(n_parts):
        (lo, ta), (hi, tb) = bounds[n], bounds[n + 1]
        out.append(Span(n, tm.char(lo), tm.char(hi), ta, tb, tm.tokens(lo, hi), titles[n]))
    return out


def _topic_cuts(tm: TextMap, n_parts: int) -> list[int] | None:
    """Unit boundaries of ``n_parts`` runs cut where the vocabulary changes; each run at least
    a share of the talk's duration (of its tokens when untimed). None: too short to measure."""
    texts = [tm.text[u.start : u.end] for u in tm.units]
    if tm.times is not None:
        sizes = [tm.times[b + 1] - tm.times[b] for b in range(tm.n_units)]
    else:
        sizes = [float(tm.tokens(b, b + 1)) for b in range(tm.n_units)]
    inner = topic_boundaries(texts, sizes, tm.strength, n_parts)
    return None if inner is None else [0, *inner, tm.n_units]


def _chapter_pieces(
    tm: TextMap, chapters: Sequence[Chapter], end: float | None
) -> list[_Piece] | None:
    """Chapters as runs of units; chapters that hold no text merge into a neighbour."""
    assert tm.times is not None
    chs = sorted((c for c in chapters if end is None or c.start < end), key=lambda c: c.start)
    if len(chs) < 2:
        return None
    pieces: list[_Piece] = []
    for i, ch in enumerate(chs):
        b = 0 if i == 0 else _boundary_near(tm, ch.start)
        if pieces and (b <= pieces[-1].lo or b >= tm.n_units):
            pieces[-1].titles.append(ch.title)  # no text of its own
            continue
        if pieces:
            pieces[-1].hi = b
            pieces[-1].end_s = ch.start
        pieces.append(_Piece(b, tm.n_units, 0.0 if i == 0 else ch.start, end or 0.0, [ch.title]))
    return pieces


def _boundary_near(tm: TextMap, t: float) -> int:
    """The unit boundary closest in time to ``t``; among near-ties, the strongest cut."""
    assert tm.times is not None
    times = tm.times
    i = bisect.bisect_left(times, t)
    cands = [b for b in (i - 1, i) if 0 <= b <= tm.n_units]
    best = min(cands, key=lambda b: abs(times[b] - t))
    near = [
        b
        for b in range(max(0, best - 8), min(tm.n_units, best + 8) + 1)
        if abs(times[b] - times[best]) <= 1.0 and abs(times[b] - t) <= abs(times[best] - t) + 1.0
    ]
    return max(
        near, key=lambda b: (tm.strength[b] if 0 < b < tm.n_units else 9, -abs(times[b] - t))
    )


def _fit_pieces(
    tm: TextMap, pieces: list[_Piece], n_parts: int
) -> tuple[list[tuple[int, float | None]], list[str | None]]:
    """Merge or split chapter pieces into exactly ``n_parts`` parts."""
    pieces = [replace(p, titles=list(p.titles)) for p in pieces]
    while len(pieces) > n_parts:
        # Merge the adjacent pair that makes the shortest part: keeps parts balanced.
        i = min(range(len(pieces) - 1), key=lambda i: pieces[i + 1].end_s - pieces[i].start_s)
        a, b = pieces[i], pieces[i + 1]
        pieces[i : i + 2] = [_Piece(a.lo, b.hi, a.start_s, b.end_s, a.titles + b.titles)]
    # Too few: give extra parts to the longest pieces (D'Hondt on duration).
    shares = [1] * len(pieces)
    for _ in range(n_parts - len(pieces)):
        i = max(range(len(pieces)), key=lambda i: (pieces[i].end_s - pieces[i].start_s) / shares[i])
        shares[i] += 1
    bounds: list[tuple[int, float | None]] = []
    titles: list[str | None] = []
    for p, k in zip(pieces, shares, strict=True):
        title = "; ".join(x for x in p.titles if x) or None
        cuts = tm.cuts(p.lo, p.hi, k)
        assert cuts is not None
        for n in range(k):
            # A split inside a chapter takes its time from the captions, kept inside the
            # chapter so the chapter boundaries themselves never move.
            inner = min(max(tm.time(cuts[n]) or p.start_s, p.start_s), p.end_s)
            t = p.start_s if n == 0 else inner
            bounds.append((cuts[n], t))
            titles.append(title if k == 1 or title is None else f"{title} ({n + 1}/{k})")
    last = pieces[-1]
    bounds.append((last.hi, last.end_s))
    return bounds, titles
