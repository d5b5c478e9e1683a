"""Whisper's JSON transcripts (openai-whisper, faster-whisper / WhisperX, whisper.cpp -oj), from
small files written here in each tool's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.transcripts.readers import load_transcript
from tests.transcripts.test_readers import assert_valid_transcript, error_of, write

OPENAI = {
    "text": " Hello and welcome. Today we talk about B-trees.",
    "segments": [
        {
            "id": 0, "seek": 0, "start": 0.0, "end": 2.5, "text": " Hello and welcome.",
            "tokens": [50364, 2425], "temperature": 0.0, "avg_logprob": -0.2,
            "compression_ratio": 1.1, "no_speech_prob": 0.01,
        },
        {"id": 1, "seek": 0, "start": 2.5, "end": 65.25, "text": " Today we talk about B-trees."},
    ],
    "language": "en",
}  # fmt: skip

WORDS = [
    {"start": 70.0, "end": 71.0, "text": " Nodes split in half.", "words": [
        {"word": " Nodes", "start": 70.0, "end": 70.4, "score": 0.9},
        {"word": " split", "start": 70.4, "end": 70.7, "score": 0.8},
    ]},
    {"start": 71.5, "end": 73.0, "words": [
        {"word": "Then", "start": 71.5, "end": 71.8},
        {"word": "merge.", "start": 71.8, "end": 73.0},
    ]},
]  # fmt: skip

WHISPER_CPP = {
    "systeminfo": "AVX = 1 | AVX2 = 1",
    "model": {"type": "base", "multilingual": True},
    "params": {"model": "models/ggml-base.bin", "language": "auto", "translate": False},
    "result": {"language": "de"},
    "transcription": [
        {
            "timestamps": {"from": "00:00:00,000", "to": "00:00:04,120"},
            "offsets": {"from": 0, "to": 4120},
            "text": " Guten Tag zusammen.",
        },
        {
            "timestamps": {"from": "02:50:00,000", "to": "02:50:03,500"},
            "offsets": {"from": 10_200_000, "to": 10_203_500},
            "text": " Bis bald.",
        },
    ],
}


def test_openai_whisper_json(tmp_path: Path) -> None:
    t = load_transcript(write(tmp_path, "talk.json", json.dumps(OPENAI)))
    assert_valid_transcript(t)
    assert t.format == "whisper-json"
    assert t.text == "Hello and welcome. Today we talk about B-trees."
    assert [(s.start, s.end) for s in t.segments] == [(0.0, 2.5), (2.5, 65.25)]
    assert t.meta.language == "en"
    assert t.duration == 65.25


@pytest.mark.parametrize("wrap", [False, True], ids=["bare-list", "segments-object"])
def test_faster_whisper_and_whisperx_segments_with_words(tmp_path: Path, wrap: bool) -> None:
    data = {"segments": WORDS, "language": "en"} if wrap else WORDS
    t = load_transcript(write(tmp_path, "x.json", json.dumps(data)))
    assert_valid_transcript(t)
    assert t.format == "whisper-json"
    # A segment without text is read from its words.
    assert [s.text for s in t.segments] == ["Nodes split in half.", "Then merge."]
    assert t.segments[1].start == 71.5
    assert t.meta.language == ("en" if wrap else None)


def test_whisper_cpp_json_in_milliseconds(tmp_path: Path) -> None:
    # Saved under another extension, it is still recognized by its content.
    t = load_transcript(write(tmp_path, "talk.wav.txt", json.dumps(WHISPER_CPP)))
    assert_valid_transcript(t)
    assert t.format == "whisper-cpp-json"
    assert t.text == "Guten Tag zusammen. Bis bald."
    # Offsets are milliseconds: 10,200,000 ms is 2 h 50 min, past the seconds cap if misread.
    assert [(s.start, s.end) for s in t.segments] == [(0.0, 4.12), (10200.0, 10203.5)]
    assert t.meta.language == "de"  # the detected language, not the "auto" parameter


def test_youtube_list_is_still_youtube(tmp_path: Path) -> None:
    data = [{"text": "hi", "start": 1.0, "duration": 2.0, "end": 3.0}]
    assert load_transcript(write(tmp_path, "y.json", json.dumps(data))).format == "youtube-json"


@pytest.mark.parametrize(
    "data,expect",
    [
        ({"segments": [], "text": "", "language": "en"}, "no spoken text"),
        ([{"start": "0", "end": 1, "text": "a"}], "segment 0: 'start' is not a number"),
        ([{"start": 0, "end": -1, "text": "a"}], "segment 0: 'end' is not a time"),
        ([{"start": 0, "end": 1, "text": "a"}, {"start": 1, "end": 2, "text": 5}],
         "segment 1: 'text' is not a string"),
        ([{"start": 0, "end": 1, "words": [{"start": 0}]}], "segment 0: a 'words' entry"),
        ([{"start": 100, "end": 101, "text": "a"}, {"start": 1, "end": 2, "text": "b"}],
         "segment 1: starts at"),
        ({"transcription": [{"offsets": {"from": 0}, "text": "a"}]},
         "transcription item 0: offsets 'to' is not a number"),
        ({"transcription": [{"offsets": [0, 1], "text": "a"}]},
         "transcription item 0: 'offsets' is not an object"),
    ],
)  # fmt: skip
def test_bad_whisper_json_is_a_clear_error(tmp_path: Path, data: object, expect: str) -> None:
    assert expect in error_of(write(tmp_path, "bad.json", json.dumps(data)))


def test_unknown_json_names_every_shape_read(tmp_path: Path) -> None:
    problem = error_of(write(tmp_path, "other.json", json.dumps({"captions": []})))
    assert problem.startswith("JSON is not a transcript vidsum reads")
    for shape in ("openai-whisper", "WhisperX", "whisper.cpp", "youtube-transcript-api", "yt-dlp"):
        assert shape in problem
