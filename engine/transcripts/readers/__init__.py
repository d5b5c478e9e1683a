"""Transcript readers: every supported file becomes one normalized ``Transcript``.

``load_transcript(path)`` reads the file with the first of the format classes in
``formats.FORMATS`` that accepts it (content first and extension second: a ``.txt`` holding
SubRip is read as SubRip, a ``.srt`` starting with ``WEBVTT`` as WebVTT), then adds what a yt-dlp
``.info.json`` says. Any problem is a ``TranscriptError`` naming the file (and the line or item)
and what is wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from engine.errors import TranscriptError
from engine.transcripts.readers._io import MAX_BYTES, read_text
from engine.transcripts.readers.formats import Content, info_data, read_content
from engine.transcripts.readers.info_json import find_subtitle, info_metadata, sibling_info
from engine.transcripts.types import Chapter, Transcript, TranscriptMeta

__all__ = ["MAX_BYTES", "load_transcript", "load_transcript_bytes"]


def load_transcript_bytes(data: bytes, name: str = "stdin") -> Transcript:
    """A transcript from bytes that have no file (standard input), read like a file's.

    The result's ``source`` is ``<name>`` and, unless the content carries a title, its title
    is ``<name> <date time>`` so several piped transcripts stay apart in the library.
    """
    import tempfile
    from datetime import datetime

    source = Path(f"<{name}>")
    if len(data) > MAX_BYTES:
        raise TranscriptError(source, f"is larger than {MAX_BYTES // 2**20} MiB")
    with tempfile.TemporaryDirectory(prefix="vidsum-stdin-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            t = load_transcript(path)
        except TranscriptError as exc:
            raise TranscriptError(source, exc.problem) from None
    title = t.meta.title or f"{name} {datetime.now():%Y-%m-%d %H:%M}"
    return dataclasses.replace(t, source=source, meta=dataclasses.replace(t.meta, title=title))


def load_transcript(path: Path) -> Transcript:
    """Read a transcript (txt, srt, vtt, Whisper JSON, youtube-transcript-api JSON, yt-dlp
    .info.json).

    A subtitle or text file with a yt-dlp ``<base>.info.json`` beside it gets that file's
    metadata and chapters. Raises ``TranscriptError(path, problem)`` for every bad input.
    """
    path = Path(path)
    content = read_content(path)
    if content.info is not None:
        return _from_info(path, content.info)
    sibling = sibling_info(path)
    if sibling is None:
        meta = TranscriptMeta(
            language=content.language, video_id=content.video_id, duration=content.duration
        )
        return _build(path, content, meta, ())
    info, lang = sibling
    data = info_data(info, read_text(info))
    meta, chapters = info_metadata(info, data, content.language or lang)
    return _build(path, content, meta, chapters)


def _from_info(path: Path, data: dict[str, Any]) -> Transcript:
    sub, lang = find_subtitle(path, data)
    content = read_content(sub)
    meta, chapters = info_metadata(path, data, lang or content.language)
    transcript = _build(sub, content, meta, chapters)
    return dataclasses.replace(transcript, source=path, format="info-json")


def _build(
    path: Path, content: Content, meta: TranscriptMeta, chapters: tuple[Chapter, ...]
) -> Transcript:
    if content.info is not None:
        raise TranscriptError(path, "is a yt-dlp .info.json, not a transcript")
    segments = content.segments
    text = " ".join(s.text for s in segments) if segments else content.plain
    if not text:
        raise TranscriptError(path, "contains no text")
    if meta.video_id is None and content.video_id:
        meta = dataclasses.replace(meta, video_id=content.video_id)
    if meta.duration is None and content.duration:
        meta = dataclasses.replace(meta, duration=content.duration)
    return Transcript(
        source=path,
        format=content.format,
        text=text,
        segments=segments,
        chapters=chapters,
        meta=meta,
    )
