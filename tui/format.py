"""Plain-text formatting shared by the screens (times, sizes, rates). No Textual here."""

from __future__ import annotations

from engine.schema import GENERAL_FIELDS
from engine.timefmt import format_span, format_timestamp
from engine.units import format_bytes

# Short labels for the 12 general fields: any three must fit the library's 20-character topics
# cell ("Theory, Quant, AI/ML"), so one label has 6 characters and the rest at most 5.
SHORT_FIELD: dict[str, str] = dict(
    zip(
        GENERAL_FIELDS,
        (
            "Algo",
            "AI/ML",
            "Arch",
            "Data",
            "DB",
            "HCI",
            "PL",
            "SWE",
            "Web",
            "Gfx",
            "Theory",
            "Quant",
        ),
        strict=True,
    )
)


def short_field(name: str) -> str:
    return SHORT_FIELD.get(name, name)


def hms(seconds: float | None) -> str:
    """``00:08:25`` (``engine.timefmt``, as the export writes it); ``--:--:--`` when unknown."""
    return "--:--:--" if seconds is None else format_timestamp(max(0.0, seconds))


def time_range(start: float | None, end: float | None) -> str:
    return format_span(start, end)


def duration(seconds: float | None) -> str:
    """Compact duration for tables: ``1h 32m``, ``45m``, ``52s``."""
    if seconds is None:
        return ""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m"
    return f"{s}s"


def eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA --"
    s = round(seconds)
    if s >= 3600:
        return f"ETA {s // 3600}h{s % 3600 // 60:02d}m"
    return f"ETA {s // 60}:{s % 60:02d}"


def size(n: float | None, *, approx: bool = False) -> str:
    """Bytes as everywhere in vidsum (``engine.units.format_bytes``: ``4.07 GiB``)."""
    return format_bytes(n, approx=approx)


def rate(value: float | None, unit: str) -> str:
    if not value:
        return ""
    if unit == "B":
        return f"{size(value)}/s"
    return f"{value:.0f} {unit}/s" if value >= 100 else f"{value:.1f} {unit}/s"


def date(iso: str | None) -> str:
    """The date part of an ISO timestamp (``2024-05-01``)."""
    return (iso or "")[:10]
