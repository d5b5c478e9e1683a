"""Baselines for the extractive choice, and the measures the default path is held to (issue 18).

Key terms of a transcript (one definition for every eval script: ``eval_default`` and
``eval_labels``): its ``N_KEY_TERMS`` word stems with the highest *count × rarity*. Words are
lowercase runs of letters (inner apostrophe kept) of three or more letters in the spoken text
(speaker labels such as ``DAVID MALAN:`` and the hedges "sort of" / "kind of" removed), not in
the engine's stop list nor a disfluency ("um", "okay", "gonna", "really"…), grouped by a light
stem (``s`` plural dropped) and said at least twice; rarity is ``8 - wordfreq.zipf_frequency``
of the stem's commonest spelling (0 for the commonest English words, 8 for a word wordfreq has
never seen). This is deliberately not the engine's ranking (no TF-IDF over units, no
centrality): a word is a key term because the talk says it often and English rarely does.

Key-term recall of a choice: the share of the key terms that occur (same stem) in the chosen
units' text. A topic phrase is a key term when one of its words' stems is one. The baselines
choose the same number of units from the same pool:

- ``lead``: the first unit of each of ``n`` equal stretches (by unit index);
- ``random``: ``n`` units drawn uniformly without replacement; mean recall over 200 draws;
- ``lexrank``: plain TF-IDF LexRank (unstemmed words minus stop words, continuous LexRank),
  the best unit of each of ``n`` equal stretches.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Sequence

from engine.pipeline.checks.words import STOP, words
from engine.pipeline.quotes.rank import lexrank, tfidf

N_KEY_TERMS = 40
RANDOM_DRAWS = 200
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_DISFLUENT = """um uh umm uhm hmm oh ok okay gonna wanna gotta yeah stuff guess actually
    basically maybe pretty probably really"""
DISFLUENT = frozenset(_DISFLUENT.split())
# Speaker labels ("DAVID MALAN:", "Carmen Andoh:") and hedges ("sort of", not sorting).
NOT_SPOKEN = re.compile(r"\b[A-Z][\w'’.-]*(?: [A-Z][\w'’.-]*){0,2}:|\b(?:sort|kind) of\b")


def stem(w: str) -> str:
    """The plural ``s`` dropped (not from "class", "this" or a three-letter word)."""
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def _key_words(text: str) -> list[str]:
    return [
        w
        for w in _WORD.findall(NOT_SPOKEN.sub(" ", text).lower())
        if len(w) >= 3 and w not in STOP and w not in DISFLUENT
    ]


def key_terms(text: str, n: int = N_KEY_TERMS) -> list[str]:
    """The transcript's ``n`` key-term stems (see the module doc)."""
    from wordfreq import zipf_frequency

    spellings = Counter(_key_words(text))
    counts: Counter[str] = Counter()
    commonest: dict[str, str] = {}
    for w, c in spellings.most_common():
        counts[stem(w)] += c
        commonest.setdefault(stem(w), w)
    score = {s: c * (8.0 - zipf_frequency(commonest[s], "en")) for s, c in counts.items() if c >= 2}
    return sorted(score, key=lambda s: (-score[s], s))[:n]


def recall(chosen: Sequence[str], keys: Sequence[str]) -> float:
    """Share of ``keys`` said in ``chosen`` (the same stem)."""
    said = {stem(w) for t in chosen for w in _WORD.findall(t.lower())}
    return sum(k in said for k in keys) / len(keys) if keys else 0.0


def is_key(phrase: str, keys: Sequence[str] | set[str]) -> bool:
    """One of the phrase's words has a key term's stem."""
    return any(stem(w) in keys for w in _WORD.findall(phrase.lower()))


def stretches(n_units: int, n: int) -> list[range]:
    """``n`` runs of consecutive unit indices of (nearly) equal size (fewer when short)."""
    cuts = sorted({round(i * n_units / n) for i in range(n + 1)})
    return [range(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def lead(units: Sequence[str], n: int) -> list[int]:
    return [r.start for r in stretches(len(units), n)]


def random_recall(units: Sequence[str], n: int, keys: Sequence[str], seed: int = 0) -> float:
    rng = random.Random(seed)
    k = min(n, len(units))
    draws = [
        recall([units[i] for i in rng.sample(range(len(units)), k)], keys)
        for _ in range(RANDOM_DRAWS)
    ]
    return sum(draws) / len(draws)


def plain_lexrank(units: Sequence[str], n: int) -> list[int]:
    """The best unit of each of ``n`` equal stretches by plain TF-IDF LexRank."""
    docs = [[w for w in words(u) if w.isalpha() and w not in STOP] for u in units]
    x = tfidf(docs)
    p = lexrank(x @ x.T)
    return [max(r, key=lambda i: (float(p[i]), -i)) for r in stretches(len(units), n)]


def baseline_recalls(units: Sequence[str], n: int, keys: Sequence[str]) -> dict[str, float]:
    """Key-term recall of lead, random (mean of 200 draws) and plain LexRank on ``n`` units."""
    return {
        "lead": recall([units[i] for i in lead(units, n)], keys),
        "random": random_recall(units, n, keys),
        "lexrank": recall([units[i] for i in plain_lexrank(units, n)], keys),
    }
