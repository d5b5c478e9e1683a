"""Chapter helpers: chapter lists written in video descriptions, and clean-up of chapter data.

YouTube turns a description's timestamp list into chapters when the list starts at 0:00 and
increases; we follow the same rule so a stray "at 12:30" in prose is never taken for a chapter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from engine.transcripts.types import Chapter

__all__ = ["normalize_chapters", "parse_description_chapters"]

MAX_TITLE_CHARS = 100

# H:MM:SS / HH:MM:SS / M:SS / MM:SS, not part of a longer number (1:23:45:67, 1:23.5); a
# colon right after it is a separator ("3:15: Lexing"). Bounded quantifiers and lookarounds
# keep this linear on any input.
_STAMP = re.compile(r"(?<![\d:.])(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?!\d|[:.]\d)")
# What may sit between a stamp and its title ("(0:00) - Intro") and between a title and the
# next stamp ("Intro [0:42]"). A title's own closing bracket or leading dot (".NET") stays.
_LEAD = " \t-–—:|)]>•·*"
_TRAIL = " \t-–—:|([<•·*"


def _stamp_seconds(m: re.Match[str]) -> float | None:
    hours, minutes, seconds = m.group(1), int(m.group(2)), int(m.group(3))
    if seconds >= 60 or (hours is not None and minutes >= 60):
        return None
    return (int(hours) if hours else 0) * 3600.0 + minutes * 60.0 + seconds


def _clean_title(raw: str) -> str:
    title = " ".join(raw.split()).lstrip(_LEAD).rstrip(_TRAIL)
    if len(title) > MAX_TITLE_CHARS:
        cut = title.rfind(" ", 0, MAX_TITLE_CHARS)
        title = title[: cut if cut > 0 else MAX_TITLE_CHARS].rstrip(_TRAIL) + "…"
    return title


def parse_description_chapters(text: str) -> tuple[Chapter, ...]:
    """The chapter list written in a video description, or ``()`` when there is none.

    Accepts timestamps on one line (``00:00:00 - Intro 00:02:09 - Next``) or one per line, title
    after the stamp (separators ``-``, ``–``, ``:`` or none) or before it (``Intro 0:00``). Only
    a run of at least two stamps that starts at 0:00 and strictly increases counts; each
    chapter's ``end`` is the next one's start, the last one's is ``None``.
    """
    if not text:
        return ()
    stamps = [(m, s) for m in _STAMP.finditer(text) if (s := _stamp_seconds(m)) is not None]
    # The first run that starts at 0:00 and increases: YouTube's own rule for chapters.
    run: list[tuple[re.Match[str], float]] = []
    for m, seconds in stamps:
        if not run:
            if seconds == 0:
                run = [(m, seconds)]
        elif seconds > run[-1][1]:
            run.append((m, seconds))
        elif len(run) >= 2:
            break
        else:
            run = [(m, seconds)] if seconds == 0 else []
    if len(run) < 2:
        return ()

    titles: list[str] = []
    for i, (m, _) in enumerate(run):
        # Title after the stamp: up to the next stamp or the end of the line.
        nxt = run[i + 1][0].start() if i + 1 < len(run) else len(text)
        newline = text.find("\n", m.end(), nxt)
        title = _clean_title(text[m.end() : newline if newline >= 0 else nxt])
        if not title:
            # "Intro 0:00" style: the title precedes the stamp on its line.
            prev_end = run[i - 1][0].end() if i else 0
            line_start = text.rfind("\n", prev_end, m.start()) + 1
            title = _clean_title(text[max(line_start, prev_end) : m.start()])
        titles.append(title or f"Chapter {i + 1}")

    starts = [seconds for _, seconds in run]
    return tuple(
        Chapter(start=s, title=t, end=starts[i + 1] if i + 1 < len(starts) else None)
        for i, (s, t) in enumerate(zip(starts, titles, strict=True))
    )


def normalize_chapters(
    chapters: Iterable[Chapter], duration: float | None = None
) -> tuple[Chapter, ...]:
    """Sorted chapters with distinct starts, each ending where the next one starts.

    The last chapter ends at its own ``end`` when given, else at ``duration`` when known.
    Chapters starting at or after ``duration`` are dropped (they lie outside the video).
    """
    ordered: list[Chapter] = []
    for ch in sorted(chapters, key=lambda c: c.start):
        if duration is not None and ordered and ch.start >= duration:
            break
        if ordered and ch.start <= ordered[-1].start:
            continue  # same start twice: keep the first title
        ordered.append(ch)
    out: list[Chapter] = []
    for i, ch in enumerate(ordered):
        if i + 1 < len(ordered):
            end: float | None = ordered[i + 1].start
        elif ch.end is not None and ch.end > ch.start:
            end = ch.end
        elif duration is not None and duration > ch.start:
            end = duration
        else:
            end = None
        out.append(Chapter(start=ch.start, title=ch.title, end=end))
    return tuple(out)
