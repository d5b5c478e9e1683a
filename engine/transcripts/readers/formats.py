"""The transcript formats vidsum reads, as classes tried in order: the one place a file's format
(and a JSON file's shape) is chosen.

Each format has a ``name`` (the ``Transcript.format`` it gives), the ``suffixes`` it owns,
``accepts(sample)`` (content first, suffix second: a ``.txt`` holding SubRip is SubRip, a
``.srt`` starting with ``WEBVTT`` is WebVTT) and ``read(sample)``. ``FORMATS`` is tried in
order and the first that accepts reads the file; a JSON file's parsed data goes through
``JSON_FORMATS`` the same way. Any problem is a ``TranscriptError`` naming the file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from engine.errors import TranscriptError
from engine.transcripts.readers._clean import normalize_ws
from engine.transcripts.readers._io import read_text
from engine.transcripts.readers.cues import looks_like_cues, parse_cues
from engine.transcripts.readers.info_json import INFO_SUFFIX, is_info_json
from engine.transcripts.readers.whisper_json import parse_whisper_json, whisper_kind
from engine.transcripts.readers.youtube_json import parse_json, parse_youtube_json, transcript_items
from engine.transcripts.types import Segment

# The JSON shapes read, as the error for any other JSON names them.
JSON_SHAPES = (
    'openai-whisper ({"text", "segments": [{"start", "end", "text"}], "language"}), '
    'faster-whisper or WhisperX segments ([{"start", "end", "text", "words"}] or '
    '{"segments": [...]}), whisper.cpp -oj ({"transcription": [{"offsets", "text"}]}), '
    'youtube-transcript-api ([{"text", "start", "duration"}]) or a yt-dlp .info.json'
)


@dataclass(frozen=True)
class Content:
    """What a format read from one file, before metadata from an .info.json is added."""

    format: str
    segments: tuple[Segment, ...] = ()
    plain: str = ""  # the text of an untimed (plain text) transcript
    language: str | None = None
    video_id: str | None = None
    duration: float | None = None  # from the timings, when they run past the last words
    info: dict[str, Any] | None = None  # the file is a yt-dlp .info.json


_UNPARSED = object()


class Sample:
    """A file's text with what the formats look at: its suffix, its head, its JSON (parsed
    once)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.suffix = path.suffix.lower()
        self.head = text[:512].lstrip("\ufeff \t\r\n")
        self._json: Any = _UNPARSED

    def json(self) -> Any:
        """The parsed JSON; a ``TranscriptError`` when the text is not JSON."""
        if self._json is _UNPARSED:
            self._json = parse_json(self.path, self.text)
        return self._json

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except TranscriptError:
            return None  # "[Music] hello ..." is text, not JSON


class Format(ABC):
    """One kind of transcript file."""

    name: str
    suffixes: ClassVar[tuple[str, ...]] = ()

    def owns(self, sample: Sample) -> bool:
        """The file's suffix is this format's."""
        return sample.suffix in self.suffixes

    @abstractmethod
    def accepts(self, sample: Sample) -> bool:
        """This format reads the file (every format before it declined)."""

    @abstractmethod
    def read(self, sample: Sample) -> Content:
        """The file's segments or text; a ``TranscriptError`` for a bad file."""


class JsonFormat(ABC):
    """One shape of JSON transcript (parsed data), tried in ``JSON_FORMATS`` order."""

    name: str

    @abstractmethod
    def matches(self, data: Any) -> bool:
        """The data has this shape (the first few items decide)."""

    @abstractmethod
    def read_data(self, path: Path, data: Any) -> Content: ...


def info_data(path: Path, text: str) -> dict[str, Any]:
    """The object of a yt-dlp .info.json."""
    data = parse_json(path, text)
    if not isinstance(data, dict):
        raise TranscriptError(path, "not a yt-dlp .info.json (expected a JSON object)")
    return data


class InfoJson(Format, JsonFormat):
    """yt-dlp ``.info.json``: metadata, and which subtitle file beside it to read. Known by its
    name, or (saved under another name) by its keys."""

    name = "info-json"
    suffixes = (INFO_SUFFIX,)

    def accepts(self, sample: Sample) -> bool:
        return sample.path.name.lower().endswith(INFO_SUFFIX)

    def read(self, sample: Sample) -> Content:
        return Content(self.name, info=info_data(sample.path, sample.text))

    def matches(self, data: Any) -> bool:
        return is_info_json(data)

    def read_data(self, path: Path, data: Any) -> Content:
        return Content(self.name, info=data)


def _require_timings(sample: Sample, sep: str) -> None:
    """A subtitle file (by its suffix) without one timing line is an error, not text."""
    if "-->" not in sample.text:
        raise TranscriptError(
            sample.path,
            f"no subtitle cues found (a {sample.suffix} file has timing lines like "
            f"'00:00:01{sep}000 --> 00:00:04{sep}000')",
        )


class WebVTT(Format):
    """WebVTT: a file starting with ``WEBVTT`` whatever its suffix, or a ``.vtt``."""

    name = "vtt"
    suffixes = (".vtt",)

    def accepts(self, sample: Sample) -> bool:
        return sample.head.startswith("WEBVTT") or self.owns(sample)

    def read(self, sample: Sample) -> Content:
        if not sample.head.startswith("WEBVTT"):
            _require_timings(sample, ".")
        parsed = parse_cues(sample.path, sample.text, vtt=True)
        return Content(self.name, parsed.segments, language=parsed.language, duration=parsed.end)


class SubRip(Format):
    """SubRip: a ``.srt``, or any file whose first lines are a cue."""

    name = "srt"
    suffixes = (".srt",)

    def accepts(self, sample: Sample) -> bool:
        return self.owns(sample) or looks_like_cues(sample.text)

    def read(self, sample: Sample) -> Content:
        _require_timings(sample, ",")
        parsed = parse_cues(sample.path, sample.text, vtt=False)
        return Content(self.name, parsed.segments, language=parsed.language, duration=parsed.end)


_CUE_SUFFIXES = SubRip.suffixes + WebVTT.suffixes


class WhisperJson(JsonFormat):
    """Whisper's JSON: ``whisper-json`` (openai-whisper, faster-whisper, WhisperX) or
    ``whisper-cpp-json`` (whisper.cpp ``-oj``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def matches(self, data: Any) -> bool:
        return whisper_kind(data) == self.name

    def read_data(self, path: Path, data: Any) -> Content:
        segments, language, end = parse_whisper_json(path, data, self.name)
        return Content(self.name, segments, language=language, duration=end)


class YouTubeJson(JsonFormat):
    """youtube-transcript-api's ``[{"text", "start", "duration"}, ...]`` and its wrappers."""

    name = "youtube-json"

    def matches(self, data: Any) -> bool:
        return transcript_items(data) is not None

    def read_data(self, path: Path, data: Any) -> Content:
        segments, language, video_id = parse_youtube_json(path, data)
        return Content(self.name, segments, language=language, video_id=video_id)


INFO_JSON = InfoJson()
# Whisper before youtube-transcript-api: a Whisper segment also has "text" and "start".
JSON_FORMATS: tuple[JsonFormat, ...] = (
    INFO_JSON,
    WhisperJson("whisper-cpp-json"),
    WhisperJson("whisper-json"),
    YouTubeJson(),
)


def json_format(data: Any) -> JsonFormat | None:
    """The first JSON shape that matches ``data``."""
    return next((f for f in JSON_FORMATS if f.matches(data)), None)


class JsonTranscript(Format):
    """A JSON transcript: any ``.json`` (read strictly), or text that parses as JSON of a known
    shape (not a ``.srt``/``.vtt``, whose cues win)."""

    name = "json"
    suffixes = (".json",)

    def accepts(self, sample: Sample) -> bool:
        if self.owns(sample):
            return True
        if sample.head[:1] not in ("[", "{") or sample.suffix in _CUE_SUFFIXES:
            return False
        data = sample.json_or_none()
        return data is not None and json_format(data) is not None

    def read(self, sample: Sample) -> Content:
        data = sample.json()
        shape = json_format(data)
        if shape is None:
            raise TranscriptError(
                sample.path, f"JSON is not a transcript vidsum reads; it reads {JSON_SHAPES}"
            )
        return shape.read_data(sample.path, data)


class HtmlPage(Format):
    """A saved web page: refused with a sentence rather than summarized as text."""

    name = "html"

    def accepts(self, sample: Sample) -> bool:
        return sample.head[:15].lower().startswith(("<!doctype html", "<html"))

    def read(self, sample: Sample) -> Content:
        raise TranscriptError(sample.path, "is an HTML page, not a transcript")


class PlainText(Format):
    """Untimed text: whatever no other format accepts."""

    name = "txt"
    suffixes = (".txt",)

    def accepts(self, sample: Sample) -> bool:
        return True

    def read(self, sample: Sample) -> Content:
        return Content(self.name, plain=normalize_ws(sample.text))


FORMATS: tuple[Format, ...] = (
    INFO_JSON,
    WebVTT(),
    JsonTranscript(),
    SubRip(),
    HtmlPage(),
    PlainText(),
)


def read_content(path: Path) -> Content:
    """The content of one file, read by the first format in ``FORMATS`` that accepts it."""
    text = read_text(path)
    if not text.strip():
        raise TranscriptError(path, "file is empty" if not text else "file holds only whitespace")
    sample = Sample(path, text)
    fmt = next(f for f in FORMATS if f.accepts(sample))
    return fmt.read(sample)
