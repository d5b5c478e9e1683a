"""Grounding: is a summary about its own video?

A small base model given worked examples tends to continue them: it writes a fluent summary of
the *example's* video. The shape is perfect (the grammar sees to that), so only the words tell.
Two shares of the summary's content words (introduction, section titles without their
"Section N:" prefix, bullets, section topics, global topics):

- ``grounded``: the share that occur in the transcript;
- ``leaked``: the share that occur in a few-shot example's answer but not in the transcript.

Content words are words of five or more letters that are not stop words
(``engine.pipeline.checks.quality.STOP``), plus numbers of two or more characters; both sides are
lightly stemmed (``stem``), so "tables"/"table" and "hashing"/"hash" match. Every occurrence counts:
a summary that repeats a borrowed word is that much less grounded.

Calibration (``tests/pipeline/test_grounding.py``, on the seed run's Mistral-7B reference answers):
about 0.5-0.7 grounded against their own transcripts, about 0.15 against another video's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from functools import cache

from engine.pipeline.checks.words import STOP, summary_strings, words
from engine.schema import Grounding, Summary

# A word must have this many letters to say something about a topic ("table", "cache").
MIN_LETTERS = 5
# Numbers ("64", "2017", "8x7b") say something too; a single digit does not.
MIN_NUMBER = 2

# Suffixes stripped by ``stem``, longest first; (suffix, replacement).
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("izations", "iz"),
    ("ization", "iz"),
    ("ations", ""),
    ("ation", ""),
    ("ments", ""),
    ("ment", ""),
    ("ingly", ""),
    ("edly", ""),
    ("ings", ""),
    ("ing", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("ers", ""),
    ("er", ""),
    ("ed", ""),
    ("es", ""),
    ("ly", ""),
    ("s", ""),
)
# A suffix is only stripped when this much stem remains ("string" is not "str" + "ing").
_MIN_STEM = 4


def stem(word: str) -> str:
    """A light, deterministic stem: the same for "table"/"tables", "hash"/"hashing"/"hashes",
    "cache"/"cached"/"caches", "query"/"queries", "deploy"/"deployment",
    "optimize"/"optimization". Not a linguist's stemmer, just enough to
    make inflections match."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    elif "'" in w:
        w = w.split("'", 1)[0]
    if any(c.isdigit() for c in w):
        return w
    for suffix, repl in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) + len(repl) >= _MIN_STEM:
            if suffix == "s" and w.endswith(("ss", "us", "is")):
                continue
            w = w[: len(w) - len(suffix)] + repl
            break
    if w.endswith("e") and len(w) > _MIN_STEM:
        w = w[:-1]
    return w


def _is_content(word: str) -> bool:
    if any(c.isdigit() for c in word):
        return len(word) >= MIN_NUMBER
    letters = sum(1 for c in word if c.isalpha())
    return letters >= MIN_LETTERS and word not in STOP


def content_words(strings: Iterable[str]) -> list[str]:
    """The stems of the content words of ``strings``, every occurrence, in order."""
    return [stem(w) for text in strings for w in words(text) if _is_content(w)]


def vocabulary(text: str) -> frozenset[str]:
    """The stems of every word of ``text`` (short ones too: "hash" grounds "hashing"), and of
    every two adjacent words written as one ("front end" grounds "frontend")."""
    ws = words(text)
    return frozenset(stem(w) for w in ws) | frozenset(
        stem(a + b) for a, b in itertools.pairwise(ws) if a.isalpha() and b.isalpha()
    )


def measure_strings(
    strings: Sequence[str], transcript: str, example_answers: Iterable[str] = ()
) -> Grounding:
    """Grounding of the content words of ``strings`` (the summary's text) against
    ``transcript``; ``example_answers``: the text of the few-shot answers a model was shown."""
    own = vocabulary(transcript)
    theirs: set[str] = set()
    for answer in example_answers:
        theirs |= vocabulary(answer)
    theirs -= own
    cw = content_words(strings)
    if not cw:
        return Grounding(0.0, 0.0, 0)
    found = sum(1 for w in cw if w in own)
    leaked = sum(1 for w in cw if w in theirs)
    return Grounding(round(found / len(cw), 3), round(leaked / len(cw), 3), len(cw))


@cache
def _shipped_examples() -> tuple[tuple[str, str], ...]:
    """(transcript, answer text) of every few-shot example in ``prompts/examples``; the answer
    as the summary's strings, without the JSON keys."""
    from engine.pipeline.checks.validate import parse_summary
    from engine.pipeline.prompts.prompting import load_examples

    return tuple(
        (e.transcript, "\n".join(summary_strings(parse_summary(e.answer)))) for e in load_examples()
    )


def example_answer_texts(transcript: str = "") -> list[str]:
    """The answers a model may have been shown for ``transcript``: every shipped few-shot
    answer except that of an example about the same video (its words are not a leak)."""
    from engine.pipeline.prompts.prompting import same_video

    return [a for t, a in _shipped_examples() if not (transcript and same_video(t, transcript))]


def measure(
    summary: Summary, transcript: str, example_answers: Iterable[str] | None = None
) -> Grounding:
    """Grounding of ``summary`` against ``transcript``; the leaked share is measured against
    ``example_answers`` (default: ``example_answer_texts(transcript)``)."""
    answers = example_answer_texts(transcript) if example_answers is None else example_answers
    return measure_strings(summary_strings(summary), transcript, answers)
