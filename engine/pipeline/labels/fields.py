"""The talk's three general fields, ranked by a lexicon, each with a complexity score.

Why a lexicon: the runtime ``Backend`` only generates text (no label likelihoods), so the
model cannot rank the 12 fields; a lexicon of characteristic terms (``field_lexicon``) can, and
is measured in ``bench/eval_labels.py``. A field's score is the sum over the talk's matched
terms of the term's rarity (its rarest word, ``keyphrases.rarity``) times its ``uses`` (1 + ln
of the times said: one rare term said often, "WebAssembly" twelve times in a JIT talk, must not
outweigh several terms of another field), divided among the fields that list the term. Terms
match whole words, longest first, so "binary search tree" is not also "tree" and "web" is never
found inside "webassembly".

Complexity is the rarity of the talk's vocabulary that matched the field: the ``uses``-weighted
mean Zipf frequency of the matched terms (each by its rarest word) mapped linearly from
``EASY_ZIPF`` (0.00: everyday words like "sort") to ``HARD_ZIPF`` (1.00: jargon like
"bytecode"), two decimals. The mean starts from ``PRIOR_USES`` pseudo-matches at the mean Zipf
of the talk's content words, so a field matched once or twice is not set by one word and a
field nothing matched takes the talk's level. Imports the schema, the stop words and wordfreq.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from functools import lru_cache

from engine import schema
from engine.pipeline.checks.words import KEYPHRASE_STOP
from engine.pipeline.labels.field_lexicon import LEXICON
from engine.pipeline.labels.keyphrases import Key, clean_text, fold, rarity, zipf

EASY_ZIPF = 5.5
HARD_ZIPF = 2.5
PRIOR_USES = 5
_WORD = re.compile(r"[^\W_]+")


def _tokens(text: str) -> list[str]:
    text = re.sub(r"['’]s\b", "", clean_text(text).lower())
    return [fold(w) for w in _WORD.findall(re.sub(r"['’]", "", text))]


@lru_cache(maxsize=1)
def _index() -> dict[Key, tuple[str, ...]]:
    """Each lexicon term's key -> the fields that list it."""
    out: dict[Key, list[str]] = {}
    for name, terms in LEXICON.items():
        for term in terms:
            out.setdefault(tuple(_tokens(term)), []).append(name)
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


def matched_terms(text: str) -> Counter[Key]:
    """Lexicon terms in ``text``, longest match first, left to right."""
    index = _index()
    longest = max(map(len, index))
    toks = _tokens(text)
    found: Counter[Key] = Counter()
    i = 0
    while i < len(toks):
        for n in range(min(longest, len(toks) - i), 0, -1):
            key = tuple(toks[i : i + n])
            if key in index:
                found[key] += 1
                i += n
                break
        else:
            i += 1
    return found


def uses(n: int) -> float:
    """What a term said ``n`` times counts for: 1 + ln n, so breadth beats repetition."""
    return 1.0 + math.log(n)


def _complexity(mean_zipf: float) -> float:
    c = (EASY_ZIPF - mean_zipf) / (EASY_ZIPF - HARD_ZIPF)
    return round(min(1.0, max(0.0, c)), 2)


def _term_zipf(key: Key) -> float:
    """A term is as rare as its rarest word; a word wordfreq does not know counts as rare."""
    return min(zipf(w) or HARD_ZIPF for w in key)


def general_topics(talk_text: str) -> list[tuple[str, float]]:
    """Three distinct fields of ``schema.GENERAL_FIELDS``, best first, with complexity.

    Fields with equal scores (none matched, on a talk about nothing in the lexicon) keep the
    schema's order.
    """
    index = _index()
    found = matched_terms(talk_text)
    score: defaultdict[str, float] = defaultdict(float)
    zipf_sum: defaultdict[str, float] = defaultdict(float)
    weight: defaultdict[str, float] = defaultdict(float)
    for key, n in found.items():
        fields = index[key]
        u = uses(n)
        for f in fields:
            score[f] += u * max(rarity(w) for w in key) / len(fields)
            zipf_sum[f] += u * _term_zipf(key)
            weight[f] += u
    content = [w for w in _tokens(talk_text) if w not in KEYPHRASE_STOP and zipf(w) > 0]
    talk_zipf = sum(map(zipf, content)) / len(content) if content else EASY_ZIPF
    ranked = sorted(schema.GENERAL_FIELDS, key=lambda f: -score[f])
    # A field matched a few times leans on the talk's own level (PRIOR_USES pseudo-matches).
    return [
        (f, _complexity((zipf_sum[f] + PRIOR_USES * talk_zipf) / (weight[f] + PRIOR_USES)))
        for f in ranked[: schema.N_GENERAL_TOPICS]
    ]
