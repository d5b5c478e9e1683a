"""The normalized transcript every reader produces and every later step consumes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Segment:
    """One timed stretch of speech (a caption cue after cleaning), one speaker's."""

    start: float  # seconds
    end: float  # seconds, >= start
    text: str
    # A new speaker starts here: captions mark a change of speaker with ">>", which the readers
    # turn into this flag (the mark is never in ``text``, so what a model reads is unchanged).
    turn: bool = False


@dataclass(frozen=True)
class Chapter:
    start: float  # seconds
    title: str
    end: float | None = None  # None: runs to the next chapter / the end of the video


@dataclass(frozen=True)
class TranscriptMeta:
    title: str | None = None
    channel: str | None = None
    url: str | None = None
    video_id: str | None = None
    description: str | None = None
    duration: float | None = None  # seconds, when known from metadata or timings
    upload_date: str | None = None  # YYYY-MM-DD when known
    language: str | None = None


@dataclass(frozen=True)
class Transcript:
    """Clean text of the whole video; timed segments when the source has timings.

    ``text`` is what the model reads. When ``segments`` is non-empty, ``text`` is exactly the
    segments' texts joined with single spaces, so a character offset maps back to a time.
    """

    source: Path
    # "txt", "srt", "vtt", "youtube-json", "whisper-json", "whisper-cpp-json", "info-json"
    format: str
    text: str
    segments: tuple[Segment, ...] = ()
    chapters: tuple[Chapter, ...] = ()
    meta: TranscriptMeta = field(default_factory=TranscriptMeta)

    @property
    def timed(self) -> bool:
        return bool(self.segments)

    @property
    def content_hash(self) -> str:
        """Identity of the content (not of the file name): reruns of the same text dedupe."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def display_title(self) -> str:
        return self.meta.title or self.source.stem

    @property
    def duration(self) -> float | None:
        if self.meta.duration:
            return self.meta.duration
        if self.segments:
            return self.segments[-1].end
        return None
