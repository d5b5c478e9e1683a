"""Section boundaries where the topic changes: the likelihood of section word models.

A talk without chapters is cut where its vocabulary changes, not at equal lengths. The text
comes as *units* (the places a cut may go, from ``engine.pipeline.parts.chunking``); each unit
contributes the stems of its content words (``grounding.content_words``: the project's stop
list and stemmer).

``METHOD = "likelihood"`` (the default; Utiyama and Isahara 2001, "A statistical model for
domain-independent text segmentation"): each section is a bag of words drawn from its own
unigram model, estimated with add-one smoothing over the talk's vocabulary; the cut into
``n_parts`` sections that makes the talk's words most likely is found exactly by dynamic
programming over candidate gaps (about ``BLOCKS`` of them, at least ``STEP`` content words
apart), every section holding at least ``MIN_SHARE`` of the talk. It has no window to tune.

``METHOD = "tiling"`` (TextTiling, Hearst 1997; the default before): the window is a share
of the talk (``WINDOW_SHARE`` of its content words, at least ``WINDOW``); at candidate gaps
every twelfth of a window the windows on either side are compared (cosine of their stem
counts), the curve is smoothed, each gap gets a *depth* (how far the similarity falls below
the peaks on both sides) and the deepest valleys become the boundaries.

Either way a boundary then moves to the strongest cut (pause, sentence end) within half a step.
Plain Python and numpy over lists: no transcript types, so chunking can call it without a
circle. Returns ``None`` when the text is too short to measure (under 4/3 of ``WINDOW``
content words), and the caller cuts by length.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np

from engine.pipeline.checks.grounding import content_words

# Which segmenter cuts (see the module docstring). Measured on the 39 talks of
# bench/chapters_set.json (bench/eval_sections.py --method, issue 18): boundary hits over equal
# stretches +0.15 for "likelihood" (nothing tuned), +0.13 for "tiling" at WINDOW_SHARE 0.13
# (5-fold cross-validation by talk picks 0.13 in every fold); dense chapter lists +0.10
# against +0.05, sparse +0.23 both. Per talk 13 better, 12 worse, 14 the same: within noise.
# The choice was then made, by a rule fixed before the run, on 21 fresh talks run once
# (held-out-3 and 2-3.4 h streams): hits 0.48 likelihood, 0.45 tiling, 0.44 equal stretches.
Method = Literal["likelihood", "tiling"]
METHOD: Method = "likelihood"
# Candidate gaps of the likelihood method: about this many (finer costs time, not accuracy:
# 120-480 score within one boundary of each other on the 39 talks).
BLOCKS = 160
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
    """``n_parts - 1`` inner boundaries (unit indices 1..len(texts)-1, increasing) where the
    vocabulary changes (``METHOD``), each section at least ``min_share`` of the total
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
    cum = [0.0, *itertools.accumulate(float(x) for x in sizes)]
    min_size = (MIN_SHARE if min_share is None else min_share) * cum[-1]
    if METHOD == "likelihood":
        chosen = _likeliest(stems, pos, cum, n_parts, min_size)
    else:
        chosen = _tiling(stems, pos, cum, n_parts, min_size)
    if chosen is None:
        return None
    return _refine(chosen, pos, strengths, cum, min_size)


def _likeliest(
    stems: list[list[str]], pos: list[int], cum: list[float], n_parts: int, min_size: float
) -> list[int] | None:
    """The inner boundaries of the ``n_parts`` sections whose add-one-smoothed unigram models
    give the talk's stems the highest likelihood (exact, by dynamic programming over about
    ``BLOCKS`` candidate gaps); None when no cut keeps every section ``min_size`` long."""
    step = max(STEP, pos[-1] // BLOCKS)
    edges = [0, *_candidate_gaps(pos, 2 * step, step), len(pos) - 1]
    vocab: dict[str, int] = {}
    ids = [
        [vocab.setdefault(w, len(vocab)) for s in stems[a:b] for w in s]
        for a, b in itertools.pairwise(edges)
    ]
    counts = np.zeros((len(edges), len(vocab)))
    for i, block in enumerate(ids):
        counts[i + 1] = counts[i] + np.bincount(block, minlength=len(vocab))
    # cost[i, j]: minus the log-likelihood of the stems between edges i and j under their own
    # model, sum of f * log((f + 1) / (n + V)) (Utiyama and Isahara's f log f form).
    n_edges = len(edges)
    ends = np.array([cum[e] for e in edges])
    cost = np.full((n_edges, n_edges), np.inf)
    for i in range(n_edges - 1):
        ok = np.flatnonzero(ends[i + 1 :] - ends[i] >= min_size) + i + 1
        if ok.size:
            f = counts[ok] - counts[i]
            n = f.sum(axis=1)
            cost[i, ok] = n * np.log(n + len(vocab)) - (f * np.log1p(f)).sum(axis=1)
    cut = _best_split(cost, n_parts)
    return None if cut is None else [edges[c] for c in cut]


def _best_split(cost: np.ndarray, k: int) -> list[int] | None:
    """The inner edges of the ``k``-segment split from edge 0 to the last edge with the lowest
    total ``cost`` (dynamic programming); None when every split costs infinity."""
    n = cost.shape[0]
    best = np.full(n, np.inf)
    best[0] = 0.0
    back = np.zeros((k + 1, n), dtype=int)
    for seg in range(1, k + 1):
        nxt = np.full(n, np.inf)
        for j in range(1, n):
            total = best[:j] + cost[:j, j]
            back[seg, j] = int(np.argmin(total))
            nxt[j] = total[back[seg, j]]
        best = nxt
    if not math.isfinite(best[-1]):
        return None
    out, j = [], n - 1
    for seg in range(k, 1, -1):
        j = int(back[seg, j])
        out.append(j)
    return out[::-1]


def _tiling(
    stems: list[list[str]], pos: list[int], cum: list[float], n_parts: int, min_size: float
) -> list[int] | None:
    """TextTiling: the ``n_parts - 1`` deepest valleys of the cohesion curve."""
    flat = [w for s in stems for w in s]
    window = max(WINDOW, int(WINDOW_SHARE * pos[-1]))
    gaps = _candidate_gaps(pos, window, max(1, STEP * window // WINDOW))
    if not gaps:
        return None
    depth = _depths(_smooth([_cosine(flat, pos[b], window) for b in gaps], SMOOTH))
    return _pick(gaps, depth, cum, n_parts - 1, min_size)


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
