"""Degenerate-output checks for a generated ``Summary``.

The grammar guarantees the shape; it cannot stop a (small) model from copying a few-shot
example, writing the same bullet five times, looping on a phrase, or describing the end of the
video in section 2 and its start in section 4. Each check returns ``Flag``s; the pipeline
retries with another seed and, when every attempt is flagged, keeps the least flagged one and
stores it with its flags (never silently).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.pipeline.checks.grounding import measure
from engine.pipeline.checks.words import _STOP, summary_strings, words
from engine.pipeline.prompts.notes import Notes
from engine.schema import Summary

# A phrase this many words long shared with a few-shot answer (and not in the transcript
# itself) is a copy, not a coincidence.
COPY_SHINGLE = 8
# Instructions are short and their phrases unusual in a talk ("1 to 3 key technical terms"):
# a shorter phrase already counts.
INSTRUCTION_SHINGLE = 5
# Bullets whose word sets overlap at least this much (Jaccard) say the same thing.
SAME_BULLET = 0.8
# A phrase of LOOP_NGRAM words occurring LOOP_COUNT times in one string is a generation loop.
LOOP_NGRAM = 3
LOOP_COUNT = 3
# Order check: a section "belongs" to a part only when its match is this much better than the
# runner-up, and at least this strong; weaker evidence is no evidence.
ORDER_MARGIN = 1.5
ORDER_MIN_SCORE = 3.0

# Grounding gate (engine.pipeline.checks.grounding). Calibrated on the seed run's Mistral-7B
# reference answers: 0.54-0.67 grounded against their own transcripts with at most 0.05 leaked from
# vidsum's few-shot answers, but 0.06-0.13 grounded against another video's transcript; a verbatim
# copy of a few-shot answer held against the seed transcripts measures 0.07-0.30 grounded and
# 0.70-0.93 leaked. The thresholds sit between those groups with room on both sides: below
# GROUNDED_MIN the summary is mostly about something else; above LEAKED_MAX a fifth of its words
# come from an example's video (a partial copy: one section, the intro).
GROUNDED_MIN = 0.35
LEAKED_MAX = 0.20
# Fewer content words than this is too little text to judge (empty_content covers it).
GROUNDING_MIN_WORDS = 10

SEVERITY = {
    "ungrounded": 4,
    "copied_example": 4,
    "copied_instructions": 4,
    "repeated_sections": 4,
    "looping": 3,
    "empty_content": 3,
    "sections_out_of_order": 2,
    "repeated_bullets": 1,
    "notes_flagged": 1,
}
# Flags that mean the summary is not about its own video: when every attempt still has one,
# the result is stored as a *failed* summary (engine.batch.store), never shown as a good one.
FAILING = frozenset({"ungrounded", "copied_example", "copied_instructions"})
# What to do about a failed summary (one sentence, shown by the CLI, TUI and Markdown export).


@dataclass(frozen=True)
class Flag:
    code: str  # a key of SEVERITY
    detail: str  # a sentence for the user

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


def _shingles(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _copied(
    strings: Iterable[str], sources: Iterable[str], transcript: str, n: int
) -> tuple[int, str]:
    """(number of n-word phrases of ``strings`` found in ``sources`` but not in
    ``transcript``, one of them)."""
    own = _shingles(words(transcript), n) if transcript else set()
    theirs: set[tuple[str, ...]] = set()
    for src in sources:
        theirs |= _shingles(words(src), n)
    theirs -= own
    hits = 0
    sample = ""
    if theirs:
        for text in strings:
            shared = _shingles(words(text), n) & theirs
            if shared:
                hits += len(shared)
                sample = sample or " ".join(sorted(shared)[0])
    return hits, sample


def copied_example(s: Summary, examples: Iterable[str], transcript: str = "") -> list[Flag]:
    """Long phrases shared with a few-shot answer that the transcript itself does not contain."""
    hits, sample = _copied(summary_strings(s), examples, transcript, COPY_SHINGLE)
    if not hits:
        return []
    return [
        Flag(
            "copied_example",
            f"{hits} phrase(s) of {COPY_SHINGLE}+ words copied from a few-shot example, "
            f"e.g. \u201c{sample}\u201d",
        )
    ]


def copied_instructions(strings: Iterable[str], instructions: str, source: str = "") -> list[Flag]:
    """Phrases of the prompt's own instructions written back as content (a small model that
    did not understand the task), unless the source text says them too."""
    hits, sample = _copied(strings, [instructions], source, INSTRUCTION_SHINGLE)
    if not hits:
        return []
    return [
        Flag(
            "copied_instructions",
            f"{hits} phrase(s) copied from the instructions, e.g. \u201c{sample}\u201d",
        )
    ]


def check_notes(notes: Notes, *, instructions: str, source: str) -> list[Flag]:
    """Flags for the notes on one chunk: instructions copied, the same point twice."""
    flags = copied_instructions([*notes.points, *notes.terms], instructions, source)
    flags += empty_content(notes.points, "points")
    normed = [_norm(p) for p in notes.points]
    if any(_same(normed[i], normed[j]) for i in range(len(normed)) for j in range(i)):
        flags.append(Flag("repeated_bullets", "the notes repeat a point"))
    return flags


def _norm(text: str) -> tuple[str, ...]:
    return tuple(w for w in words(text) if w not in _STOP) or tuple(words(text))


def _same(a: Sequence[str], b: Sequence[str]) -> bool:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return tuple(a) == tuple(b)
    return len(sa & sb) / len(sa | sb) >= SAME_BULLET


def repeated(s: Summary) -> list[Flag]:
    """The same bullet twice (anywhere), or two sections saying the same thing."""
    flags: list[Flag] = []
    bullets = [(i, _norm(b)) for i, sec in enumerate(s.sections, 1) for b in sec.content]
    pairs = [
        (bullets[x][0], bullets[y][0])
        for x in range(len(bullets))
        for y in range(x + 1, len(bullets))
        if _same(bullets[x][1], bullets[y][1])
    ]
    same_sections: list[tuple[int, int]] = []
    for i in range(len(s.sections)):
        for j in range(i + 1, len(s.sections)):
            a, b = s.sections[i], s.sections[j]
            shared = sum(1 for pa, pb in pairs if {pa, pb} == {i + 1, j + 1})
            title_a = _norm(a.title.split(": ", 1)[-1])
            title_b = _norm(b.title.split(": ", 1)[-1])
            if shared >= len(a.content) // 2 or (title_a == title_b and shared):
                same_sections.append((i + 1, j + 1))
    if same_sections:
        flags.append(
            Flag(
                "repeated_sections",
                "sections "
                + ", ".join(f"{a} and {b}" for a, b in same_sections)
                + " say the same thing",
            )
        )
    if pairs:
        flags.append(
            Flag(
                "repeated_bullets",
                f"{len(pairs)} bullet(s) repeat another bullet "
                f"(first in sections {pairs[0][0]} and {pairs[0][1]})",
            )
        )
    return flags


def _trivial(text: str) -> bool:
    """Fewer than two words with letters: a placeholder, not content ("1", ",", "A B")."""
    return sum(1 for w in words(text) if any(c.isalpha() for c in w) and len(w) > 1) < 2


def empty_content(bullets: Sequence[str], what: str) -> list[Flag]:
    n = sum(1 for b in bullets if _trivial(b))
    if not n:
        return []
    return [Flag("empty_content", f"{n} of {len(bullets)} {what} say nothing (placeholders)")]


def loop_of(text: str) -> tuple[str, int] | None:
    """The short phrase that keeps coming back in ``text`` and how often, or None."""
    toks = words(text)
    grams = Counter(tuple(toks[i : i + LOOP_NGRAM]) for i in range(len(toks) - LOOP_NGRAM + 1))
    if grams:
        gram, n = grams.most_common(1)[0]
        if n >= LOOP_COUNT:
            return " ".join(gram), n
    return None


def looping(s: Summary) -> list[Flag]:
    """A string in which one short phrase keeps coming back: the model was stuck."""
    for text in summary_strings(s):
        found = loop_of(text)
        if found:
            phrase, n = found
            return [
                Flag("looping", f"the phrase \u201c{phrase}\u201d repeats {n} times in one entry")
            ]
    return []


def section_part_scores(s: Summary, parts: Sequence[str]) -> list[list[float]]:
    """How strongly each section's words point at each part's text (distinctive words count
    more: weight log(n_parts / parts containing the word))."""
    counts = [Counter(w for w in words(p) if w not in _STOP and len(w) > 2) for p in parts]
    n = len(parts)
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    scores: list[list[float]] = []
    for sec in s.sections:
        sec_words = {
            w
            for w in words(" ".join([sec.title.split(": ", 1)[-1], *sec.content, *sec.topics]))
            if w not in _STOP and len(w) > 2
        }
        row = []
        for c in counts:
            row.append(sum(math.log(n / df[w]) * math.log1p(c[w]) for w in sec_words if c[w]))
        scores.append(row)
    return scores


def out_of_order(s: Summary, parts: Sequence[str]) -> list[Flag]:
    """Sections whose clear best-matching parts run backwards (section 2 is about the end of
    the video, section 4 about its start)."""
    if len(parts) != len(s.sections) or not all(p.strip() for p in parts):
        return []
    scores = section_part_scores(s, parts)
    clear: list[tuple[int, int]] = []  # (section, part), 1-based
    for i, row in enumerate(scores):
        ranked = sorted(range(len(row)), key=lambda j: -row[j])
        best, second = row[ranked[0]], row[ranked[1]] if len(row) > 1 else 0.0
        if best >= ORDER_MIN_SCORE and best >= ORDER_MARGIN * second:
            clear.append((i + 1, ranked[0] + 1))
    for x in range(len(clear)):
        for y in range(x + 1, len(clear)):
            (sa, pa), (sb, pb) = clear[x], clear[y]
            if pb < pa:
                return [
                    Flag(
                        "sections_out_of_order",
                        f"section {sa} is about part {pa} of the video but section {sb} "
                        f"is about the earlier part {pb}",
                    )
                ]
    return []


def ungrounded(
    s: Summary, transcript: str, example_answers: Iterable[str] | None = None
) -> list[Flag]:
    """Too few of the summary's words occur in the transcript, or too many come from a
    few-shot example's video (``engine.pipeline.checks.grounding``)."""
    g = measure(s, transcript, example_answers)
    if g.words < GROUNDING_MIN_WORDS:
        return []
    if g.leaked > LEAKED_MAX:
        return [
            Flag(
                "ungrounded",
                f"{g.leaked:.0%} of its words come from a few-shot example's video, "
                "not from this transcript",
            )
        ]
    if g.grounded < GROUNDED_MIN:
        return [
            Flag(
                "ungrounded",
                f"only {g.grounded:.0%} of its words occur in the transcript",
            )
        ]
    return []


def failure_reason(flags: Iterable[str | Flag]) -> str | None:
    """Why a kept summary counts as failed (its failing flags, joined), or None."""
    reasons = []
    for f in flags:
        code, _, detail = str(f).partition(": ")
        if code in FAILING:
            reasons.append(f"{code}: {detail}" if detail else code)
    return "; ".join(reasons) or None


def check_summary(
    s: Summary,
    *,
    examples: Sequence[str] = (),
    instructions: str = "",
    transcript: str = "",
    parts: Sequence[str] = (),
) -> list[Flag]:
    """Every degenerate-output flag for ``s``. ``examples``: the few-shot answers the prompt
    showed; ``instructions``: its instructions; ``parts``: the text of the five parts the
    sections should follow."""
    return [
        *(ungrounded(s, transcript) if transcript else []),
        *copied_example(s, examples, transcript),
        *(
            copied_instructions(summary_strings(s), instructions, transcript)
            if instructions
            else []
        ),
        *repeated(s),
        *empty_content(
            [s.introduction, *(b for sec in s.sections for b in sec.content)], "sentences"
        ),
        *looping(s),
        *out_of_order(s, parts),
    ]


def badness(flags: Sequence[Flag]) -> int:
    """Lower is better; picks the attempt to keep when every attempt is flagged."""
    return sum(SEVERITY.get(f.code, 1) for f in flags)


# What a retry says about the answer before it ("attempt 2 of 3 (previous answer ...)").
RETRY_WORDS = {
    "copied_example": "copied an example",
    "copied_instructions": "copied the instructions",
    "repeated_sections": "repeated a section",
    "looping": "went in a loop",
    "empty_content": "left bullets empty",
    "sections_out_of_order": "had its sections out of order",
    "repeated_bullets": "repeated a bullet",
    "notes_flagged": "came from flagged notes",
    "ungrounded": "was not about this video",
}


def retry_reason(flags: Sequence[Flag]) -> str:
    """``previous answer copied an example``: the worst flag of the answer being retried."""
    worst = max(flags, key=lambda f: SEVERITY.get(f.code, 0))
    words = RETRY_WORDS.get(worst.code, f"was flagged ({worst.code.replace('_', ' ')})")
    return f"previous answer {words}"
