"""Titles, topics and general fields of an extractive summary (placeholder).

A minimal stand-in with the interface the extractive path calls; branch ``i18-labels`` owns the
real keyphrase and field scoring and replaces this module. Titles and topics here are the most
frequent content words of a section that are rare in the rest of the talk; the general fields
are a fixed choice. Imports the stop words and the schema.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from engine import schema
from engine.pipeline.words import STOP, words


def _content(text: str) -> list[str]:
    return [w for w in words(text) if w.isalpha() and 3 < len(w) <= 30 and w not in STOP]


def _top(text: str, rest: Counter[str], n: int, avoid: set[str]) -> list[str]:
    own = Counter(_content(text))
    ranked = sorted(own, key=lambda w: (-own[w] / (1 + rest[w]), w))
    out = [w for w in ranked if w not in avoid][:n]
    filler = iter(f"part {i}" for i in range(1, n + 1))
    return out + [next(filler) for _ in range(n - len(out))]


def section_labels(section_texts: Sequence[str], talk_text: str) -> list[tuple[str, list[str]]]:
    """Per section: a title phrase (no "Section N: " prefix) and three topics."""
    talk = Counter(_content(talk_text))
    out: list[tuple[str, list[str]]] = []
    used: set[str] = set()
    for text in section_texts:
        rest = talk - Counter(_content(text))
        topics = _top(text, rest, schema.N_SECTION_TOPICS, used)
        used |= set(topics)
        out.append((" ".join(topics[:2]), topics))
    return out


def talk_topics(talk_text: str, n: int = 5) -> list[str]:
    """The talk's ``n`` most frequent content words."""
    return _top(talk_text, Counter(), n, set())


def general_topics(talk_text: str) -> list[tuple[str, float]]:
    """Three distinct fields with a complexity (placeholder: fixed)."""
    return [(f, 0.5) for f in schema.GENERAL_FIELDS[:3]]
