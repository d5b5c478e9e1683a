"""Ranking a talk's units for an extractive summary: centrality, informativeness, redundancy.

Every unit (a sentence, or a stretch of unpunctuated captions) becomes a TF-IDF vector of its
stemmed content words (``grounding.stem``, stop words from ``words``), each unit one document.
A unit's score combines

- **centrality**: continuous LexRank (Erkan & Radev 2004), the stationary distribution of a
  random walk over the cosine-similarity graph of all the talk's units: a unit that says what
  many others say is central;
- **informativeness**: the summed talk-level weight (log of the talk-wide count) of the distinct
  content words the unit holds, so a unit that names many of the talk's recurring terms wins
  over a short one that echoes a single word.

Both are scaled to 0..1 and averaged. ``mmr`` then picks greedily by maximal marginal
relevance (Carbonell & Goldstein 1998): score against the highest similarity to anything
already chosen, and a unit nearly the same as a chosen one (cosine over ``REDUNDANT``) only
when nothing else is left, so the picks do not repeat each other. numpy only; imports the
stemmer and the stop words.

A talk of more than ``DENSE_MAX`` units (a 50 MB transcript has ~500k) cannot hold an n x n
similarity matrix, so it is ranked in bounded memory: unit vectors stay sparse (CSR arrays,
idf over the whole talk), centrality is LexRank within consecutive blocks of at most
``BLOCK`` units (each block's distribution times its size, so a block's average unit scores 1
wherever it is), informativeness is the same, and MMR weighs only the ``POOL`` best-scored
candidates, their redundancy computed against the chosen units alone. Up to ``DENSE_MAX``
units (any normal talk) nothing changes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.pipeline.checks.grounding import stem
from engine.pipeline.checks.words import STOP, words
from engine.progress import CancelToken, check

# A word of fewer letters says too little ("use", "fix" still count at three).
MIN_TERM_LETTERS = 3
# LexRank's damping: the share of the walk that follows similarity rather than jumping.
DAMPING = 0.85
# MMR: weight of a unit's own score against its similarity to what is already chosen.
MMR_LAMBDA = 0.6
# A unit this similar (cosine) to one already chosen says the same thing: never picked while
# anything else is left.
REDUNDANT = 0.5
# Back-channel and stage words: they make no unit worth choosing ("Thank you so much.",
# "[LAUGHTER]", "Bye.").
_FILLER_WORDS = """
    thank thanks much good great yes yeah yep okay sure cool awesome wow hmm oh exactly
    absolutely totally definitely bye goodbye hello welcome laughs laughter applause music
    playing inaudible crosstalk audience
"""
FILLER = frozenset(_FILLER_WORDS.split())
_ITERATIONS = 200
# Up to this many units the whole talk is one dense similarity matrix (3000 units: 72 MB).
DENSE_MAX = 3000
# Above it, LexRank runs in consecutive blocks of at most this many units.
BLOCK = 2000
# ... and MMR weighs only this many of a choice's best-scored candidates.
POOL = 300
# Loop steps between cancel checks.
CHECK_EVERY = 4096
_TOLERANCE = 1e-9


def is_term(word: str) -> bool:
    """A content word: a number of two or more characters, or three or more letters that are
    neither a stop word nor back-channel."""
    if any(c.isdigit() for c in word):
        return len(word) >= 2
    letters = sum(c.isalpha() for c in word)
    return letters >= MIN_TERM_LETTERS and word not in STOP and word not in FILLER


def terms(text: str) -> list[str]:
    """The stems of ``text``'s content words, in order, every occurrence."""
    return [stem(w) for w in words(text) if is_term(w)]


def tfidf(docs: Sequence[Sequence[str]]) -> np.ndarray:
    """Rows: L2-normalized TF-IDF vectors of ``docs`` (lists of terms); tf is 1 + log(count),
    idf log((1 + n) / (1 + df)) + 1 (never zero, so a term in every unit still counts a little).
    A document without terms is a zero row."""
    vocab: dict[str, int] = {}
    for d in docs:
        for t in d:
            vocab.setdefault(t, len(vocab))
    x = np.zeros((len(docs), max(len(vocab), 1)), dtype=np.float64)
    for i, d in enumerate(docs):
        for t, c in Counter(d).items():
            x[i, vocab[t]] = 1.0 + math.log(c)
    df = (x > 0).sum(axis=0)
    x *= np.log((1 + len(docs)) / (1 + df)) + 1.0
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def lexrank(sim: np.ndarray, damping: float = DAMPING) -> np.ndarray:
    """Continuous LexRank of a symmetric similarity matrix: the stationary distribution of a
    walk that follows similarity with probability ``damping`` and jumps uniformly otherwise
    (a unit similar to nothing still gets the jump's share). Sums to 1."""
    n = sim.shape[0]
    if n == 0:
        return np.zeros(0)
    m = sim.copy()
    np.fill_diagonal(m, 0.0)
    rows = m.sum(axis=1, keepdims=True)
    m = np.divide(m, rows, out=np.full_like(m, 1.0 / n), where=rows > 0)
    p = np.full(n, 1.0 / n)
    for _ in range(_ITERATIONS):
        nxt = (1.0 - damping) / n + damping * (m.T @ p)
        done = float(np.abs(nxt - p).sum()) < _TOLERANCE
        p = nxt
        if done:
            break
    return p / p.sum()


def _scaled(v: np.ndarray) -> np.ndarray:
    top = float(v.max()) if v.size else 0.0
    return v / top if top > 0 else v


@dataclass(frozen=True)
class Sparse:
    """L2-normalized TF-IDF rows in CSR form: row ``i``'s terms are
    ``indices[indptr[i]:indptr[i + 1]]`` with weights ``data[...]``."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_terms: int

    def dense(self, rows: Sequence[int]) -> np.ndarray:
        """``rows`` as dense vectors (few rows only)."""
        out = np.zeros((len(rows), self.n_terms))
        for k, i in enumerate(rows):
            a, b = self.indptr[i], self.indptr[i + 1]
            out[k, self.indices[a:b]] = self.data[a:b]
        return out

    def block_sim(self, start: int, end: int) -> np.ndarray:
        """The cosine similarities of units ``[start, end)``, over the terms they use."""
        a, b = int(self.indptr[start]), int(self.indptr[end])
        cols, local = np.unique(self.indices[a:b], return_inverse=True)
        x = np.zeros((end - start, max(len(cols), 1)))
        rows = np.repeat(np.arange(end - start), np.diff(self.indptr[start : end + 1]))
        x[rows, local] = self.data[a:b]
        return x @ x.T

    def sim_to(self, rows: Sequence[int], against: Sequence[int]) -> np.ndarray:
        """Cosine similarities, ``len(rows)`` x ``len(against)``."""
        dense = self.dense(against)
        idx = np.asarray(rows, dtype=np.int64)
        starts, ends = self.indptr[idx], self.indptr[idx + 1]
        lengths = ends - starts
        pos = np.repeat(np.arange(len(idx)), lengths)
        first = np.cumsum(lengths) - lengths  # where each row's entries start in ``flat``
        flat = np.arange(int(lengths.sum())) + np.repeat(starts - first, lengths)
        cols, vals = self.indices[flat], self.data[flat]
        out = np.zeros((len(idx), len(against)))
        for j in range(len(against)):
            out[:, j] = np.bincount(pos, weights=dense[j, cols] * vals, minlength=len(idx))
        return out


@dataclass(frozen=True)
class Ranking:
    """Scores (0..1) of a talk's units and their pairwise cosine similarities (``sim``, up to
    ``DENSE_MAX`` units) or their sparse vectors (``vectors``, above it)."""

    score: np.ndarray
    sim: np.ndarray | None
    vectors: Sparse | None = None

    def order(self, among: Iterable[int]) -> list[int]:
        """``among`` by score, best first (ties: earlier unit first)."""
        return sorted(among, key=lambda i: (-float(self.score[i]), i))

    def _redundancy(self, ok: Sequence[int], against: Sequence[int]) -> np.ndarray:
        if not against:
            return np.zeros(len(ok))
        if self.sim is not None:
            return self.sim[np.ix_(np.array(ok), np.array(against))].max(axis=1)
        assert self.vectors is not None
        return self.vectors.sim_to(ok, against).max(axis=1)

    def mmr(
        self,
        among: Iterable[int],
        k: int,
        chosen: Sequence[int] = (),
        fits: Callable[[int], bool] = lambda i: True,
    ) -> list[int]:
        """Up to ``k`` units of ``among``, picked one by one by maximal marginal relevance
        against ``chosen`` and the earlier picks; only units for which ``fits(i)`` holds at the
        time of their pick (a word budget that shrinks as units are picked). On a sparse
        ranking only the ``POOL`` best-scored units that fit are weighed."""
        taken = set(chosen)
        pool = [i for i in dict.fromkeys(among) if i not in taken]
        picked: list[int] = []
        against = list(chosen)
        while len(picked) < k:
            ok = [i for i in pool if fits(i)]
            if not ok:
                break
            if self.sim is None and len(ok) > POOL:
                s = -self.score[np.array(ok)]
                top = np.argpartition(s, POOL)[:POOL]
                ok = [ok[t] for t in sorted(top.tolist())]  # pool order kept: ties as dense
            idx = np.array(ok)
            redundancy = self._redundancy(ok, against)
            value = MMR_LAMBDA * self.score[idx] - (1.0 - MMR_LAMBDA) * redundancy
            value = value - 2.0 * (redundancy > REDUNDANT)
            best = ok[int(np.argmax(value))]
            picked.append(best)
            against.append(best)
            pool.remove(best)
        return picked


def sparse_tfidf(docs: Sequence[Sequence[str]], cancel: CancelToken | None = None) -> Sparse:
    """``tfidf`` of ``docs`` as CSR arrays (same weights, idf over all of ``docs``)."""
    vocab: dict[str, int] = {}
    indptr = np.zeros(len(docs) + 1, dtype=np.int64)
    cols: list[int] = []
    tfs: list[float] = []
    for i, d in enumerate(docs):
        if i % CHECK_EVERY == 0:
            check(cancel)
        for t, c in Counter(d).items():
            cols.append(vocab.setdefault(t, len(vocab)))
            tfs.append(1.0 + math.log(c))
        indptr[i + 1] = len(cols)
    indices = np.array(cols, dtype=np.int64)
    data = np.array(tfs, dtype=np.float64)
    df = np.bincount(indices, minlength=len(vocab))
    data *= (np.log((1 + len(docs)) / (1 + df)) + 1.0)[indices]
    rows = np.repeat(np.arange(len(docs)), np.diff(indptr))
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=len(docs)))
    data /= norms[rows]  # a row with entries has a positive norm
    return Sparse(indptr, indices, data, max(len(vocab), 1))


def blocked_lexrank(x: Sparse, block: int = BLOCK, cancel: CancelToken | None = None) -> np.ndarray:
    """LexRank within consecutive blocks of at most ``block`` units, each block's distribution
    times its size (a block's average unit scores 1, so blocks compare)."""
    n = len(x.indptr) - 1
    out = np.zeros(n)
    k = max(1, math.ceil(n / block))
    for b in range(k):
        check(cancel)
        start, end = b * n // k, (b + 1) * n // k
        out[start:end] = lexrank(x.block_sim(start, end)) * (end - start)
    return out


def rank(texts: Sequence[str], cancel: CancelToken | None = None) -> Ranking:
    """Centrality and informativeness of every unit of a talk (``texts``, in order); in
    bounded memory above ``DENSE_MAX`` units (see the module doc)."""
    docs: list[list[str]] = []
    for i, t in enumerate(texts):
        if i % CHECK_EVERY == 0:
            check(cancel)
        docs.append(terms(t))
    talk = Counter(t for d in docs for t in set(d))
    weight = {t: math.log(c) for t, c in talk.items() if c > 1}  # said once: no talk term
    info = _scaled(np.array([sum(weight.get(t, 0.0) for t in set(d)) for d in docs]))
    check(cancel)
    if len(docs) <= DENSE_MAX:
        x = tfidf(docs)
        sim = x @ x.T
        central = _scaled(lexrank(sim))
        return Ranking(score=(central + info) / 2.0, sim=sim)
    vectors = sparse_tfidf(docs, cancel)
    central = _scaled(blocked_lexrank(vectors, BLOCK, cancel))
    return Ranking(score=(central + info) / 2.0, sim=None, vectors=vectors)
