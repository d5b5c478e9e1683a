"""The library's value types: what is stored (``NewEntry``), read back (``Entry``), listed
(``EntryRow``), and the identity of a summary run (:func:`dedupe_key`). ``Provenance`` and
``LOCAL_BACKEND`` are declared in ``engine.library.provenance`` and importable from here.

May import: ``engine.library.provenance``, ``engine.schema``, ``engine.transcripts`` (types
only). No SQL here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from engine.library.provenance import LOCAL_BACKEND, Provenance
from engine.schema import Grounding, Summary

if TYPE_CHECKING:
    from engine.transcripts.types import Transcript


@dataclass(frozen=True)
class TranscriptInfo:
    source_path: str
    format: str
    title: str
    channel: str | None
    url: str | None
    video_id: str | None
    duration: float | None
    content_hash: str
    text: str
    chapters: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_transcript(cls, t: Transcript) -> TranscriptInfo:
        return cls(
            source_path=str(t.source),
            format=t.format,
            title=t.display_title,
            channel=t.meta.channel,
            url=t.meta.url,
            video_id=t.meta.video_id,
            duration=t.duration,
            content_hash=t.content_hash,
            text=t.text,
            chapters=[{"start": c.start, "end": c.end, "title": c.title} for c in t.chapters],
        )


@dataclass(frozen=True)
class Coverage:
    fraction: float  # share of transcript tokens that reached the model
    passes: int
    chunks: list[dict[str, Any]]  # start_char, end_char, start_s, end_s, tokens, seconds
    truncated: bool
    attempts: int | None = None  # generations over all passes, retries included (not stored)


@dataclass(frozen=True)
class NewEntry:
    transcript: TranscriptInfo
    summary: Summary
    provenance: Provenance
    coverage: Coverage
    flags: list[str]
    dedupe_key: str
    grounding: Grounding | None = None  # None: not measured (stored before it was)
    # Why the summary failed the quality check (not about its own video), or None: a
    # failed summary is stored so a rerun is a no-op, and every face marks it as failed.
    failed: str | None = None


@dataclass(frozen=True)
class Entry:
    id: int
    created_at: str  # ISO 8601, UTC
    transcript: TranscriptInfo
    summary: Summary
    provenance: Provenance
    coverage: Coverage
    flags: list[str]
    dedupe_key: str
    grounding: Grounding | None = None
    failed: str | None = None

    @property
    def title(self) -> str:
        return self.transcript.title


@dataclass(frozen=True)
class EntryRow:
    """What a list shows: cheap to fetch a page of."""

    id: int
    title: str
    channel: str | None
    created_at: str
    model_id: str
    general_topics: tuple[tuple[str, float], ...]  # (field, complexity), stored order
    max_complexity: float
    duration: float | None
    flags: tuple[str, ...]
    failed: str | None = None  # the reason, when the summary failed the quality check
    backend: str = LOCAL_BACKEND  # as Provenance.backend
    endpoint: str | None = None  # as Provenance.endpoint

    @property
    def is_local(self) -> bool:
        return self.backend == LOCAL_BACKEND


def dedupe_key(
    content_hash: str, model_sha256: str, prompt_version: str, grammar_version: str
) -> str:
    """Identity of a summary run: the same inputs would regenerate the same kind of summary."""
    raw = "\x1f".join((content_hash, model_sha256, prompt_version, grammar_version))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def utc_now() -> str:
    """A ``created_at`` / ``applied_at`` stamp: ISO 8601, UTC, whole seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
