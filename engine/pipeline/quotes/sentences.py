"""Sentence-like units of a stretch of transcript: what quote mode may quote.

A unit is one sentence (punctuated text, sentences joined across caption cues), or a verbatim
clause of a sentence longer than ``MAX_WORDS``, cut where the sentence itself pauses (``;``
``:``, a dash, a comma before a conjunction, then a plain comma) and only as a last resort
at a bare word gap. Unpunctuated text (auto-captions, the seed transcripts) has no sentences:
its units are rebuilt from pauses between cues, cue ends before a word that opens spoken
sentences ("so", "but", "yeah") and a soft length limit: of the rules ``bench/eval_units.py``
compares against the punctuated originals, the one that found the most sentence ends (see
EVALUATION.md). Every cut is chosen by one dynamic program over cut and length costs.

Speaker labels ("DAVID MALAN:", "Rob Pike:"), stage text ("[laughs]", "[INAUDIBLE]") and
``>>`` turn marks are never inside a unit: they end the unit before them, and a label becomes
the ``speaker`` of the units after it. Caption readers take ``>>`` out of the text and flag the
segment it started (``Segment.turn``): no unit spans such a turn either, and the units after it
have an unnamed speaker. Back-channel units ("OK, good.", "Yeah.") and units with fewer than
``MIN_CONTENT_WORDS`` content words are marked ``filler``.

Every unit is a contiguous range of the transcript's text, so its whitespace-normalized text
occurs verbatim in the transcript. Imports the chunking text map, the schema and stop words.
"""

from __future__ import annotations

import bisect
import re
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from engine import schema
from engine.pipeline.checks.words import STOP
from engine.pipeline.checks.words import words as content_tokens
from engine.pipeline.parts.chunking import CHECK_EVERY, TextMap
from engine.progress import CancelToken, check

# A unit stays under this many words (the bullet length) ...
MAX_WORDS = 35
# ... and a clause cut from a long sentence has at least this many where possible.
MIN_WORDS = 6
# A unit with fewer content words than this is filler (never chosen as a bullet).
MIN_CONTENT_WORDS = 4
# Unpunctuated text: a gap between cues this long (seconds) ends a unit (bench/eval_units.py).
PAUSE_S = 0.5
# Text with fewer sentence ends than this per word is treated as unpunctuated.
MIN_SENTENCE_RATE = 1 / 80
# A run of non-space text longer than this is cut (not a word; keeps bullets in bounds).
MAX_TOKEN_CHARS = 300

_CONJUNCTIONS = """and but so or because which where when while whereas although though unless
    since until whether if then yet that who whom whose"""
CONJUNCTIONS = frozenset(_CONJUNCTIONS.split())
# Words that open a spoken sentence far more often than others (measured on the punctuated
# talks, bench/eval_units.py: "yeah" 68%, "so" 54%, "but" 46%, "okay" 45%, "well" 42%, "and"
# 34% of their uses are a sentence's first word; "the" 2%).
_OPENERS = "so but and yeah well okay ok now um"
OPENERS = frozenset(_OPENERS.split())
# Subject pronouns: in unpunctuated speech a clause often starts at one.
_SUBJECT_WORDS = "i we you they he she it its it's there this these those"
_SUBJECTS = frozenset(_SUBJECT_WORDS.split())
# Words that carry no content of their own in a back-channel line ("OK, good.", "Bye.").
_BACKCHANNEL = """ok okay yeah yep yes no nope right alright good great cool awesome nice sure
    thanks thank bye goodbye hello hi hey everybody everyone um uh uhm hmm mhm oh ah wow exactly
    absolutely totally true back guys folks perfect fine indeed correct fun excellent amazing huh"""
BACKCHANNEL = frozenset(_BACKCHANNEL.split())
_ABBREVIATION_WORDS = (
    "e.g. i.e. etc. vs. mr. mrs. ms. dr. prof. st. jr. sr. inc. ltd. co. cf. approx."
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_SENTENCE_PUNCT = re.compile(r"[.!?…。！？][\"'”’)\]]*$")
_DASHES = frozenset({"-", "--", "—", "–"})
# "[laughs]", "[INAUDIBLE]"; not a Markdown link ("[Plan 9](https://...)": its words are said).
_STAGE = re.compile(
    r"\[[^\[\]\n]{1,60}\](?!\()|\((?:laughs|laughter|applause|inaudible|crosstalk)\)", re.I
)
_TOKEN = re.compile(r"\S+")
_LABEL_PART = re.compile(r"[^\W\d_](?:[\w.'’-]*[\w'’])?")


@dataclass(frozen=True)
class Unit:
    start: int  # character range of the transcript's text
    end: int
    speaker: str | None  # the speaker label in force, without its colon
    filler: bool  # back-channel or too few content words to be a bullet


@dataclass(frozen=True)
class Rule:
    """How unpunctuated text is cut (punctuated text always ends units at sentence ends).

    A cut costs ``word_cost`` at a bare word gap, ``cue_cost`` at a cue end, ``opener_cost``
    before a word that often opens a spoken sentence ("so", "but", "yeah"), ``both_cost`` at
    a cue end before such a word, ``pause_cost`` at a gap between cues of at least
    ``pause_s`` seconds (None: pauses are not used), and ``clause_cost`` before a conjunction
    or a subject pronoun (where a clause starts when nothing better is near). Each word of a
    unit past ``soft_words`` costs ``per_word``: units stay near a spoken sentence's length.
    """

    pause_s: float | None = PAUSE_S
    pause_cost: float = -3.0
    cue_cost: float = 6.0
    opener_cost: float = 3.0
    both_cost: float = 0.0
    clause_cost: float = 10.0
    word_cost: float = 30.0
    soft_words: int = 12
    per_word: float = 0.3


DEFAULT_RULE = Rule()


@dataclass(frozen=True)
class _Analysis:
    """What is found once per transcript: text that is never quoted, pauses, punctuation."""

    skip: list[tuple[int, int, str | None]]  # (start, end, label name or None), sorted
    speakers: list[tuple[int, str | None]]  # (position, speaker from there on), sorted
    gaps: dict[int, float]  # cue start (character) -> seconds since the previous cue ended
    turns: frozenset[int]  # where a segment flagged ``turn`` starts (character)
    punctuated: bool


_CACHE: weakref.WeakKeyDictionary[TextMap, _Analysis] = weakref.WeakKeyDictionary()


def units_of(
    text_map: TextMap,
    start: int,
    end: int,
    rule: Rule = DEFAULT_RULE,
    *,
    punctuated: bool | None = None,
) -> list[Unit]:
    """The units of ``text_map.text[start:end]`` in order (see the module doc).
    ``punctuated`` overrides the transcript-wide guess (for measurements)."""
    an = _CACHE.get(text_map)
    if an is None:
        an = _CACHE[text_map] = _analyse(text_map)
    text = text_map.text
    toks = _tokens(text, start, end)
    if not toks:
        return []
    skipped = _skipped(an, toks)
    if all(skipped):
        skipped = [False] * len(toks)  # only labels or stage text: quote them rather than nothing
    punct = an.punctuated if punctuated is None else punctuated
    if punct:
        rule = replace(rule, per_word=0.0)  # a sentence is cut only when too long for a bullet
    runs = _runs(text, toks, skipped, punct, an.turns)
    out: list[Unit] = []
    cancel = text_map.cancel
    for n, (a, b) in enumerate(runs):
        if n % CHECK_EVERY == 0:
            check(cancel)
        costs = _cut_costs(text, toks, a, b, an.gaps, rule, punct)
        for x, y in _best_cuts(toks, a, b, costs, rule, cancel):
            s, e = toks[x][0], toks[y - 1][1]
            out.append(Unit(s, e, _speaker_at(an, s), is_filler(text[s:e])))
    return out


def halves(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Where to cut ``text[start:end]`` in two (a short part still needs four quotes): the
    end of the first half and the start of the second, at the best clause boundary near the
    middle; None for a single word."""
    toks = _tokens(text, start, end)
    if len(toks) < 2:
        return None
    costs = _cut_costs(text, toks, 0, len(toks), {}, DEFAULT_RULE, True)
    n = len(toks)
    k = min(range(1, n), key=lambda k: costs[k] + 8.0 * abs(2 * k - n) / n)
    return toks[k - 1][1], toks[k][0]


def is_filler(text: str) -> bool:
    """Back-channel or too short: fewer than ``MIN_CONTENT_WORDS`` words that are neither stop
    words, back-channel words nor contractions."""
    content = [
        w for w in content_tokens(text) if w not in STOP and w not in BACKCHANNEL and "'" not in w
    ]
    return len(content) < MIN_CONTENT_WORDS


# --- the transcript -----------------------------------------------------------------------------


def _tokens(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Non-space runs of ``text[start:end]``, a run longer than MAX_TOKEN_CHARS in pieces."""
    out: list[tuple[int, int]] = []
    for m in _TOKEN.finditer(text, start, end):
        s, e = m.span()
        while e - s > MAX_TOKEN_CHARS:
            out.append((s, s + MAX_TOKEN_CHARS))
            s += MAX_TOKEN_CHARS
        out.append((s, e))
    return out


def _ends_sentence(word: str, nxt: str | None) -> bool:
    if not _SENTENCE_PUNCT.search(word) or word.lower() in _ABBREVIATIONS:
        return False
    if nxt is None:
        return True
    # "e.g. this", "... and so on": a sentence does not go on in lower case.
    return not nxt[0].islower()


def _analyse(tm: TextMap) -> _Analysis:
    text = tm.text
    toks = _tokens(text, 0, len(text))
    words = [text[s:e] for s, e in toks]
    gaps: dict[int, float] = {}
    segs = tm.transcript.segments
    for i in range(1, len(tm.seg_spans)):
        gaps[tm.seg_spans[i][0]] = max(0.0, segs[i].start - segs[i - 1].end)
    ends = sum(_ends_sentence(w, None) for w in words)
    punctuated = bool(words) and ends >= MIN_SENTENCE_RATE * len(words)
    marked = [s for (s, _), seg in zip(tm.seg_spans, segs, strict=False) if seg.turn]
    turns = frozenset(_trusted_turns(marked, toks, words) if punctuated else marked)
    skip: list[tuple[int, int, str | None]] = [(*m.span(), None) for m in _STAGE.finditer(text)]
    skip += [(s, e, None) for s, e in toks if text[s:e] == ">>"]
    skip += _labels(text, toks, words, gaps)
    skip.sort()
    speakers: list[tuple[int, str | None]] = [(s, None) for s in turns]  # new, unnamed
    for s, e, name in skip:
        if name is not None:
            speakers.append((e, name))
        elif text[s:e] == ">>":
            speakers.append((e, None))
    speakers.sort(key=lambda x: x[0])
    return _Analysis(skip, speakers, gaps, turns, punctuated)


def _trusted_turns(marked: list[int], toks: list[tuple[int, int]], words: list[str]) -> list[int]:
    """The marked turns that punctuation does not contradict. Auto-captions put a turn mark
    inside a sentence that goes on in lower case ("and like >> just keeps improving"): on one
    shared talk 48 of 204 marks, mostly the same speaker. Cutting there split sentences
    (whole-sentence quotes 75.0 % -> 69.9 %), so on punctuated text such a mark is ignored."""
    starts = [s for s, _ in toks]
    out: list[int] = []
    for pos in marked:
        i = bisect.bisect_left(starts, pos)
        if 0 < i < len(words) and not _ends_sentence(words[i - 1], None) and words[i][0].islower():
            continue
        out.append(pos)
    return out


def _labels(
    text: str, toks: list[tuple[int, int]], words: list[str], gaps: dict[int, float]
) -> list[tuple[int, int, str | None]]:
    """Speaker labels: 1-4 words ending in ":" where a turn may start (the text's start, a cue
    start, after a sentence end or another label); ALL CAPS always, "Name Name:" when the same
    name labels at least three turns."""
    found: list[tuple[int, int, str]] = []
    i = 0
    while i < len(words):
        prev = words[i - 1] if i else ""
        at_start = i == 0 or toks[i][0] in gaps or _ends_sentence(prev, words[i])
        # An interrupted turn ("So-- Rob Pike: Go ahead.") or one right after another label.
        at_start = at_start or prev.endswith(("--", "—", "…", "..."))
        at_start = at_start or bool(found and found[-1][1] == toks[i - 1][1])
        n = _label_length(words, i) if at_start else 0
        if n:
            name = " ".join([*words[i : i + n - 1], words[i + n - 1][:-1]])
            found.append((toks[i][0], toks[i + n - 1][1], name))
            i += n
        else:
            i += 1
    counts = Counter(name for _, _, name in found)
    return [
        (s, e, name)
        for s, e, name in found
        if (name.upper() == name and sum(c.isalpha() for c in name) >= 2) or counts[name] >= 3
    ]


def _label_length(words: list[str], i: int) -> int:
    """How many words from ``i`` make a label ("Rob Pike:", "SPEAKER 2:"); 0: none."""
    for n in range(1, 5):
        ws = words[i : i + n]
        if len(ws) < n:
            return 0
        last = ws[-1]
        done = last.endswith(":") and len(last) > 1
        ws = [*ws[:-1], last[:-1]] if done else ws
        rest_ok = all(_capitalized(w) or w.isdigit() for w in ws[1:])
        if not (_capitalized(ws[0]) and rest_ok):
            return 0
        if done:
            return n
    return 0


def _capitalized(word: str) -> bool:
    return bool(_LABEL_PART.fullmatch(word)) and word[0].isupper()


def _skipped(an: _Analysis, toks: list[tuple[int, int]]) -> list[bool]:
    """For each token: inside a label, stage text or turn mark."""
    starts = [s for s, _, _ in an.skip]
    out = []
    for s, e in toks:
        i = bisect.bisect_right(starts, s) - 1
        hit = i >= 0 and an.skip[i][1] > s
        hit = hit or (i + 1 < len(starts) and starts[i + 1] < e)
        out.append(hit)
    return out


def _speaker_at(an: _Analysis, pos: int) -> str | None:
    i = bisect.bisect_right(an.speakers, pos, key=lambda x: x[0]) - 1
    return an.speakers[i][1] if i >= 0 else None


# --- runs and cuts ------------------------------------------------------------------------------


def _runs(
    text: str,
    toks: list[tuple[int, int]],
    skipped: list[bool],
    punctuated: bool,
    turns: frozenset[int],
) -> list[tuple[int, int]]:
    """Token ranges that must not be joined: sentences (punctuated text), split wherever
    skipped text (a label, stage text) lies between or a speaker's turn starts."""
    runs: list[tuple[int, int]] = []
    a: int | None = None
    for i in range(len(toks) + 1):
        if a is not None and i < len(toks) and toks[i][0] in turns:
            runs.append((a, i))
            a = None
        if i == len(toks) or skipped[i]:
            if a is not None:
                runs.append((a, i))
            a = None
            continue
        if a is None:
            a = i
        nxt = text[toks[i + 1][0] : toks[i + 1][1]] if i + 1 < len(toks) else None
        if punctuated and _ends_sentence(text[toks[i][0] : toks[i][1]], nxt):
            runs.append((a, i + 1))
            a = None
    return runs


def _cut_costs(
    text: str,
    toks: list[tuple[int, int]],
    a: int,
    b: int,
    gaps: dict[int, float],
    rule: Rule,
    punctuated: bool,
) -> list[float]:
    """``costs[k - a]``: the cost of a cut before token ``k`` of the run ``[a, b)``."""
    costs = [0.0] * (b - a)
    for k in range(a + 1, b):
        prev = text[toks[k - 1][0] : toks[k - 1][1]]
        word = text[toks[k][0] : toks[k][1]]
        conj = word.lower().strip("\"'“‘(") in CONJUNCTIONS
        cost = _WORD_GAP_COST
        if prev[-1] in ";:":
            cost = 1.0
        elif word in _DASHES or prev in _DASHES or prev.endswith(("—", "--", "–")):
            cost = 1.5
        elif prev.endswith(","):
            cost = 2.0 if conj else 5.0
        elif conj and punctuated:
            cost = 8.0
        gap = gaps.get(toks[k][0])
        if not punctuated:
            cost = min(cost, _unpunctuated_cost(word, gap, rule))
        elif word.lower() in OPENERS or (
            gap is not None and rule.pause_s is not None and gap >= rule.pause_s
        ):
            # A run-on stretch of punctuated text: after its own punctuation and conjunctions,
            # a pause or a sentence opener (a bare cue end is where a caption line was full).
            cost = min(cost, max(_unpunctuated_cost(word, gap, rule), 0.0) + 6.0)
        costs[k - a] = cost
    return costs


# A cut at a bare word gap: only when a sentence has no better place within MAX_WORDS.
_WORD_GAP_COST = 30.0
# Pieces longer than this are never considered (they would cost more than any cut).
_LOOKBACK = 3 * MAX_WORDS


def _unpunctuated_cost(word: str, gap: float | None, rule: Rule) -> float:
    """The cost of a cut before ``word`` in unpunctuated text (the cheapest signal there);
    ``gap``: the pause before it when it starts a cue."""
    if gap is not None and rule.pause_s is not None and gap >= rule.pause_s:
        return rule.pause_cost  # a pause: end the unit here unless that leaves a fragment
    bare = word.lower()
    opener = bare in OPENERS
    cost = rule.word_cost
    if gap is not None:
        cost = rule.both_cost if opener else rule.cue_cost
    if opener:
        cost = min(cost, rule.opener_cost)
    if bare in CONJUNCTIONS or bare in _SUBJECTS:
        cost = min(cost, rule.clause_cost)
    return cost


def _piece_cost(n_words: int, rule: Rule) -> float:
    cost = 1.0 + rule.per_word * max(0, n_words - rule.soft_words)
    if n_words < MIN_WORDS:
        cost += 4.0 * (MIN_WORDS - n_words)
    if n_words > MAX_WORDS:
        cost += 50.0 + 5.0 * (n_words - MAX_WORDS)
    return cost


def _best_cuts(
    toks: list[tuple[int, int]],
    a: int,
    b: int,
    costs: Sequence[float],
    rule: Rule,
    cancel: CancelToken | None = None,
) -> list[tuple[int, int]]:
    """The run ``[a, b)`` as pieces of the least total cost (cuts plus pieces); a piece is
    never longer than a bullet (``schema.MAX_BULLET`` characters, whitespace-normalized)."""
    cum = [0]
    for s, e in toks[a:b]:
        cum.append(cum[-1] + e - s + 1)

    def chars(j: int, k: int) -> int:  # tokens [j, k) joined by single spaces
        return cum[k - a] - cum[j - a] - 1

    short = b - a <= MAX_WORDS and chars(a, b) <= schema.MAX_BULLET
    if short and rule.per_word == 0 and min(costs[1:], default=0) >= 0:
        return [(a, b)]  # a sentence short enough for a bullet: never cut
    best = [0.0] + [float("inf")] * (b - a)
    back = [0] * (b - a + 1)
    for k in range(a + 1, b + 1):
        if k % CHECK_EVERY == 0:  # a 50 MB unpunctuated text is one run of millions of words
            check(cancel)
        for j in range(k - 1, max(a, k - _LOOKBACK) - 1, -1):
            if j < k - 1 and chars(j, k) > schema.MAX_BULLET:
                break
            c = best[j - a] + _piece_cost(k - j, rule) + (costs[j - a] if j > a else 0.0)
            if c < best[k - a]:
                best[k - a], back[k - a] = c, j
    pieces: list[tuple[int, int]] = []
    k = b
    while k > a:
        j = back[k - a]
        pieces.append((j, k))
        k = j
    return pieces[::-1]
