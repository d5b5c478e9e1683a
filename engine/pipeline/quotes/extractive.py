"""The extractive summary: which of the talk's own units become the introduction and bullets.

Candidates are the quotes of each part (``quote_text.quotes_of``); on unpunctuated captions a
quote longer than the bullet length the budget allows is cut into equal word windows (there is
no sentence to keep whole). Units that say too little (fewer than ``MIN_UNIT_WORDS`` words or
``MIN_UNIT_TERMS`` content words: "OK, good.", "Yeah.", a bare speaker label) are never chosen
while anything else is left. Every candidate of the whole talk is ranked (``rank.rank``); the
introduction is the talk's top-ranked unit that reads on its own (``alone``: it starts a
sentence and ``opening.stands_alone``: no connective or pointer back, "But ...", "That's why
...", no false start, "Not not at all", and no question) if one scores within ``INTRO_SLACK``
of the top, else the top unit; then each section gets four units of its own part by maximal
marginal relevance against everything chosen so far (``Ranking.mmr``), a unit that does not
read on its own scoring ``BULLET_SLACK`` lower, so a near-equal one that does wins (a section
still gets four). A picker (the model, in ``quotes``) may choose the four among a section's
top ``TOP_K`` instead (ranked the same way).

Compression: the summary keeps at most ``share(minutes)`` of the transcript's words — 40 % up
to 5 minutes, 5 % from an hour, linear between (untimed text: 150 words a minute) — and no
bullet over ``MAX_BULLET_WORDS`` words. Each pick may use the budget left over the picks left;
where no unit of a part is that short, its shortest candidate is taken and the summary goes
over budget (``Choice.words_kept`` says by how much). Imports the ranking, the opening rules,
the quotes, labels and the schema.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from engine import schema
from engine.errors import GenerationError
from engine.pipeline.checks.quality import loop_of
from engine.pipeline.checks.words import STOP
from engine.pipeline.labels.sections import general_topics, section_labels, talk_topics
from engine.pipeline.parts.chunking import CHECK_EVERY, Span, TextMap
from engine.pipeline.quotes.opening import stands_alone
from engine.pipeline.quotes.rank import Ranking, rank, terms
from engine.pipeline.quotes.text import Quote, quotes_of
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit
from engine.schema import Summary
from engine.transcripts.types import Transcript

MAX_BULLET_WORDS = 35
MIN_UNIT_WORDS = 4
MIN_UNIT_TERMS = 2
WORDS_PER_MINUTE = 150  # untimed text
SHORT_MINUTES, SHORT_SHARE = 5.0, 0.40
LONG_MINUTES, LONG_SHARE = 60.0, 0.05
# The model (if it picks) chooses four among this many of a section's best units.
TOP_K = 8
# A transcript with fewer sentence ends than one per this many words is unpunctuated.
PUNCTUATED_WORDS = 40
N_PICKS = 1 + schema.N_SECTIONS * schema.N_SECTION_BULLETS  # introduction + bullets

_SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’)\]]*)(?:\s|$)")
_SENTENCE_TAIL = re.compile(r"[.!?…][\"'”’)\]]*$")
_TOKEN = re.compile(r"\S+")
# How far a window's cut may move from its equal place to fall between word groups.
WINDOW_SLACK = 3
# Words that start a clause: a window of unpunctuated captions is best cut before one.
_CLAUSE_OPENERS = "and but so because which who where when while if then although though since or"
CLAUSE_OPENERS = frozenset(_CLAUSE_OPENERS.split())
# Stop words a clause may still end on ("it", "them", "too"): no penalty for a cut after them.
_CLAUSE_ENDS = "it them this that these those too here there now him her us you"
CLAUSE_ENDS = frozenset(_CLAUSE_ENDS.split())
# The introduction may score this much below the talk's top unit (scores are 0..1) to be one
# that stands alone rather than one that continues a thought ("But it also means ...").
INTRO_SLACK = 0.25
# A bullet that does not stand alone (``stands_alone``) scores this much lower in the choice
# (scores are 0..1), so a near-equal unit that stands alone wins; a part keeps its four bullets.
BULLET_SLACK = 0.15
# A sign-off says nothing about the video: never a bullet.
_SIGN_OFF = re.compile(
    r"\b(?:thanks?(?: you)? (?:so much )?for (?:watching|listening)|see you (?:next time|in the"
    r" next)|(?:like and )?subscribe)\b",
    re.IGNORECASE,
)

# (part, its candidates in transcript order) -> the four it keeps
Picker = Callable[[Span, list[Quote]], list[Quote]]


def share(minutes: float) -> float:
    """The largest share of a transcript's words a summary of a talk this long may keep."""
    if minutes <= SHORT_MINUTES:
        return SHORT_SHARE
    if minutes >= LONG_MINUTES:
        return LONG_SHARE
    f = (minutes - SHORT_MINUTES) / (LONG_MINUTES - SHORT_MINUTES)
    return SHORT_SHARE + f * (LONG_SHARE - SHORT_SHARE)


def minutes_of(transcript: Transcript, n_words: int) -> float:
    d = transcript.duration
    return d / 60.0 if d else n_words / WORDS_PER_MINUTE


def punctuated(text: str) -> bool:
    n = len(text.split())
    return n > 0 and len(_SENTENCE_END.findall(text)) * PUNCTUATED_WORDS >= n


def n_words(text: str) -> int:
    return len(text.split())


def _window(tm: TextMap, part: Span, q: Quote, a: int, b: int) -> Quote:
    """Words ``[a, b)`` of quote ``q`` as a quote of their own (offsets and start time)."""
    spans = [m.span() for m in _TOKEN.finditer(tm.text, q.start_char, q.end_char)]
    start = spans[a][0] if a < len(spans) else q.start_char
    end = spans[b - 1][1] if 0 < b <= len(spans) else q.end_char
    at = tm.time(max(0, bisect.bisect_right(tm.bounds, start) - 1))
    if at is not None and part.start_s is not None and part.end_s is not None:
        at = min(max(at, part.start_s, q.start_s or part.start_s), part.end_s)
    return Quote(" ".join(q.text.split()[a:b]), start, end, at if at is not None else q.start_s)


def _cut_near(ws: Sequence[str], ideal: int, lo: int, hi: int) -> int:
    """The word gap in ``[lo, hi]`` nearest ``ideal`` that best separates word groups: before
    a clause opener ("and", "because", "which"), never after a word that needs the next one
    ("the", "to", "of")."""

    def cost(c: int) -> float:
        after, before = ws[c].lower(), ws[c - 1].lower().strip(",;:")
        return (
            abs(c - ideal)
            - 2.5 * (after in CLAUSE_OPENERS)
            + 3.0 * (before in STOP and before not in CLAUSE_ENDS)
        )

    return min(range(max(lo, 1), min(hi, len(ws) - 1) + 1), key=lambda c: (cost(c), c))


def windows(tm: TextMap, part: Span, q: Quote, max_words: int) -> list[Quote]:
    """``q`` cut into windows of about ``max_words`` words (unpunctuated captions), each cut
    moved up to ``WINDOW_SLACK`` words to fall between word groups (``_cut_near``)."""
    ws = q.text.split()
    n = len(ws)
    k = -(-n // max_words)
    if k <= 1:
        return [q]
    cuts = [0]
    for i in range(1, k):
        ideal = round(i * n / k)
        cuts.append(
            _cut_near(ws, ideal, max(cuts[-1] + 2, ideal - WINDOW_SLACK), ideal + WINDOW_SLACK)
        )
    cuts.append(n)
    return [_window(tm, part, q, a, b) for a, b in itertools.pairwise(cuts) if b > a]


@dataclass(frozen=True)
class Candidates:
    """Every unit of the talk that may be chosen, and the parts they belong to."""

    quotes: list[Quote]
    part_of: list[int]  # index of each quote's part
    # 0: a whole sentence (punctuated input) that says enough, 1: says enough but starts or
    # ends inside a sentence, 2: a back-channel line, bare label or fragment. A part's picks
    # come from the best tier that holds four units.
    tier: list[int]
    words: list[int]
    budget: int  # words the whole summary may keep
    total_words: int
    # Whether each unit starts a sentence (punctuated input; a window of unpunctuated captions
    # counts as one): only such a unit may introduce the summary. Empty: all do.
    starts: list[bool] = field(default_factory=list)
    # Whether each unit reads on its own (``alone``): the choice prefers those that do. Empty:
    # judged when the choice starts.
    alone: list[bool] = field(default_factory=list)

    def of_part(self, p: int) -> list[int]:
        return [i for i, x in enumerate(self.part_of) if x == p]


def candidates(
    transcript: Transcript, tm: TextMap, parts: Sequence[Span], cancel: CancelToken | None = None
) -> Candidates:
    total = n_words(transcript.text)
    budget = int(share(minutes_of(transcript, total)) * total)
    unit_max = max(MIN_UNIT_WORDS, min(MAX_BULLET_WORDS, budget // N_PICKS))
    cut = not punctuated(transcript.text)
    quotes: list[Quote] = []
    part_of: list[int] = []
    for part in parts:
        qs = quotes_of(tm, part)
        if not qs:
            raise GenerationError(
                f"{transcript.source}: part {part.index + 1} of the transcript holds no text "
                "to quote from; summarize it with --style abstractive"
            )
        for n, q in enumerate(qs):
            if n % CHECK_EVERY == 0:
                check(cancel)
            for w in windows(tm, part, q, unit_max) if cut else [q]:
                quotes.append(w)
                part_of.append(part.index)
    check(cancel)
    starts = [cut or starts_sentence(tm.text, q) for q in quotes]
    # Tier 0: a whole sentence (starts one and ends with one) or a window of unpunctuated text.
    tiers = [
        0 if ok and (cut or (s and bool(_SENTENCE_TAIL.search(q.text)))) else 1 if ok else 2
        for q, s, ok in zip(quotes, starts, usable(quotes, cancel), strict=True)
    ]
    words = [n_words(q.text) for q in quotes]
    lone = alone(quotes, starts, cancel)
    return Candidates(quotes, part_of, tiers, words, budget, total, starts, lone)


def starts_sentence(text: str, q: Quote) -> bool:
    """``q`` starts the text or follows a sentence end (a clause cut from inside a sentence
    does not)."""
    before = text[max(0, q.start_char - 200) : q.start_char].rstrip()
    return not before or bool(_SENTENCE_TAIL.search(before))


def alone(
    quotes: Sequence[Quote], starts: Sequence[bool], cancel: CancelToken | None = None
) -> list[bool]:
    """Which units read on their own: they start a sentence (``starts``; a window of
    unpunctuated captions counts as one; empty: all do) and stand alone (``stands_alone``)."""
    out: list[bool] = []
    for n, q in enumerate(quotes):
        if n % CHECK_EVERY == 0:
            check(cancel)
        out.append((not starts or starts[n]) and stands_alone(q.text))
    return out


def usable(quotes: Sequence[Quote], cancel: CancelToken | None = None) -> list[bool]:
    """Which quotes say enough to be chosen: not a back-channel line ("OK, good."), a sign-off
    ("thanks for watching"), a bare speaker label or a fragment, and not a sentence the quality
    gate would take for a loop."""
    out: list[bool] = []
    for n, q in enumerate(quotes):
        if n % CHECK_EVERY == 0:
            check(cancel)
        out.append(
            not q.filler
            and not _SIGN_OFF.search(q.text)
            and n_words(q.text) >= MIN_UNIT_WORDS
            and len(set(terms(q.text))) >= MIN_UNIT_TERMS
            and loop_of(q.text) is None
        )
    return out


@dataclass(frozen=True)
class Choice:
    intro: Quote
    picked: list[list[Quote]]  # per part, four quotes in transcript order
    words_kept: int
    budget: int
    total_words: int


class Chooser:
    """Budgeted picks over one ranking of the whole talk; a unit that does not stand alone
    ranks ``BULLET_SLACK`` lower (``alone``)."""

    def __init__(self, cands: Candidates, ranking: Ranking) -> None:
        self.c = cands
        self.chosen: list[int] = []
        self.left = cands.budget
        self.alone = cands.alone or alone(cands.quotes, cands.starts)
        self.score = ranking.score  # as ranked; ``ranking`` holds the penalized scores
        lean = np.logical_not(np.array(self.alone, dtype=bool))
        self.ranking = replace(ranking, score=ranking.score - BULLET_SLACK * lean)

    def allowance(self) -> int:
        """Words the next pick may have: the budget left over the picks left (at most a
        bullet's limit)."""
        return min(MAX_BULLET_WORDS, self.left // max(1, N_PICKS - len(self.chosen)))

    def fits(self, i: int) -> bool:
        return self.c.words[i] <= self.allowance()

    def pool(self, among: list[int], need: int = schema.N_SECTION_BULLETS) -> list[int]:
        """The units of ``among`` in the best tier that still holds ``need`` of them."""
        for tier in (0, 1):
            good = [i for i in among if self.c.tier[i] <= tier and i not in self.chosen]
            if len(good) >= need:
                return good
        return among

    def take(self, i: int) -> None:
        self.chosen.append(i)
        self.left -= self.c.words[i]

    def best(self, among: list[int], k: int) -> list[int]:
        """``k`` picks among ``among``: within the allowance by MMR, else the shortest."""
        out: list[int] = []
        for _ in range(k):
            pick = self.ranking.mmr(among, 1, self.chosen, self.fits)
            if not pick:  # none short enough: the shortest (over budget) ...
                rest = [i for i in among if i not in self.chosen]
                # ... or, in a part of four units or fewer, the introduction's unit or a
                # bullet again (a very short transcript)
                rest = rest or [i for i in among if i not in out] or among
                # (a unit that says something before a sign-off or a fragment)
                pick = sorted(rest, key=lambda i: (self.c.tier[i] > 1, self.c.words[i], i))[:1]
            if not pick:
                break
            self.take(pick[0])
            out.append(pick[0])
        return out

    def intro(self, among: list[int]) -> int:
        """The talk's best unit within the allowance that stands alone (``alone``), if it
        scores within ``INTRO_SLACK`` of the best (unpenalized); else the best (``best``)."""
        ok = [i for i in among if i not in self.chosen and self.fits(i)]
        score = self.score
        top = max((float(score[i]) for i in ok), default=0.0)
        good = [
            i
            for i in ok
            if float(score[i]) >= top - INTRO_SLACK and self.c.tier[i] == 0 and self.alone[i]
        ]
        if not good:
            return self.best(among, 1)[0]
        pick = max(good, key=lambda i: (float(score[i]), -i))
        self.take(pick)
        return pick

    def top(self, among: list[int], k: int) -> list[int]:
        """The part's ``k`` best units within the allowance per bullet, by MMR (nothing
        taken yet), filled up to four with its shortest units."""
        cap = self.allowance()
        top = self.ranking.mmr(among, k, self.chosen, lambda i: self.c.words[i] <= cap)
        short = sorted(
            (i for i in among if i not in top and i not in self.chosen),
            key=lambda i: (self.c.words[i], i),
        )
        return top + short[: max(0, schema.N_SECTION_BULLETS - len(top))]


def choose(
    cands: Candidates,
    ranking: Ranking,
    parts: Sequence[Span],
    picker: Picker | None = None,
) -> Choice:
    """The introduction (the talk's best unit within the budget that opens alone, ``intro``)
    and four units per part."""
    ch = Chooser(cands, ranking)
    intro = ch.intro(ch.pool(list(range(len(cands.quotes))), 1))
    picked: list[list[Quote]] = []
    for part in parts:
        among = ch.pool(cands.of_part(part.index))
        if picker is None:
            ids = ch.best(among, schema.N_SECTION_BULLETS)
        else:
            top = sorted(ch.top(among, TOP_K))
            by_quote = {cands.quotes[i]: i for i in top}
            ids = [by_quote[q] for q in picker(part, [cands.quotes[i] for i in top])]
            for i in ids:
                ch.take(i)
        picked.append([cands.quotes[i] for i in sorted(ids)])
    kept = sum(cands.words[i] for i in ch.chosen)
    return Choice(cands.quotes[intro], picked, kept, cands.budget, cands.total_words)


def build_summary(
    transcript: Transcript,
    parts: Sequence[Span],
    part_texts: Sequence[str],
    choice: Choice,
    cancel: CancelToken | None = None,
) -> Summary:
    """The summary of ``choice``: labels from ``labels``; section and bullet times when the
    transcript is timed."""
    labels = section_labels(part_texts, transcript.text, cancel)
    check(cancel)
    sections = []
    for k, (part, quotes, (title, topics)) in enumerate(
        zip(parts, choice.picked, labels, strict=True)
    ):
        sec: dict[str, object] = {
            "title": f"Section {k + 1}: {title}",
            "content": [q.text for q in quotes],
            "topics": topics,
        }
        if part.start_s is not None and part.end_s is not None:
            sec["start"], sec["end"] = round(part.start_s, 3), round(part.end_s, 3)
            sec["content_times"] = [round(q.start_s or 0.0, 3) for q in quotes]
        sections.append(sec)
    return Summary.model_validate(
        {
            "introduction": choice.intro.text,
            "sections": sections,
            "topics": talk_topics(transcript.text, schema.N_TOPICS, cancel),
            "general_topics": [
                {"topic": f, "complexity": round(c, 2)} for f, c in general_topics(transcript.text)
            ],
        }
    )


def extract(
    transcript: Transcript,
    tm: TextMap,
    parts: Sequence[Span],
    part_texts: Sequence[str],
    picker: Picker | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Summary, Choice]:
    """Rank the whole talk's units, choose, and build the summary (``progress``: a
    ``generate`` event per step, with done/total of the steps)."""

    def step(done: int, message: str) -> None:
        check(cancel)
        emit(progress, Progress("generate", done, 4, unit="steps", message=message))

    step(0, "Cutting the transcript into sentences")
    cands = candidates(transcript, tm, parts, cancel)
    step(1, f"Ranking {len(cands.quotes):,} sentences")
    ranking = rank([q.text for q in cands.quotes], cancel)
    step(2, "Choosing the sentences")
    choice = choose(cands, ranking, parts, picker)
    step(3, "Titling the sections")
    summary = build_summary(transcript, parts, part_texts, choice, cancel)
    step(4, "Ranked")
    return summary, choice
