"""Keyphrases of a talk and of its stretches, by classical scoring (no model).

Candidates are runs of content words between stop words and punctuation, cut into phrases of
1-3 words: never a number, a contraction, a filler word (``words.KEYPHRASE_STOP``), a speaker's
name from the transcript's ``NAME:`` labels, stage text (``[MUSIC PLAYING]``) or the same word
twice. A word's weight is its rarity in English (Zipf frequency from ``wordfreq``), a phrase's
the sum over its words, so "binary search" outweighs "search" said twice as often. A stretch's
phrases are scored by class-based TF-IDF (c-TF-IDF): count in the stretch times
log(1 + A / count in the whole talk), A the talk's words per stretch, times the weight; the
talk's own phrases by count times weight. Multi-word section phrases get a further boost
(``PHRASE_BOOST``). A talk's key words (``key_words``) are the content words of >= 3 letters
it says often and English rarely says: count x (8 - Zipf), said twice; labels draw topics
from phrases holding one first. Surface forms keep the transcript's casing; a two-letter
word only ever written in lower case is an abbreviation and gets capitals ("os" -> "OS").
Imports the stop words and wordfreq only.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from wordfreq import zipf_frequency

from engine.pipeline.checks.grounding import stem
from engine.pipeline.checks.words import KEYPHRASE_STOP, NOT_ALONE, NOT_LAST
from engine.progress import CancelToken, check

Key = tuple[str, ...]

MAX_PHRASE_WORDS = 3
# Tokens between cancel checks (a 50 MB talk is ~9M tokens).
CHECK_EVERY = 4096
# A word longer than this is a run-together caption artefact ("librariesall"), not a term.
MAX_WORD_CHARS = 20
# Zipf frequency (log10 of uses per billion words) at and above which a word is a function word
# ("the" 7.7, "would" 6.6) even if the stop lists miss it.
FUNCTION_ZIPF = 6.5
# Rarity of a word wordfreq does not know: mostly names and jargon said several times
# ("Griesemer", "OpenClaw"), but also run-together caption words said once, so not the maximum.
UNKNOWN_RARITY = 4.5
# "-ly" words whose stem is at least this common are adverbs ("essential" 3.9); "assemb" is 0.
ADVERB_STEM_ZIPF = 2.5
# A section topic of two or three words names more than its words do alone ("bubble sort",
# "sort"): its c-TF-IDF score grows by this share per extra word (on top of the rarity sum).
PHRASE_BOOST = 0.5
# The shortest word that counts as a repeat when another word starts or ends with it.
MIN_AFFIX = 4
# A talk's key words (``key_words``): words of at least this many letters, said at least
# ``KEY_MIN_COUNT`` times, ranked by count x (``KEY_RARITY_TOP`` - Zipf frequency), so 0 for
# the commonest English words and 8 for a word wordfreq has never seen.
KEY_MIN_CHARS = 3
KEY_MIN_COUNT = 2
KEY_RARITY_TOP = 8.0

_TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*|[^\w\s]")
_STAGE = re.compile(r"\[[^\]\n]{0,80}\]")
_HEDGE = re.compile(r"\b(?:sort|kind)s? of\b", re.IGNORECASE)  # "sort of" is not sorting
_SENTENCE_END = frozenset(".!?")
_POSSESSIVE = re.compile(r"['’]s$")
# Speaker labels: "DAVID MALAN:" anywhere, "Carmen Andoh:" at a line start or after a sentence.
_CAPS_LABEL = re.compile(
    r"(?<![\w'’])([A-Z][A-Z'’.\-]+(?:[ \t]+[A-Z][A-Z'’.\-]+){0,3})[ \t]*:(?!\d)"
)
_NAME_LABEL = re.compile(
    r"(?:^|(?<=[.!?\]\n] ))[ \t]*([A-Z][\w'’.\-]*(?:[ \t]+[A-Z][\w'’.\-]*){0,3})[ \t]*:(?!\d)",
    re.MULTILINE,
)
# A label must recur to count as one (a lone "Note:" is text).
MIN_LABEL_USES = 2


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """English Zipf frequency of a lower-case word (0 when wordfreq does not know it)."""
    return float(zipf_frequency(word, "en"))


@lru_cache(maxsize=65536)
def rarity(word: str) -> float:
    """How much a word says about a topic: 7.5 minus its Zipf frequency, within 0.5-6."""
    z = zipf(word)
    return UNKNOWN_RARITY if z == 0 else min(6.0, max(0.5, 7.5 - z))


def fold(word: str) -> str:
    """The counting key of a lower-case word: plural "s" dropped ("arrays" -> "array")."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def speaker_names(text: str) -> frozenset[str]:
    """Lower-case words of the speaker labels that recur in ``text`` ("DAVID MALAN:")."""
    labels: Counter[str] = Counter()
    for rx in (_CAPS_LABEL, _NAME_LABEL):
        labels.update(m.group(1) for m in rx.finditer(text))
    return frozenset(
        w.lower()
        for label, n in labels.items()
        if n >= MIN_LABEL_USES
        for w in re.findall(r"[^\W_]+", label)
    )


def adverb(word: str) -> bool:
    """An "-ly" adverb of a known word ("essentially", "basically", "easily"), not "assembly"."""
    if not word.endswith("ly") or len(word) < 6:
        return False
    stems = [word[:-2], word[:-4] if word.endswith("ally") else "", word[:-3] + "y"]
    return any(len(s) >= 4 and zipf(s) > ADVERB_STEM_ZIPF for s in stems)


def _content(token: str, banned: frozenset[str]) -> str | None:
    """The lower-case word if ``token`` may be part of a keyphrase, else None."""
    low = token.lower().replace("’", "'")
    if low.endswith("'s"):
        low = low[:-2]  # possessive: "CPython's JIT"
    if len(low) == 1 and token.isupper() and low not in KEYPHRASE_STOP:
        return low  # "big O", "plan B": kept inside a phrase only (see PhraseCounts.add_run)
    if (
        not low[:1].isalpha()
        or len(low) < 2
        or len(low) > MAX_WORD_CHARS
        or "'" in low  # a contraction: "I'm", "they're"
        or low in KEYPHRASE_STOP
        or low in banned
        or zipf(low) >= FUNCTION_ZIPF
        or adverb(low)
    ):
        return None
    return low


@dataclass
class PhraseCounts:
    """Candidate phrases of one text: counts by key and the transcript's spellings."""

    counts: Counter[Key] = field(default_factory=Counter)
    forms: dict[Key, Counter[str]] = field(default_factory=dict)
    words: int = 0
    # Every content word said, by its counting key, whether or not it may stand alone.
    word_counts: Counter[str] = field(default_factory=Counter)

    def add_run(self, run: Sequence[tuple[str, str, bool]]) -> None:
        """Count every 1-3 word phrase of a run of (surface, word, sentence-initial) words."""
        for i in range(len(run)):
            for j in range(i + 1, min(i + MAX_PHRASE_WORDS, len(run)) + 1):
                key = tuple(fold(w) for _, w, _ in run[i:j])
                last = run[j - 1][1]
                if (
                    len(set(key)) < len(key)  # "sort sort"
                    or last in NOT_LAST  # "languages provide"
                    or (j - i == 1 and (len(last) < 2 or last in NOT_ALONE))  # "O", "number"
                ):
                    continue
                self.counts[key] += 1
                # A capital at a sentence start says nothing about the phrase's own casing.
                forms = self.forms.setdefault(key, Counter())
                forms[" ".join(s for s, _, _ in run[i:j])] += 0 if run[i][2] else 1

    def surface(self, key: Key) -> str:
        """The transcript's commonest spelling; a two-letter word that is only ever written in
        lower case is an abbreviation and gets capitals ("os" -> "OS", "ui library" -> "UI
        library"): two-letter English words are stop words, so no content word is one."""
        forms = self.forms[key]
        best = max(forms, key=lambda f: (forms[f], f.islower()))
        return " ".join(w.upper() if _abbreviation(w) else w for w in best.split(" "))


def _abbreviation(word: str) -> bool:
    return len(word) == 2 and word.isalpha() and word.islower()


def clean_text(text: str) -> str:
    """Entities decoded; stage text and speaker labels turned into phrase breaks."""
    text = _HEDGE.sub(" ", _STAGE.sub(" . ", html.unescape(text)))
    return _NAME_LABEL.sub(" . ", _CAPS_LABEL.sub(" . ", text))


def count_phrases(
    text: str, banned: frozenset[str], cancel: CancelToken | None = None
) -> PhraseCounts:
    out = PhraseCounts()
    run: list[tuple[str, str, bool]] = []
    initial = True
    for n, m in enumerate(_TOKEN.finditer(clean_text(text))):
        if n % CHECK_EVERY == 0:
            check(cancel)
        tok = m.group()
        word = _content(tok, banned) if tok[0].isalnum() else None
        if tok[0].isalnum():
            out.words += 1
        if word is None:
            if run:
                out.add_run(run)
            run = []
        else:
            run.append((_POSSESSIVE.sub("", tok), word, initial))
            out.word_counts[fold(word)] += 1
        initial = tok in _SENTENCE_END or (initial and not tok[0].isalnum())
    if run:
        out.add_run(run)
    return out


def weight(key: Key) -> float:
    return sum(rarity(w) for w in key)


def importance(word: str, count: int) -> float:
    """How much a word said ``count`` times names the talk: count x (8 - Zipf frequency), high
    for a word the talk says often and English rarely says."""
    return count * (KEY_RARITY_TOP - zipf(word))


def key_words(talk: PhraseCounts, n: int) -> frozenset[str]:
    """The talk's ``n`` key words: content words of at least ``KEY_MIN_CHARS`` letters said at
    least ``KEY_MIN_COUNT`` times, by ``importance`` (a two-letter "os" or "ui" is too short to
    tell from a caption fragment)."""
    ranked = sorted(
        (w for w, c in talk.word_counts.items() if len(w) >= KEY_MIN_CHARS and c >= KEY_MIN_COUNT),
        key=lambda w: (-importance(w, talk.word_counts[w]), w),
    )
    return frozenset(ranked[:n])


def has_key_word(key: Key, keys: frozenset[str]) -> bool:
    return not keys.isdisjoint(key)


def overlaps(a: Key, b: Key) -> bool:
    """One phrase inside the other ("search" / "binary search"), a word in common other than
    a shared head noun ("vanilla transformer" / "transformer model", but not "binary search" /
    "linear search"), or the same words spelt together ("open claw" / "OpenClaw", "claw")."""
    a, b = tuple(map(stem, a)), tuple(map(stem, b))
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if any(long[i : i + len(short)] == short for i in range(len(long) - len(short) + 1)):
        return True
    if set(a) & set(b) - ({a[-1]} if a[-1] == b[-1] else set()):
        return True
    ja, jb = "".join(a), "".join(b)
    return ja == jb or _affix(ja, b) or _affix(jb, a)


def repeats(a: Key, b: Key) -> bool:
    """The same phrase: equal word stems, or the same letters spelt together or apart
    ("open claw" / "OpenClaw"), or one word the start or end of the other ("claw")."""
    if len(a) == len(b) and tuple(map(stem, a)) == tuple(map(stem, b)):
        return True
    ja, jb = "".join(a), "".join(b)
    return ja == jb or (len(a) == len(b) == 1 and (_affix(ja, b) or _affix(jb, a)))


def _affix(joined: str, key: Key) -> bool:
    """``joined`` starts or ends a longer word of ``key`` ("claw" in "openclaw")."""
    return len(joined) >= MIN_AFFIX and any(
        len(w) > len(joined) and (w.startswith(joined) or w.endswith(joined)) for w in key
    )


def pick(ranked: Iterable[Key], n: int, taken: Sequence[Key] = ()) -> list[Key]:
    """The first ``n`` of ``ranked`` that overlap neither each other nor ``taken``."""
    out: list[Key] = []
    for key in ranked:
        if len(out) == n:
            break
        if not any(overlaps(key, k) for k in (*taken, *out)):
            out.append(key)
    return out


def ctfidf(section: PhraseCounts, talk: PhraseCounts, per_section: float) -> dict[Key, float]:
    """c-TF-IDF of each phrase of a stretch against the talk, times the phrase's rarity."""
    return {
        key: n
        * math.log(1 + per_section / max(talk.counts[key], n))
        * weight(key)
        * (1 + PHRASE_BOOST * (len(key) - 1))
        for key, n in section.counts.items()
    }
