"""Section boundaries where the topic changes: lexical cohesion, TextTiling-style.

A talk without chapters is cut where its vocabulary changes, not at equal lengths. The text
comes as *units* (the places a cut may go, from ``engine.pipeline.parts.chunking``); each unit
contributes the stems of its content words (``grounding.content_words``: the project's stop
list and stemmer). The window is a share of the talk (``WINDOW_SHARE`` of its content words,
at least ``WINDOW``): the sections of a longer talk are longer, and a fixed window finds the
small turns inside them. At candidate gaps every twelfth of a window (``STEP`` at the smallest),
the windows on either side are compared (cosine of their stem counts); the curve is smoothed,
each gap gets a *depth* (how far the similarity falls below the peaks on both sides, Hearst's
TextTiling), and the deepest valleys become the boundaries, subject to every section holding
at least ``MIN_SHARE`` of the talk. A boundary then moves to the strongest cut (pause,
sentence end) within half a step.

Plain Python over lists: no transcript types, so chunking can call it without a
circle. Returns ``None`` when the text is too short to measure (under 4/3 of a window of content
words), and the caller cuts by length.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Sequence

from engine.pipeline.checks.grounding import content_words

# Content words per side of a gap, at least. Spoken technical talks run 35-60 content words a
# minute, so this compares two to three minutes either side (tuned on half the chaptered set:
# EVALUATION.md); the window of every talk under ~920 content words (15-25 minutes).
WINDOW = 120
# The window as a share of the talk's content words (about two-thirds of one of five sections).
# Measured on the 9 chaptered talks of bench/chapters_set.json (bench/eval_sections.py
# --window-share, issue 18): 0.13 scored 0.75 against 0.61 for the fixed window, no talk lower;
# chosen on 8 talks and scored on the 9th (leave-one-out), +0.28 over equal stretches on
# average. Neighbours vary by a boundary or two (0.15: 0.61, 0.17: 0.69). 0: the fixed window.
# On 30 fresh talks, run once after the choice (split held-out-2): 0.58 against 0.53 for the
# fixed window and 0.51 for equal stretches; their chapters are dense (see EVALUATION.md).
WINDOW_SHARE = 0.13
# Content words between candidate gaps at the smallest window; it grows with the window
# (window // 12), so a long talk costs no more comparisons per content word.
STEP = 10
# Moving-average width (in gaps) applied to the similarity curve before depths.
SMOOTH = 3
# No section shorter than this share of the talk (time when timed, else tokens).
MIN_SHARE = 0.08


def topic_boundaries(
    texts: Sequence[str],
    sizes: Sequence[float],
    strengths: Sequence[float],
    n_parts: int,
    min_share: float | None = None,
) -> list[int] | None:
    """``n_parts - 1`` inner boundaries (unit indices 1..len(texts)-1, increasing) at the
    deepest drops in lexical cohesion, each section at least ``min_share`` of the total
    ``sizes``; ``strengths[b]`` is how good a cut before unit ``b`` is. None when the text is
    too short to measure or the sections cannot all be that long (default ``MIN_SHARE``)."""
    n = len(texts)
    if n_parts < 2 or n < n_parts:
        return None
    stems = [content_words([t]) for t in texts]
    # pos[b]: content words before unit b.
    pos = [0, *itertools.accumulate(len(s) for s in stems)]
    if pos[-1] < 4 * WINDOW // 3:
        return None
    flat = [w for s in stems for w in s]
    window = max(WINDOW, int(WINDOW_SHARE * pos[-1]))
    gaps = _candidate_gaps(pos, window, max(1, STEP * window // WINDOW))
    if not gaps:
        return None
    depth = _depths(_smooth([_cosine(flat, pos[b], window) for b in gaps], SMOOTH))
    cum = [0.0, *itertools.accumulate(float(x) for x in sizes)]
    min_size = (MIN_SHARE if min_share is None else min_share) * cum[-1]
    chosen = _pick(gaps, depth, cum, n_parts - 1, min_size)
    if chosen is None:
        return None
    return _refine(chosen, pos, strengths, cum, min_size)


def _candidate_gaps(pos: list[int], window: int, step: int) -> list[int]:
    """Unit boundaries nearest every ``step`` content words, leaving a half window at each
    end (a boundary there could not be compared on both sides)."""
    n = len(pos) - 1
    out: list[int] = []
    for target in range(window // 2, pos[-1] - window // 2 + 1, step):
        b = min(max(bisect.bisect_left(pos, target), 1), n - 1)
        if not out or b > out[-1]:
            out.append(b)
    return out


def _cosine(flat: list[str], at: int, width: int) -> float:
    """Cosine of the stem counts of the ``width`` content words before and after ``at``."""
    left = Counter(flat[max(0, at - width) : at])
    right = Counter(flat[at : at + width])
    dot = sum(c * right[w] for w, c in left.items() if w in right)
    norm = math.sqrt(sum(c * c for c in left.values()) * sum(c * c for c in right.values()))
    return dot / norm if norm else 0.0


def _smooth(x: list[float], width: int) -> list[float]:
    """Moving average over ``width`` gaps (shorter at the ends)."""
    half = width // 2
    return [
        sum(x[max(0, i - half) : i + half + 1]) / len(x[max(0, i - half) : i + half + 1])
        for i in range(len(x))
    ]


def _depths(s: list[float]) -> list[float]:
    """Hearst's depth score: the climb to the highest point reached going uphill on each side."""
    out = []
    for i in range(len(s)):
        left = i
        while left > 0 and s[left - 1] >= s[left]:
            left -= 1
        right = i
        while right < len(s) - 1 and s[right + 1] >= s[right]:
            right += 1
        out.append((s[left] - s[i]) + (s[right] - s[i]))
    return out


def _pick(
    gaps: list[int], depth: list[float], cum: list[float], k: int, min_size: float
) -> list[int] | None:
    """The ``k`` deepest gaps that keep every section at least ``min_size`` long (greedy:
    deepest first; a gap too near a chosen one or an end is skipped)."""
    chosen: list[int] = []
    for i in sorted(range(len(gaps)), key=lambda i: -depth[i]):
        if _fits(sorted([*chosen, gaps[i]]), cum, min_size):
            chosen.append(gaps[i])
            if len(chosen) == k:
                return sorted(chosen)
    return None


def _fits(bounds: list[int], cum: list[float], min_size: float) -> bool:
    edges = [0, *bounds, len(cum) - 1]
    return all(cum[b] - cum[a] >= min_size for a, b in itertools.pairwise(edges))


def _refine(
    chosen: list[int], pos: list[int], strengths: Sequence[float], cum: list[float], min_size: float
) -> list[int]:
    """Move each boundary to the strongest cut within half a step of content words (the
    nearest on ties), keeping order and the minimum length."""
    out = list(chosen)
    half = max(1, STEP // 2)
    for j, b in enumerate(chosen):
        lo = max(out[j - 1] + 1 if j else 1, bisect.bisect_left(pos, pos[b] - half))
        hi = min(
            out[j + 1] if j + 1 < len(out) else len(pos) - 1,
            bisect.bisect_right(pos, pos[b] + half),
        )
        best = b
        for c in range(lo, hi):
            trial = [*out[:j], c, *out[j + 1 :]]
            if (strengths[c], -abs(c - b)) > (strengths[best], -abs(best - b)) and _fits(
                trial, cum, min_size
            ):
                best = c
        out[j] = best
    return out
