"""The one way vidsum writes a time of a video: ``HH:MM:SS``, always with hours.

Every face and export goes through here, so one section shows the same start in the Markdown
export, the CLI and the TUI. Times round *down* to whole seconds, as video chapter lists do (a
section that starts at 504.9 s starts in second 00:08:24). A ground-floor leaf: imports nothing.
"""

from __future__ import annotations

import math


def format_timestamp(seconds: float) -> str:
    """``HH:MM:SS``, rounding down to whole seconds; ``ValueError`` for a negative or NaN time."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a time: {seconds!r}")
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_timestamp_ms(seconds: float) -> str:
    """``HH:MM:SS.mmm`` (where a caption's timing is quoted in an error)."""
    return f"{format_timestamp(seconds)}.{int(seconds * 1000) % 1000:03d}"


def format_span(start: float | None, end: float | None) -> str:
    """``HH:MM:SS–HH:MM:SS``; empty when either end is unknown."""
    if start is None or end is None:
        return ""
    return f"{format_timestamp(start)}–{format_timestamp(end)}"
