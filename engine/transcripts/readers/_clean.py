"""Caption text clean-up shared by the SRT, WebVTT and YouTube JSON readers.

Kept: every spoken word, speaker labels (``DAVID MALAN:``, WebVTT ``<v Name>`` voices become
``Name:``), uncertain-word marks (``[? word ?]``), bleeps (``[ __ ]``) and, as words of their own,
``>>`` speaker-change marks, which ``turns`` then takes out of the text: a segment starts at
each and is flagged ``turn`` (``engine.transcripts.types.Segment``), so quote units can end there
while the text a model reads is what it was before the flag existed.
Dropped: markup (``<i>``, ``<c>``, ``<00:00:01.120>``, ``{\\an8}``), entities (decoded) and
sound descriptions (``[MUSIC PLAYING]``, ``[Applause]``).

Every pattern here is bounded and anchored at a fixed character, so cleaning is linear in the
length of the line whatever it holds.
"""

from __future__ import annotations

import html
import re

# Cue text tags (WebVTT and SubRip HTML-ish) and word timestamps; a literal "a < b" is kept.
_TAG = re.compile(r"<(/?[A-Za-z][^<>\n]{0,200}|\d{1,3}(?::\d{1,2}){1,2}[.,]\d{1,3})>")
_VOICE = re.compile(r"v(?:\.[^\s<>]*)?\s+([^<>]+)")
_ASS_OVERRIDE = re.compile(r"\{\\[^{}\n]{0,200}\}")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BRACKETED = re.compile(r"\[([^\[\]\n]{1,60})\]")

# Sound descriptions as written in mixed case (YouTube writes "[Music]", "[Applause]").
SOUND_WORDS = frozenset(
    {
        "music", "music playing", "applause", "laughter", "laughs", "laughing", "chuckles",
        "chuckling", "cheering", "cheers", "inaudible", "silence", "noise", "crosstalk",
        "background noise", "coughs", "sighs", "sound", "no audio", "foreign",
    }
)  # fmt: skip


# A change of speaker in captions (YouTube's auto-captions write one before each new turn).
TURN_MARK = ">>"


def _is_sound_description(inner: str) -> bool:
    inner = inner.strip()
    if inner.lower() in SOUND_WORDS:
        return True
    # Closed-caption convention: sound descriptions are in capitals ("[PIANO PLAYS]").
    return any(c.isupper() for c in inner) and not any(c.islower() for c in inner)


def _drop_sound(m: re.Match[str]) -> str:
    return " " if _is_sound_description(m.group(1)) else m.group(0)


def normalize_ws(text: str) -> str:
    """Runs of whitespace (any Unicode space, line breaks) become one space; words untouched."""
    return " ".join(text.replace("\ufeff", " ").split())


class CueCleaner:
    """Cleans cue lines; remembers the current WebVTT voice so a name is said once per turn."""

    def __init__(self) -> None:
        self.voice: str | None = None

    def _tag(self, m: re.Match[str]) -> str:
        v = _VOICE.fullmatch(m.group(1))
        if v:
            name = normalize_ws(v.group(1))
            if name and name != self.voice:
                self.voice = name
                return f" {name}: "
        return ""

    def clean(self, line: str) -> str:
        if "<" in line:
            line = _TAG.sub(self._tag, line)
        if "{" in line:
            line = _ASS_OVERRIDE.sub("", line)
        if "&" in line:
            line = _ENTITY.sub(lambda m: html.unescape(m.group()), line)
        if "[" in line:
            line = _BRACKETED.sub(_drop_sound, line)
        return " ".join(line.split())


def turns(text: str) -> list[tuple[int, str, bool]]:
    """A cleaned text cut at its ``>>`` marks: ``(offset in text, piece, a turn starts before
    it)`` for each piece, marks left out; a mark at the end gives an empty last piece, so the
    turn carries to the next cue. Runs of marks count once."""
    if TURN_MARK not in text:
        return [(0, text, False)]
    out: list[tuple[int, str, bool]] = []
    words: list[str] = []
    start, turn, pos = 0, False, 0
    for word in text.split(" "):
        if word == TURN_MARK:
            if words:
                out.append((start, " ".join(words), turn))
                words = []
            turn = True
        else:
            if not words:
                start = pos
            words.append(word)
        pos += len(word) + 1
    if words or turn:
        out.append((start if words else len(text), " ".join(words), turn))
    return out
