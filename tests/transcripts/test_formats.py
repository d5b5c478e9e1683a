"""engine.transcripts.readers.formats: the format classes, tried in order (content first,
suffix second); the readers' behaviour itself is pinned by test_readers*.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.transcripts.readers.formats import FORMATS, JSON_FORMATS, Sample

CUE = "1\n00:00:01,000 --> 00:00:02,000\nhi\n"
YOUTUBE = '[{"text": "hi", "start": 0, "duration": 1}]'


def test_the_order_of_the_formats() -> None:
    assert [f.name for f in FORMATS] == ["info-json", "vtt", "json", "srt", "html", "txt"]
    assert [f.name for f in JSON_FORMATS] == [
        "info-json",
        "whisper-cpp-json",
        "whisper-json",
        "youtube-json",
    ]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.srt", "WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n", "vtt"),  # content first
        ("a.txt", CUE, "srt"),
        ("a.vtt", "no cues", "vtt"),  # the suffix second (it then reports the missing cues)
        ("a.json", "not json", "json"),
        ("a.txt", YOUTUBE, "json"),
        ("a.srt", YOUTUBE, "srt"),  # a subtitle suffix is never sniffed as JSON
        ("a.txt", "[Music] hello", "txt"),
        ("a.info.json", "{}", "info-json"),
        ("a.txt", "<!DOCTYPE html><p>", "html"),
    ],
)
def test_the_first_format_that_accepts_reads(name: str, text: str, expected: str) -> None:
    sample = Sample(Path(name), text)
    assert next(f for f in FORMATS if f.accepts(sample)).name == expected
