"""Transcript readers: every supported file becomes one normalized ``Transcript``.

``load_transcript(path)`` picks the reader by content first and extension second: a ``.txt``
holding SubRip is read as SubRip, a ``.srt`` starting with ``WEBVTT`` as WebVTT. Any problem is
a ``TranscriptError`` naming the file (and the line or item) and what is wrong.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import TranscriptError
from engine.transcripts.readers._clean import normalize_ws
from engine.transcripts.readers._io import MAX_BYTES, read_text
from engine.transcripts.readers.cues import looks_like_cues, parse_cues
from engine.transcripts.readers.info_json import (
    INFO_SUFFIX,
    find_subtitle,
    info_metadata,
    is_info_json,
    sibling_info,
)
from engine.transcripts.readers.whisper_json import parse_whisper_json, whisper_kind
from engine.transcripts.readers.youtube_json import parse_json, parse_youtube_json, transcript_items
from engine.transcripts.types import Chapter, Segment, Transcript, TranscriptMeta

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
    content = _read_content(path)
    if content.info is not None:
        return _from_info(path, content.info)
    sibling = sibling_info(path)
    if sibling is None:
        meta = TranscriptMeta(
            language=content.language, video_id=content.video_id, duration=content.duration
        )
        return _build(path, content, meta, ())
    info, lang = sibling
    data = _info_data(info, read_text(info))
    meta, chapters = info_metadata(info, data, content.language or lang)
    return _build(path, content, meta, chapters)


@dataclass(frozen=True)
class _Content:
    format: str
    segments: tuple[Segment, ...] = ()
    plain: str = ""  # the text of an untimed (plain text) transcript
    language: str | None = None
    video_id: str | None = None
    duration: float | None = None  # from the timings, when they run past the last words
    info: dict[str, Any] | None = None  # the file is a yt-dlp .info.json


def _read_content(path: Path) -> _Content:
    text = read_text(path)
    if not text.strip():
        raise TranscriptError(path, "file is empty" if not text else "file holds only whitespace")
    if path.name.lower().endswith(INFO_SUFFIX):
        return _Content("info-json", info=_info_data(path, text))
    fmt, data = _detect(path, text)
    if fmt == "json":
        return _json_content(path, data)
    if fmt in ("srt", "vtt"):
        parsed = parse_cues(path, text, vtt=fmt == "vtt")
        return _Content(fmt, parsed.segments, language=parsed.language, duration=parsed.end)
    return _Content("txt", plain=normalize_ws(text))


def _detect(path: Path, text: str) -> tuple[str, Any]:
    ext = path.suffix.lower()
    head = text[:512].lstrip("\ufeff \t\r\n")
    if head.startswith("WEBVTT"):
        return "vtt", None
    if ext == ".json":
        return "json", parse_json(path, text)
    if head[:1] in ("[", "{") and ext not in (".srt", ".vtt"):
        try:
            data = parse_json(path, text)
        except TranscriptError:
            data = None  # "[Music] hello ..." is text, not JSON
        if data is not None and _json_kind(data) is not None:
            return "json", data
    if ext in (".srt", ".vtt"):
        if "-->" not in text:
            sep = "." if ext == ".vtt" else ","
            raise TranscriptError(
                path,
                f"no subtitle cues found (a {ext} file has timing lines like "
                f"'00:00:01{sep}000 --> 00:00:04{sep}000')",
            )
        return ext[1:], None
    if looks_like_cues(text):
        return "srt", None
    if head[:15].lower().startswith(("<!doctype html", "<html")):
        raise TranscriptError(path, "is an HTML page, not a transcript")
    return "txt", None


# The JSON shapes read, as the error for any other JSON names them.
JSON_SHAPES = (
    'openai-whisper ({"text", "segments": [{"start", "end", "text"}], "language"}), '
    'faster-whisper or WhisperX segments ([{"start", "end", "text", "words"}] or '
    '{"segments": [...]}), whisper.cpp -oj ({"transcription": [{"offsets", "text"}]}), '
    'youtube-transcript-api ([{"text", "start", "duration"}]) or a yt-dlp .info.json'
)


def _json_kind(data: Any) -> str | None:
    """Which reader a parsed JSON file is for: the one place JSON transcripts are told apart."""
    if is_info_json(data):
        return "info-json"
    # Before youtube-transcript-api's: a Whisper segment also has "text" and "start".
    kind = whisper_kind(data)
    if kind is not None:
        return kind
    return "youtube-json" if transcript_items(data) is not None else None


def _json_content(path: Path, data: Any) -> _Content:
    kind = _json_kind(data)
    if kind == "info-json":
        return _Content(kind, info=data)
    if kind == "youtube-json":
        segments, language, video_id = parse_youtube_json(path, data)
        return _Content(kind, segments, language=language, video_id=video_id)
    if kind is not None:
        segments, language, end = parse_whisper_json(path, data, kind)
        return _Content(kind, segments, language=language, duration=end)
    raise TranscriptError(path, f"JSON is not a transcript vidsum reads; it reads {JSON_SHAPES}")


def _info_data(path: Path, text: str) -> dict[str, Any]:
    data = parse_json(path, text)
    if not isinstance(data, dict):
        raise TranscriptError(path, "not a yt-dlp .info.json (expected a JSON object)")
    return data


def _from_info(path: Path, data: dict[str, Any]) -> Transcript:
    sub, lang = find_subtitle(path, data)
    content = _read_content(sub)
    meta, chapters = info_metadata(path, data, lang or content.language)
    transcript = _build(sub, content, meta, chapters)
    return dataclasses.replace(transcript, source=path, format="info-json")


def _build(
    path: Path, content: _Content, meta: TranscriptMeta, chapters: tuple[Chapter, ...]
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
