"""engine.transcripts.chapters: chapter lists in video descriptions, chapter clean-up,
timestamps."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.timefmt import format_timestamp
from engine.transcripts.chapters import (
    normalize_chapters,
    parse_description_chapters,
)
from engine.transcripts.types import Chapter
from tests.conftest import SEED

pytestmark = pytest.mark.timeout(60)


def spans(chapters: tuple[Chapter, ...]) -> list[tuple[float, float | None, str]]:
    return [(c.start, c.end, c.title) for c in chapters]


def test_the_seed_video_page_one_line_list() -> None:
    chapters = parse_description_chapters((SEED / "video-page.txt").read_text(encoding="utf-8"))
    assert len(chapters) == 11
    assert chapters[0].start == 0
    assert chapters[3].start == 8 * 60 + 25  # 00:08:25
    assert chapters[-1].start == 3600 + 24 * 60 + 7  # 01:24:07
    assert chapters[-1].end is None
    for a, b in itertools.pairwise(chapters):
        assert a.start < b.start and a.end == b.start
    for c in chapters:
        # Each title is the text between two stamps: no stamp, separator or next line in it.
        assert c.title and ":" not in c.title and "\n" not in c.title
        assert not c.title.startswith(("-", " ")) and len(c.title) < 60
    assert chapters[-1].title == "Conclusion"  # the line after the list is not part of it


def test_one_per_line_with_every_separator() -> None:
    text = """My talk.

0:00 Welcome
1:05 - Setting up
2:10 – Parsing (the hard part)
3:15: Lexing
4:20 | Testing
1:02:03 — Q&A
"""
    assert spans(parse_description_chapters(text)) == [
        (0, 65, "Welcome"),
        (65, 130, "Setting up"),
        (130, 195, "Parsing (the hard part)"),
        (195, 260, "Lexing"),
        (260, 3723, "Testing"),
        (3723, None, "Q&A"),
    ]


def test_one_line_with_hours_and_brackets() -> None:
    text = "Chapters: (00:00:00) Start [00:01:30] Middle part 00:10:00 - End"
    assert spans(parse_description_chapters(text)) == [
        (0, 90, "Start"),
        (90, 600, "Middle part"),
        (600, None, "End"),
    ]


def test_title_before_the_stamp() -> None:
    text = "Intro - 0:00\nDeep dive: 4:30\nOutro 9:59\n"
    assert spans(parse_description_chapters(text)) == [
        (0, 270, "Intro"),
        (270, 599, "Deep dive"),
        (599, None, "Outro"),
    ]


def test_stray_timestamps_in_prose_are_not_chapters() -> None:
    assert parse_description_chapters("Live at 12:30 and again at 14:45 tomorrow.") == ()
    # Must start at 0:00 (YouTube's rule) ...
    assert parse_description_chapters("1:00 a\n2:00 b\n3:00 c") == ()
    # ... and have at least two entries.
    assert parse_description_chapters("0:00 only one\n") == ()
    assert parse_description_chapters("") == ()
    # Invalid clock values are not stamps.
    assert parse_description_chapters("0:00 a\n0:75 b\n") == ()


def test_run_stops_where_times_stop_increasing() -> None:
    text = "I said at 5:00 that...\n0:00 A\n2:00 B\n1:00 C\n3:00 D\n"
    assert spans(parse_description_chapters(text)) == [(0, 120, "A"), (120, None, "B")]


def test_missing_and_overlong_titles() -> None:
    long_title = "word " * 40
    chapters = parse_description_chapters(f"0:00\n0:30 {long_title}\n")
    assert chapters[0].title == "Chapter 1"
    assert chapters[1].title.endswith("…") and len(chapters[1].title) <= 101


def test_normalize_chapters() -> None:
    raw = [Chapter(50, "B"), Chapter(0, "A", end=10), Chapter(50, "dup"), Chapter(700, "after")]
    assert spans(normalize_chapters(raw, duration=600)) == [(0, 50, "A"), (50, 600, "B")]
    assert spans(normalize_chapters([Chapter(5, "X", end=9)])) == [(5, 9, "X")]
    assert spans(normalize_chapters([Chapter(5, "X")])) == [(5, None, "X")]
    assert normalize_chapters([]) == ()


def test_format_timestamp() -> None:
    assert format_timestamp(0) == "00:00:00"
    assert format_timestamp(505.9) == "00:08:25"
    assert format_timestamp(5047) == "01:24:07"
    with pytest.raises(ValueError):
        format_timestamp(float("nan"))


stamp = st.builds(
    lambda h, m, s: f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}",
    st.integers(0, 3),
    st.integers(0, 59),
    st.integers(0, 59),
)
noise = st.text(alphabet=st.sampled_from(list("ab -–:|()[]\n0123456789.")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(noise, stamp), max_size=12), noise)
def test_any_description_gives_a_valid_chapter_list(
    parts: list[tuple[str, str]], tail: str
) -> None:
    text = "".join(a + b for a, b in parts) + tail
    chapters = parse_description_chapters(text)
    if chapters:
        assert len(chapters) >= 2 and chapters[0].start == 0
        for a, b in itertools.pairwise(chapters):
            assert a.start < b.start and a.end == b.start
        assert chapters[-1].end is None
        assert all(c.title and "\n" not in c.title for c in chapters)
