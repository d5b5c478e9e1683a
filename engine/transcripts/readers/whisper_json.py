"""Whisper's JSON transcripts, the commonest offline way to get one from a saved video.

- openai-whisper (``whisper talk.mp4 --output_format json``): ``{"text", "segments": [{"start",
  "end", "text", ...}], "language"}``.
- faster-whisper and WhisperX: the same segments, as ``{"segments": [...]}`` or a bare list,
  each optionally with word-level ``words`` (``[{"word", "start", "end"}]``); a segment without
  ``text`` is read from its words.
- whisper.cpp (``whisper-cli -oj``): ``{"transcription": [{"timestamps": {...}, "offsets":
  {"from": ms, "to": ms}, "text"}], "result": {"language"}}``.

A bare list of ``{"text", "start", "duration"}`` is youtube-transcript-api's, not Whisper's: a
Whisper segment has an ``end`` and no ``duration``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from engine.errors import TranscriptError
from engine.transcripts.readers._clean import CueCleaner
from engine.transcripts.readers._io import check_text, clean_meta
from engine.transcripts.readers.cues import ordered_segments
from engine.transcripts.types import Segment

MAX_SECONDS = 10_000_000.0  # as for the other readers: anything longer is not a video's time


def _is_segment(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and "start" in item
        and "end" in item
        and "duration" not in item
        and ("text" in item or isinstance(item.get("words"), list))
    )


def whisper_kind(data: Any) -> str | None:
    """``"whisper-json"`` or ``"whisper-cpp-json"`` when ``data`` has one of Whisper's shapes.

    The first few items decide; a bad item further on is reported by its index.
    """
    if isinstance(data, dict) and isinstance(data.get("transcription"), list):
        items = data["transcription"]
        if all(isinstance(d, dict) and "offsets" in d and "text" in d for d in items[:10]):
            return "whisper-cpp-json"
        return None
    segments = data.get("segments") if isinstance(data, dict) else data
    # An empty list is Whisper's only inside its object (openai-whisper on silence).
    if (
        isinstance(segments, list)
        and (segments or isinstance(data, dict))
        and all(_is_segment(d) for d in segments[:10])
    ):
        return "whisper-json"
    return None


def _seconds(path: Path, value: Any, where: str, *, scale: float = 1.0) -> float:
    # bool is an int in Python; JSON true/false is not a time.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TranscriptError(path, f"{where} is not a number ({value!r:.40})")
    seconds = float(value) / scale
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SECONDS:
        raise TranscriptError(path, f"{where} is not a time ({value!r:.40})")
    return seconds


def _text(path: Path, item: dict[str, Any], where: str) -> str:
    text = item.get("text")
    if text is None and isinstance(item.get("words"), list):  # WhisperX without segment text
        words = item["words"]
        if not all(isinstance(w, dict) and isinstance(w.get("word"), str) for w in words):
            raise TranscriptError(path, f"{where}: a 'words' entry has no 'word' string")
        text = " ".join(w["word"].strip() for w in words)
    if not isinstance(text, str):
        raise TranscriptError(path, f"{where}: 'text' is not a string")
    check_text(path, text, where=where)
    return text


def _times(path: Path, item: dict[str, Any], kind: str, where: str) -> tuple[float, float]:
    if kind == "whisper-cpp-json":
        offsets = item.get("offsets")
        if not isinstance(offsets, dict):
            raise TranscriptError(path, f"{where}: 'offsets' is not an object")
        start = _seconds(path, offsets.get("from"), f"{where}: offsets 'from'", scale=1000)
        end = _seconds(path, offsets.get("to"), f"{where}: offsets 'to'", scale=1000)
    else:
        start = _seconds(path, item.get("start"), f"{where}: 'start'")
        end = _seconds(path, item.get("end"), f"{where}: 'end'")
    return start, max(start, end)


def _language(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    result, params = data.get("result"), data.get("params")
    for holder in (data, result, params):
        if isinstance(holder, dict):
            language = clean_meta(holder.get("language"))
            if language and language != "auto":
                return language
    return None


def parse_whisper_json(
    path: Path, data: Any, kind: str
) -> tuple[tuple[Segment, ...], str | None, float | None]:
    """Segments, language code and the end of the last segment of a Whisper transcript."""
    if kind == "whisper-cpp-json":
        items, unit = data["transcription"], "transcription item"
    else:
        items, unit = (data["segments"] if isinstance(data, dict) else data), "segment"
    cleaner = CueCleaner()
    raw: list[tuple[float, float, int, str]] = []
    last_end: float | None = None
    for index, item in enumerate(items):
        where = f"{unit} {index}"
        if not isinstance(item, dict):
            raise TranscriptError(path, f"{where}: not an object")
        start, end = _times(path, item, kind, where)
        last_end = max(end, last_end or 0.0)
        cleaned = cleaner.clean(_text(path, item, where))
        if cleaned:
            raw.append((start, end, index, cleaned))
    if not raw:
        raise TranscriptError(path, "the transcript contains no spoken text")
    return ordered_segments(path, raw, unit), _language(data), last_end
