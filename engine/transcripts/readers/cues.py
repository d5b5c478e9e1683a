"""SubRip and WebVTT: one line-based, linear-time cue parser for both.

Why not the ``srt`` / ``webvtt-py`` libraries (both are used as oracles in the tests): ``srt``'s
whole-file regex is quadratic on whitespace runs (20,000 spaces take ~10 s), and webvtt-py
silently skips a cue whose timing line is malformed and reports errors without line numbers.
Here every malformed timing line is an error with its line number, and text outside a cue is
kept with the cue before it, so no words are ever dropped silently.

YouTube auto-captions (yt-dlp's rolling format) repeat each line as the first line of the next
cue and add 10 ms "hold" cues; when most cues start with the previous cue's last line, the
repeats are removed so every spoken line appears once, timed by the cue that introduced it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import TranscriptError
from engine.timefmt import format_timestamp_ms
from engine.transcripts.readers._clean import CueCleaner, normalize_ws, turns
from engine.transcripts.types import Segment

# [H:]MM:SS[.mmm]: Whisper writes MM:SS.mmm and unpadded H:MM:SS.mmm, SubRip uses a comma.
# Minutes and seconds need both digits, so a timing line cut short is an error, not a time.
# Bounded quantifiers: at most a few dozen steps per line.
_TS = r"(?:\d{1,3}:)?\d{2}:\d{2}(?:[.,]\d{1,3})?"
_TIMING = re.compile(rf"[ \t]*({_TS})[ \t]*-->[ \t]*({_TS})(?=[ \t]|$)")
_TIMESTAMPISH = re.compile(r"[ \t]*\d{1,3}:\d")
_VTT_SKIP_BLOCKS = ("NOTE", "STYLE", "REGION")

# A cue may start this much before the previous one (overlapping captions); more is an error.
BACKWARD_TOLERANCE_S = 5.0
# Share of cues that must repeat the previous cue's last line to call a file "rolling".
_ROLLING_SHARE = 0.5


@dataclass
class _Cue:
    start: float
    end: float
    line: int  # 1-based line number of the timing line
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedCues:
    segments: tuple[Segment, ...]
    language: str | None  # from a WebVTT header ("Language: en")
    rolling: bool  # YouTube rolling auto-captions were de-duplicated
    end: float  # the latest cue end, text or not (a closing "[MUSIC]" cue still runs)


def _seconds(stamp: str) -> float | None:
    main, _, frac = stamp.replace(",", ".").partition(".")
    parts = [int(p) for p in main.split(":")]
    h, m, s = parts if len(parts) == 3 else [0, *parts]
    if s >= 60 or (len(parts) == 3 and m >= 60):
        return None
    # Whole milliseconds first, so 00:00:01.360 is 1.36, not 1.3599999999999999.
    return ((h * 3600 + m * 60 + s) * 1000 + int(frac.ljust(3, "0") or 0)) / 1000


def _is_index(line: str) -> bool:
    """A SubRip cue number (WebVTT identifiers may be anything)."""
    line = line.strip()
    return line.isascii() and line.isdigit()


def _clip(line: str) -> str:
    return line if len(line) <= 60 else line[:57] + "..."


def _split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def looks_like_cues(text: str) -> bool:
    """True when the first non-blank lines are a cue: a timing line, maybe after an index."""
    seen = 0
    for line in _split_lines(text[:4096]):
        if not line.strip():
            continue
        if _TIMING.match(line):
            return True
        seen += 1
        if seen >= 2:
            return False
    return False


def parse_cues(path: Path, text: str, *, vtt: bool) -> ParsedCues:
    """Parse SubRip (``vtt=False``) or WebVTT text into clean, ordered segments."""
    lines = _split_lines(text)
    cues: list[_Cue] = []
    cur: _Cue | None = None
    pending: list[tuple[int, str]] = []  # lines of a block not (yet) known to be a cue
    skipping = False  # inside a WebVTT NOTE / STYLE / REGION block
    language: str | None = None
    start_at = 0

    if vtt and lines and lines[0].lstrip("\ufeff").startswith("WEBVTT"):
        # Header: runs to the first empty line (or to a timing line, if the blank is missing).
        start_at = 1
        while start_at < len(lines) and lines[start_at].strip() and "-->" not in lines[start_at]:
            key, sep, value = lines[start_at].partition(":")
            if sep and key.strip().lower() == "language" and value.strip():
                language = normalize_ws(value)[:35]
            start_at += 1

    def flush_pending() -> None:
        """A block without a timing line: a lost index (ignored) or text of the cue before."""
        block = pending[:]
        pending.clear()
        if len(block) == 1 and _is_index(block[0][1]):
            return  # an index whose cue is missing; not speech
        for lineno, line in block:
            if _TIMESTAMPISH.match(line):
                raise TranscriptError(
                    path, f"line {lineno}: {_clip(line.strip())!r} is not a valid cue timing line"
                )
        if not block:
            return
        if not cues:
            raise TranscriptError(path, f"line {block[0][0]}: text outside any cue")
        cues[-1].lines.extend(line for _, line in block)

    for index in range(start_at, len(lines)):
        line = lines[index]
        lineno = index + 1
        if "-->" in line:
            m = _TIMING.match(line)
            if not m:
                raise TranscriptError(
                    path, f"line {lineno}: malformed cue timing line {_clip(line.strip())!r}"
                )
            start, end = _seconds(m.group(1)), _seconds(m.group(2))
            if start is None or end is None:
                raise TranscriptError(
                    path, f"line {lineno}: impossible time in {_clip(line.strip())!r}"
                )
            if cur is not None:
                # No blank line before this cue: a trailing number is its index, not speech.
                if cur.lines and _is_index(cur.lines[-1]):
                    cur.lines.pop()
                cues.append(cur)
            if pending:
                last = pending.pop()
                if not vtt and not _is_index(last[1]):
                    pending.append(last)  # SubRip indexes are numbers; anything else is text
                if pending:
                    flush_pending()
            cur = _Cue(start=start, end=end, line=lineno)
            skipping = False
            continue
        # WebVTT ends a block only at an empty line (YouTube puts " " lines inside cues).
        blank = line == "" if vtt else not line.strip()
        if blank:
            if cur is not None:
                cues.append(cur)
                cur = None
            if pending:
                flush_pending()
            skipping = False
            continue
        if skipping:
            continue
        if cur is not None:
            cur.lines.append(line)
        elif vtt and not pending and line.startswith(_VTT_SKIP_BLOCKS):
            word = line.split(maxsplit=1)[0]
            skipping = word in _VTT_SKIP_BLOCKS
            if not skipping:
                pending.append((lineno, line))
        else:
            pending.append((lineno, line))
    if cur is not None:
        cues.append(cur)
    if pending:
        flush_pending()

    if not cues:
        raise TranscriptError(
            path,
            "no subtitle cues found (expected timing lines like "
            f"'{'00:00:01.000' if vtt else '00:00:01,000'} --> "
            f"{'00:00:04.000' if vtt else '00:00:04,000'}')",
        )
    return _to_segments(path, cues, language)


def _to_segments(path: Path, cues: list[_Cue], language: str | None) -> ParsedCues:
    cleaner = CueCleaner()
    cleaned = [[c for c in (cleaner.clean(line) for line in cue.lines) if c] for cue in cues]

    repeats = sum(
        1 for prev, now in itertools.pairwise(cleaned) if prev and now and now[0] == prev[-1]
    )
    with_text = sum(1 for c in cleaned if c)
    rolling = repeats >= 2 and repeats >= _ROLLING_SHARE * (with_text - 1)

    # (start, end, timing line, text) in file order: file order is speech order.
    raw: list[tuple[float, float, int, str]] = []
    last_line: str | None = None
    for cue, texts in zip(cues, cleaned, strict=True):
        if not texts:
            continue
        if rolling:
            # Only a cue's first line can be the repeat: the same words said twice in a row
            # arrive as a new line after it and are kept.
            new = texts[1:] if texts[0] == last_line else texts
            last_line = texts[-1]
            raw.extend((cue.start, cue.end, cue.line, t) for t in new)
        else:
            raw.append((cue.start, cue.end, cue.line, normalize_ws(" ".join(texts))))

    if not raw:
        raise TranscriptError(path, f"none of the {len(cues)} cues contain any spoken text")
    segments = ordered_segments(path, raw, "line")
    end = max(segments[-1].end, max(c.end for c in cues))
    return ParsedCues(segments=segments, language=language, rolling=rolling, end=end)


def ordered_segments(
    path: Path, raw: list[tuple[float, float, int, str]], unit: str
) -> tuple[Segment, ...]:
    """Segments in source order with monotonic times, one per speaker's stretch of a cue.

    A start slightly before the previous one (overlapping captions) is moved up to it; one far
    before it means the timings are broken, which is an error naming both places. A cue's
    ``>>`` marks (``_clean.turns``) cut it into segments flagged ``turn``; a piece after the
    first starts at its share of the cue's characters.
    """
    out: list[Segment] = []
    prev_start, prev_where = 0.0, 0
    turn = False  # a mark that ended the previous cue
    for start, end, where, text in raw:
        if start < prev_start - BACKWARD_TOLERANCE_S:
            raise TranscriptError(
                path,
                f"{unit} {where}: starts at {format_timestamp_ms(start)}, before the one at {unit} "
                f"{prev_where} ({format_timestamp_ms(prev_start)}); timings go backwards",
            )
        if start >= prev_start:
            prev_start, prev_where = start, where
        end = max(end, prev_start)
        pieces = turns(text)
        for n, (offset, piece, new_turn) in enumerate(pieces):
            turn = turn or new_turn
            if not piece:
                continue
            # The cue's first words start with it; a later speaker's, at their share of it.
            a = prev_start if n == 0 else prev_start + (end - prev_start) * offset / len(text)
            a = max(a, out[-1].start) if out else a  # a split cue's pieces keep the order
            b = end
            if n + 1 < len(pieces):
                b = prev_start + (end - prev_start) * pieces[n + 1][0] / len(text)
            out.append(Segment(start=a, end=max(a, b), text=piece, turn=turn))
            turn = False
    if not out:
        raise TranscriptError(path, "the transcript contains no spoken text")
    return tuple(out)
