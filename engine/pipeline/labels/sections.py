"""A summary's labels by classical scoring: section titles and topics, the talk's topics, its
general fields with complexity.

Titles and topics are keyphrases (``keyphrases``: runs of content words, rarity-weighted; a
section's are contrasted with the rest of the talk by c-TF-IDF). A title leads with the
section's most distinctive multi-word keyphrase ("Binary search and pseudo code") where it has
one, even when its topics are single key words ("sorted", "array"). The general fields come
from a lexicon (``fields``): the runtime Backend only generates text and has no
label-likelihood API, so the model cannot rank the 12 labels here. Pure Python; imports the
schema, the stop words and wordfreq.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Sequence

from engine import schema
from engine.pipeline.checks.grounding import stem
from engine.pipeline.labels.fields import general_topics
from engine.pipeline.labels.keyphrases import (
    Key,
    PhraseCounts,
    count_phrases,
    ctfidf,
    has_key_word,
    key_words,
    overlaps,
    pick,
    repeats,
    speaker_names,
    weight,
)
from engine.progress import CancelToken

__all__ = ["general_topics", "section_labels", "talk_topics"]

# Room for a title after the caller's "Section N: " prefix, and for each of the two topics
# a title may join with " and ".
TITLE_ROOM = schema.MAX_TITLE - len("Section 5: ")
SECTION_TOPIC_CHARS = min(schema.MAX_SECTION_TOPIC, (TITLE_ROOM - len(" and ")) // 2)
# Global topics are one or two words (the schema's rule).
TOPIC_WORDS = 2
# A phrase said once in the whole talk is a candidate only when nothing said twice is left.
MIN_SUPPORT = 2
# The talk's key words (count x rarity, ``keyphrases.key_words``) that section and global
# topics are drawn from first.
KEY_WORDS = 20
# ... and then the next ones, down to this rank (a short talk's sections run out of the first).
MORE_KEY_WORDS = 40
# A title names things: at least two of its words have this many letters ("OS and tech" does
# not; "OS kernel and tech" does).
TITLE_WORD_CHARS = 3
TITLE_WORDS = 2
_ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth")


def _ordinal(i: int) -> str:
    return _ORDINALS[i] if i < len(_ORDINALS) else "Another"


def _title_case(text: str) -> str:
    """Upper-case the first letter unless the first word has its own casing ("iPhone")."""
    first = text.split(" ", 1)[0]
    upper = text[0].upper()
    return upper + text[1:] if first.islower() and len(upper) == 1 else text


def _assign(scores: Sequence[dict[Key, float]], talk: PhraseCounts, n: int) -> list[list[Key]]:
    """Up to ``n`` phrases per section, strongest (section, phrase) pairs first, so a phrase
    goes to the section it is most typical of, is never used twice, and does not overlap
    another topic of its section ("search", "binary search").
    Phrases with one of the talk's first key words come first (a section's topics are the
    talk's key terms where it has any), then with one of its next key words, then any said
    twice, then the rest."""
    chosen: list[list[Key]] = [[] for _ in scores]
    used: list[Key] = []
    keys, more = key_words(talk, KEY_WORDS), key_words(talk, MORE_KEY_WORDS)
    tiers = (
        lambda key: talk.counts[key] >= MIN_SUPPORT and has_key_word(key, keys),
        lambda key: talk.counts[key] >= MIN_SUPPORT and has_key_word(key, more),
        lambda key: talk.counts[key] >= MIN_SUPPORT,
        lambda key: talk.counts[key] >= len(key) - 1,  # a 3-word phrase said once is noise
    )
    for eligible in tiers:
        pairs = sorted(
            ((sc, -i, key) for i, d in enumerate(scores) for key, sc in d.items() if eligible(key)),
            reverse=True,
        )
        for _, neg_i, key in pairs:
            mine = chosen[-neg_i]
            if (
                len(mine) < n
                and len(talk.surface(key)) <= SECTION_TOPIC_CHARS
                and not any(overlaps(key, k) for k in mine)
                and not any(repeats(key, k) for k in used)
            ):
                mine.append(key)
                used.append(key)
    return chosen


def _phrases(
    scores: Sequence[dict[Key, float]], secs: Sequence[PhraseCounts], talk: PhraseCounts
) -> list[list[Key]]:
    """Per section, its multi-word keyphrases that may name it, best c-TF-IDF score first:
    said at least ``MIN_SUPPORT`` times in the section, with one of the talk's key words
    (down to ``MORE_KEY_WORDS``), short enough to be half a title."""
    more = key_words(talk, MORE_KEY_WORDS)
    out: list[list[Key]] = []
    for d, sec in zip(scores, secs, strict=True):
        keys = [
            key
            for key in d
            if len(key) > 1
            and sec.counts[key] >= MIN_SUPPORT
            and has_key_word(key, more)
            and len(talk.surface(key)) <= SECTION_TOPIC_CHARS
        ]
        out.append(sorted(keys, key=lambda k: (-d[k], k)))
    return out


def _leads(scores: Sequence[dict[Key, float]], phrases: Sequence[list[Key]]) -> list[Key | None]:
    """One multi-word phrase per section to lead its title, strongest (section, phrase) pairs
    first, so a phrase several sections say ("JIT compiler") leads the one it is most typical
    of, and no two titles lead with the same phrase."""
    leads: list[Key | None] = [None] * len(phrases)
    pairs = sorted(
        ((scores[i][k], -i, k) for i, ks in enumerate(phrases) for k in ks), reverse=True
    )
    for _, neg_i, key in pairs:
        if leads[-neg_i] is None and not any(repeats(key, k) for k in leads if k):
            leads[-neg_i] = key
    return leads


def _led_title(lead: Key, partners: Sequence[Key], talk: PhraseCounts) -> tuple[str, Key | None]:
    """``lead`` and the first of ``partners`` that shares no word with it, if the two name
    things and fit the title's room (and that partner); else ``lead`` alone, or "" if it does
    not name things either."""
    first = talk.surface(lead)
    for key in partners:
        title = f"{first} and {talk.surface(key)}"
        if (
            _no_shared_word(lead, key)
            and not overlaps(lead, key)
            and len(title) <= TITLE_ROOM
            and _names(title)
        ):
            return _title_case(title), key
    return (_title_case(first) if _names(first) else ""), None


def _titles(
    scores: Sequence[dict[Key, float]],
    secs: Sequence[PhraseCounts],
    talk: PhraseCounts,
    topics: Sequence[list[Key]],
) -> list[str | None]:
    """Per section, its lead phrase (``_leads``) and a partner: the section's next multi-word
    phrases, then its topics; no phrase in two titles. None where the section has no lead."""
    phrases = _phrases(scores, secs, talk)
    leads = _leads(scores, phrases)
    used: list[Key] = [k for k in leads if k]
    out: list[str | None] = []
    for lead, mine, keys in zip(leads, phrases, topics, strict=True):
        if lead is None:
            out.append(None)
            continue
        partners = [k for k in (*mine, *keys) if not any(repeats(k, u) for u in used)]
        title, partner = _led_title(lead, partners, talk)
        used += [partner] if partner else []
        out.append(title or None)
    return out


def _no_shared_word(a: Key, b: Key) -> bool:
    """Two phrases a title may join: no stem in common ("JIT compiler and WebAssembly", not
    "JIT compiler and tracing JIT")."""
    return set(map(stem, a)).isdisjoint(map(stem, b))


def _names(title: str) -> bool:
    """At least ``TITLE_WORDS`` words of ``TITLE_WORD_CHARS`` letters or more besides "and"."""
    long = [w for w in title.split(" ") if len(w) >= TITLE_WORD_CHARS and w != "and"]
    return len(long) >= TITLE_WORDS


def _title(keys: Sequence[Key], topics: Sequence[str]) -> str | None:
    """The first pair of topics in rank order that share no word ("JIT compiler and
    WebAssembly", not "JIT compiler and tracing JIT") and name things together (``_names``:
    not "OS and UI"); else the first topic alone that does ("garbage collector")."""
    pairs = (
        f"{topics[i]} and {topics[j]}"
        for i, j in itertools.combinations(range(len(keys)), 2)
        if _no_shared_word(keys[i], keys[j])
    )
    title = next((t for t in (*pairs, *topics) if _names(t)), None)
    return None if title is None else _title_case(title)


def section_labels(
    section_texts: Sequence[str], talk_text: str, cancel: CancelToken | None = None
) -> list[tuple[str, list[str]]]:
    """Per section, a title (without "Section N: ") and exactly 3 topics.

    Topics: the section's keyphrases against the rest of the talk, none repeated across
    sections; the title joins the section's top two ("Binary search and merge sort"). A
    section without enough content words (a few words of filler) gets plain placeholders.
    """
    banned = speaker_names(talk_text).union(*map(speaker_names, section_texts))
    talk = count_phrases(talk_text, banned, cancel)
    secs = [count_phrases(t, banned, cancel) for t in section_texts]
    for s in secs:  # a section's words count as the talk's even if the caller's talk omits them
        for key, c in s.counts.items():
            if talk.counts[key] < c:
                talk.counts[key] = c
                talk.forms.setdefault(key, s.forms[key])
        for word, c in s.word_counts.items():
            talk.word_counts[word] = max(talk.word_counts[word], c)
    per_section = max(talk.words, sum(s.words for s in secs), 1) / max(len(secs), 1)
    scores = [ctfidf(s, talk, per_section) for s in secs]
    assigned = _assign(scores, talk, schema.N_SECTION_TOPICS)
    led = _titles(scores, secs, talk, assigned)
    out: list[tuple[str, list[str]]] = []
    for i, keys in enumerate(assigned):
        topics = [talk.surface(k) for k in keys]
        title = led[i] or _title(keys, topics) or f"{_ordinal(i)} part of the talk"
        topics += [f"{_ordinal(i)} part, point {c}" for c in "ABC"][: 3 - len(topics)]
        out.append((title, topics))
    return out


def talk_topics(
    talk_text: str, n: int = schema.N_TOPICS, cancel: CancelToken | None = None
) -> list[str]:
    """The talk's ``n`` keyphrases of 1-2 words: count in the talk times rarity, none inside
    another; those with one of the talk's key words (``key_words``) first, then any said
    twice. A talk with too few content words gets plain placeholders after them."""
    talk = count_phrases(talk_text, speaker_names(talk_text), cancel)
    keys = key_words(talk, KEY_WORDS)
    out: list[Key] = []
    for support, need_key in ((MIN_SUPPORT, True), (MIN_SUPPORT, False), (1, False)):
        ranked = sorted(
            (
                k
                for k, c in talk.counts.items()
                if c >= support
                and len(k) <= TOPIC_WORDS
                and (has_key_word(k, keys) or not need_key)
            ),
            key=lambda k: (-talk.counts[k] * weight(k), k),
        )
        fits = [k for k in ranked if len(talk.surface(k)) <= schema.MAX_TOPIC]
        out += pick(fits, n - len(out), taken=out)
    topics = [talk.surface(k) for k in out]
    spare = (f"Theme {c}" for c in string.ascii_uppercase if f"Theme {c}" not in topics)
    return topics + [next(spare) for _ in range(n - len(topics))]
