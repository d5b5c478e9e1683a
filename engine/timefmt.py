"""The one way vidsum writes a time of a video: ``HH:MM:SS``, always with hours.

Every face and export goes through here, so one section shows the same start in the Markdown
export, the CLI and the TUI. Times round *down* to whole seconds, as video chapter lists do (a
section that starts at 504.9 s starts in second 00:08:24). The link that opens a video at such
a time is built here too (:func:`video_time_url`), so a link lands on the second it shows.
A ground-floor leaf: imports only the standard library.
"""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs, urlsplit, urlunsplit

_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_YOUTUBE_HOSTS = ("youtube.com", "youtube-nocookie.com")
_YOUTUBE_PATHS = ("live", "shorts", "embed", "v")  # /live/ID and friends
# A link straight to a media file starts at a time with a W3C media fragment (#t=123).
_MEDIA_SUFFIXES = (".mp4", ".webm", ".ogv", ".ogg", ".mov", ".m4v", ".mkv", ".mp3", ".m4a")


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


def _youtube_id(url: str | None, video_id: str | None) -> str | None:
    """The video id of any YouTube URL (watch, youtu.be, live, shorts, embed), else of a bare
    11-character id with no URL (youtube-transcript-api knows only the id)."""
    if url is None:
        return video_id if video_id and _YOUTUBE_ID.fullmatch(video_id) else None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [p for p in parts.path.split("/") if p]
    if host == "youtu.be" and segments:
        found: str | None = segments[0]
    elif host in _YOUTUBE_HOSTS or host.endswith(tuple("." + h for h in _YOUTUBE_HOSTS)):
        found = next(iter(parse_qs(parts.query).get("v", [])), None)
        if found is None and len(segments) == 2 and segments[0] in _YOUTUBE_PATHS:
            found = segments[1]
    else:
        return None
    return found if found and _YOUTUBE_ID.fullmatch(found) else None


def video_time_url(url: str | None, video_id: str | None, seconds: float) -> str | None:
    """The link that opens the video at ``seconds`` (rounded down, as shown), or None when the
    video is not known or its site cannot be opened at a time.

    YouTube: ``https://www.youtube.com/watch?v=ID&t=123s``; Vimeo: the URL with ``#t=123s``;
    a media file: ``#t=123``. Any other page gets no link rather than one that ignores the time.
    """
    if not math.isfinite(seconds) or seconds < 0:
        return None
    at = int(seconds)
    youtube = _youtube_id(url, video_id)
    if youtube is not None:
        return f"https://www.youtube.com/watch?v={youtube}&t={at}s"
    if url is None:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return None
    if host in ("vimeo.com", "www.vimeo.com") and re.fullmatch(r"/\d+/?", parts.path):
        return urlunsplit(parts._replace(fragment=f"t={at}s"))
    if parts.path.lower().endswith(_MEDIA_SUFFIXES):
        return urlunsplit(parts._replace(fragment=f"t={at}"))
    return None
