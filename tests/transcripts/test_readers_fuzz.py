"""Fuzzing engine.transcripts.readers: whatever the bytes, the result is a valid Transcript or a
TranscriptError naming the file; nothing else escapes and nothing hangs."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import TranscriptError
from engine.transcripts.readers import load_transcript
from tests.conftest import TALKS
from tests.transcripts.test_readers import (
    ROLLING_VTT,
    SRT_SAMPLE,
    SUB_EN,
    VTT_SAMPLE,
    WHISPER_VTT,
    assert_valid_transcript,
    info,
)

pytestmark = pytest.mark.timeout(120)  # a hang fails the test instead of stalling CI

# VIDSUM_FUZZ_SCALE=20 runs twenty times the examples (for a long local hunt; CI uses 1).
SCALE = float(os.environ.get("VIDSUM_FUZZ_SCALE", "1"))
FUZZ = settings(
    max_examples=int(250 * SCALE),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
NAMES = ["t.txt", "t.srt", "t.vtt", "t.json", "t.info.json", "t.en.vtt", "noext"]
YT_JSON = json.dumps(
    [
        {"text": "first words here", "start": 0.0, "duration": 1.5},
        {"text": "[Music] caf\u00e9 &amp; more", "start": 1.5, "duration": 2.0},
        {"text": "the end", "start": 3.5, "duration": 1.0},
    ]
)
VALID = [
    ("t.srt", SRT_SAMPLE + "\n4\n00:00:08,000 --> 00:00:09,000\nun café, deux cafés\n"),
    ("t.vtt", VTT_SAMPLE),
    ("t.vtt", WHISPER_VTT),
    ("t.en.vtt", ROLLING_VTT),
    ("t.json", YT_JSON),
    ("t.txt", "plain words, une tête, \u6771\u4eac and more words\n"),
]
TOKENS = [
    "-->", " --> ", "\n", "\n\n", "\r", "00:00:", "00:01.000", ",000", "<c>", "</c>", "<v A>",
    "<00:00:01.120>", "&gt;", "&gt;&gt; ", "&#0;", "&#xd800;", "[MUSIC]", "[", "]", "{\\an8}",
    "WEBVTT\n", "NOTE ", "1\n", "\x00", "\x07", "\ufeff", "\u2028", '"', "{", "}", "null", "-1",
    "1e999", "99:99:99,999", "\xe9", "\U0001f600",
]  # fmt: skip


@pytest.fixture(scope="module")
def cs50_text() -> str:
    return (TALKS / "cs50_2017_lecture3_algorithms.srt").read_text(encoding="utf-8")


@pytest.fixture
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@FUZZ
@given(
    st.lists(
        st.lists(st.sampled_from(["so", "we", "Cache", "it.", ">>", "&gt;&gt;"]), max_size=8),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["t.srt", "t.vtt"]),
)
def test_speaker_marks_change_flags_never_text_or_times(cues: list[list[str]], name: str) -> None:
    """Cues of words and ``>>`` marks read as the same text as without the marks, with one
    ``turn`` flag per run of marks that some word follows. Each cue opens with a word of its
    own (``n3``), so no file looks like rolling auto-captions (their repeats are dropped)."""
    cues = [[f"n{i}", "\n", *c] for i, c in enumerate(cues)]
    head, comma = ("WEBVTT\n\n", ".") if name.endswith(".vtt") else ("", ",")
    blocks = [
        f"{i + 1}\n00:00:{i:02d}{comma}000 --> 00:00:{i + 1:02d}{comma}000\n"
        + " ".join(c).replace(" \n ", "\n")
        + "\n"
        for i, c in enumerate(cues)
    ]
    words = [w for c in cues for w in c if w != "\n"]
    marks = {">>", "&gt;&gt;"}
    spoken = [w for w in words if w not in marks]
    expected_turns = sum(
        1
        for i, w in enumerate(words)
        if w in marks
        and (i + 1 == len(words) or words[i + 1] not in marks)
        and any(x not in marks for x in words[i + 1 :])
    )
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_text(head + "\n".join(blocks), encoding="utf-8")
        t = load_transcript(p)
    assert_valid_transcript(t)
    assert t.text == " ".join(spoken)
    assert sum(s.turn for s in t.segments) == expected_turns
    assert all(0 <= s.start <= s.end <= len(cues) for s in t.segments)


def check(path: Path) -> None:
    """Load ``path``: a valid Transcript, or a TranscriptError that names a file."""
    try:
        t = load_transcript(path)
    except TranscriptError as e:
        # The file itself, or (for a yt-dlp info.json) its subtitle or info sibling.
        assert e.path == path or e.path.parent == path.parent, e
        assert str(e).startswith(f"{e.path}: ") and e.problem.strip()
    else:
        assert_valid_transcript(t)


def load_bytes(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        check(p)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "truncate", "byte", "swap"]))
        if op == "insert":
            token = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
            data[i:i] = token.encode("utf-8", "surrogatepass")
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 40))]
        elif op == "duplicate":
            data[i:i] = data[i : i + draw(st.integers(1, 200))]
        elif op == "truncate":
            del data[i:]
        elif op == "byte" and i < len(data):
            data[i] = draw(st.integers(0, 255))
        elif op == "swap":
            lines = bytes(data).split(b"\n")
            a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[a], lines[b] = lines[b], lines[a]
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@FUZZ
@given(st.sampled_from(NAMES), st.binary(max_size=3000))
def test_random_bytes(name: str, data: bytes) -> None:
    load_bytes(name, data)


@FUZZ
@given(
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(TOKENS) | st.text(alphabet="ab 0123456789:.,", max_size=8)),
)
def test_random_token_soup(name: str, tokens: list[str]) -> None:
    load_bytes(name, "".join(tokens).encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.data())
def test_mutated_valid_files(data: st.DataObject) -> None:
    name, text = data.draw(st.sampled_from(VALID))
    load_bytes(name, data.draw(mutated(text.encode("utf-8"))))


@settings(FUZZ, max_examples=int(40 * SCALE))
@given(st.data())
def test_mutated_real_lecture(cs50_text: str, data: st.DataObject) -> None:
    # A real 187 KB file with a few edits: truncations, broken timing lines, bad bytes.
    load_bytes("lecture.srt", data.draw(mutated(cs50_text.encode("utf-8"))))


@settings(FUZZ, max_examples=int(150 * SCALE))
@given(
    st.data(),
    st.sampled_from(
        ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252"]
    ),
)
def test_other_encodings(data: st.DataObject, encoding: str) -> None:
    name, text = data.draw(st.sampled_from(VALID))
    raw = text.encode(encoding, errors="replace")
    raw = raw[: data.draw(st.integers(0, len(raw)))] if data.draw(st.booleans()) else raw
    load_bytes(name, raw)


def test_encodings_decide_between_text_and_a_clear_error(scratch: Path) -> None:
    # With a BOM, UTF-16/32 read fine; without one, or in a legacy 8-bit code page, it is an
    # error that says how to fix it.
    _, text = VALID[0]
    for encoding in ("utf-8-sig", "utf-16", "utf-32"):
        p = scratch / f"{encoding}.srt"
        p.write_bytes(text.encode(encoding))
        assert "un café, deux cafés" in load_transcript(p).text
    for encoding, problem in (("utf-16-le", "NUL bytes"), ("latin-1", "not valid UTF-8")):
        p = scratch / f"{encoding}.srt"
        p.write_bytes(text.encode(encoding))
        with pytest.raises(TranscriptError, match=problem):
            load_transcript(p)


@settings(FUZZ, max_examples=int(150 * SCALE))
@given(st.data())
def test_mutated_info_json_with_subtitles(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        meta = json.dumps(info(chapters=[{"start_time": 0, "title": "x"}]))
        (folder / "v.info.json").write_bytes(data.draw(mutated(meta.encode())))
        (folder / "v.en.vtt").write_bytes(data.draw(mutated(SUB_EN.encode())))
        if data.draw(st.booleans()):
            (folder / "v.de.srt").write_bytes(data.draw(mutated(SRT_SAMPLE.encode())))
        check(folder / "v.info.json")
        check(folder / "v.en.vtt")


# --- huge inputs must stay linear -------------------------------------------------------------

HUGE_LINES = [
    "<" * 1_000_000,
    "<c" * 500_000,
    "<v " * 300_000,
    "&" * 1_000_000,
    "&#" * 500_000,
    "[" * 1_000_000,
    "[A" * 500_000,
    " " * 1_000_000,
    "-->" * 300_000,
    "00:00:00.000 " * 80_000,
    "0:" * 500_000,
    "{\\" * 500_000,
    "a" * 1_000_000,
]
HUGE_IDS = [f"{line[:4]!r}x{len(line)}" for line in HUGE_LINES]


def huge_files(line: str) -> dict[str, str]:
    return {
        "h.txt": line,
        "h.srt": f"1\n00:00:01,000 --> 00:00:02,000\n{line}\n",
        "h.vtt": f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n{line}\n",
        "h.json": json.dumps([{"text": line, "start": 0, "duration": 1}]),
        "h2.srt": line + "\n1\n00:00:01,000 --> 00:00:02,000\nhi\n",
    }


@pytest.mark.timeout(30)
@pytest.mark.parametrize("line", HUGE_LINES, ids=HUGE_IDS)
def test_huge_lines_finish_quickly(scratch: Path, line: str) -> None:
    for name, content in huge_files(line).items():
        p = scratch / name
        p.write_text(content, encoding="utf-8")
        started = time.perf_counter()
        check(p)
        # Linear work on ~1 MB is well under a second; a quadratic pass would take hours.
        assert time.perf_counter() - started < 10, name


@pytest.mark.timeout(30)
def test_many_lines_and_many_cues(scratch: Path) -> None:
    cues = "".join(
        f"{i}\n{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d},000 --> "
        f"{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d},900\nword{i}\n\n"
        for i in range(100_000)
    )
    p = scratch / "many.srt"
    p.write_text(cues, encoding="utf-8")
    t = load_transcript(p)
    assert len(t.segments) == 100_000 and t.segments[-1].start == 99_999
    p = scratch / "blank.txt"
    p.write_text("\n" * 2_000_000 + "x", encoding="utf-8")
    assert load_transcript(p).text == "x"
    p = scratch / "deep.json"
    p.write_text('{"snippets": ' + "[" * 500_000, encoding="utf-8")
    with pytest.raises(TranscriptError):
        load_transcript(p)
