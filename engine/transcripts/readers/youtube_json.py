"""youtube-transcript-api output: ``[{"text", "start", "duration"}, ...]``.

Also accepted: the v1 API's ``FetchedTranscript`` shape, ``{"video_id", "language_code",
"snippets": [...]}``, and ``{"transcript": [...]}``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from engine.errors import TranscriptError
from engine.transcripts.readers._clean import CueCleaner
from engine.transcripts.readers._io import check_text, clean_meta
from engine.transcripts.readers.cues import ordered_segments
from engine.transcripts.types import Segment

MAX_SECONDS = 10_000_000.0  # ~116 days: anything longer is not a video's time


def parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise TranscriptError(path, "JSON is nested too deeply") from None
    except json.JSONDecodeError as e:
        raise TranscriptError(
            path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from None
    except ValueError as e:  # e.g. an integer with more digits than Python converts
        raise TranscriptError(path, f"not valid JSON ({e})") from None


def transcript_items(data: Any) -> list[Any] | None:
    """The list of snippets when ``data`` has a youtube-transcript-api shape, else None."""
    if isinstance(data, dict):
        for key in ("snippets", "transcript"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            return None
    # The first few items decide; a bad item further on is reported by its index.
    if isinstance(data, list) and all(
        isinstance(d, dict) and "text" in d and "start" in d for d in data[:10]
    ):
        return data
    return None


def _number(path: Path, item: dict[str, Any], key: str, index: int) -> float | None:
    value = item.get(key)
    if value is None and key == "duration":
        return None
    # bool is an int in Python; JSON true/false is not a time.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TranscriptError(path, f"item {index}: {key!r} is not a number ({value!r:.40})")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= MAX_SECONDS:
        raise TranscriptError(path, f"item {index}: {key!r} is not a time ({value!r:.40})")
    return number


def parse_youtube_json(path: Path, data: Any) -> tuple[tuple[Segment, ...], str | None, str | None]:
    """Segments, language code and video id of a youtube-transcript-api transcript."""
    items = transcript_items(data)
    if items is None:
        raise TranscriptError(
            path,
            'JSON is not a youtube-transcript-api transcript ([{"text", "start", "duration"}, ...])'
            " nor a yt-dlp .info.json",
        )
    cleaner = CueCleaner()
    raw: list[tuple[float, float, int, str]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise TranscriptError(path, f"item {index}: not an object")
        text = item.get("text")
        if not isinstance(text, str):
            raise TranscriptError(path, f"item {index}: 'text' is not a string")
        start = _number(path, item, "start", index)
        assert start is not None
        duration = _number(path, item, "duration", index)
        check_text(path, text, where=f"item {index}")
        cleaned = cleaner.clean(text)
        if cleaned:
            raw.append((start, start + (duration or 0.0), index, cleaned))
    if not raw:
        raise TranscriptError(path, "the transcript contains no spoken text")
    meta = data if isinstance(data, dict) else {}
    language = clean_meta(meta.get("language_code")) or clean_meta(meta.get("language"))
    return ordered_segments(path, raw, "item"), language, clean_meta(meta.get("video_id"))
