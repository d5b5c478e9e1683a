"""The splitter: five parts (chapters, pauses, sentences) and chunks that fit a context.

No model here: token counts come from a plain word counter (the pipeline passes the model's
tokenizer; the splitter only needs *some* count per piece of text).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.pipeline.parts.chunking import (
    N_PARTS,
    ChunkTooSmall,
    Span,
    TextMap,
    split_parts,
    video_end,
)
from engine.pipeline.parts.units import MAX_UNIT_CHARS
from engine.transcripts.readers import load_transcript
from engine.transcripts.types import Chapter, Segment, Transcript, TranscriptMeta
from tests.conftest import TALKS, require_shared


def words(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def timed(
    cues: Sequence[tuple[float, float, str]],
    *,
    chapters: Sequence[Chapter] = (),
    description: str | None = None,
    duration: float | None = None,
) -> Transcript:
    segs = tuple(Segment(a, b, text) for a, b, text in cues)
    return Transcript(
        Path("talk.srt"),
        "srt",
        " ".join(s.text for s in segs),
        segs,
        tuple(chapters),
        TranscriptMeta(description=description, duration=duration),
    )


def plain(text: str) -> Transcript:
    return Transcript(Path("talk.txt"), "txt", text)


def check_parts(t: Transcript, parts: list[Span], tm: TextMap) -> None:
    """The invariants every split must keep."""
    assert len(parts) == N_PARTS
    assert parts[0].start_char == 0 and parts[-1].end_char == len(t.text)
    for a, b in itertools.pairwise(parts):
        assert a.end_char == b.start_char
    assert [p.index for p in parts] == list(range(N_PARTS))
    assert sum(p.tokens for p in parts) == tm.total_tokens
    if t.timed:
        assert parts[0].start_s == 0.0
        assert parts[-1].end_s == video_end(t, tm)
        for p in parts:
            assert p.start_s is not None and p.end_s is not None and p.start_s <= p.end_s
        for a, b in itertools.pairwise(parts):
            assert a.end_s == b.start_s
    else:
        assert all(p.start_s is None and p.end_s is None for p in parts)


def check_chunks(t: Transcript, part: Span, chunks: list[Span], limit: int) -> None:
    assert chunks[0].start_char == part.start_char and chunks[-1].end_char == part.end_char
    for a, b in itertools.pairwise(chunks):
        assert a.end_char == b.start_char
    for c in chunks:
        assert c.tokens <= limit
        assert words([t.text[c.start_char : c.end_char]])[0] == c.tokens
        # Never inside a word: a cut follows whitespace unless a non-space run is longer than
        # a unit (then it is not a word).
        if 0 < c.start_char < len(t.text) and not t.text[c.start_char - 1].isspace():
            run_start = c.start_char
            while run_start > 0 and not t.text[run_start - 1].isspace():
                run_start -= 1
            assert c.start_char - run_start >= MAX_UNIT_CHARS


def test_sentences_balanced_untimed() -> None:
    text = " ".join(f"Sentence number {i} talks about topic {i % 7} here." for i in range(200))
    t = plain(text)
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    for p in parts:
        assert t.text[p.start_char : p.end_char].rstrip().endswith("here.")
        assert abs(p.tokens - tm.total_tokens / N_PARTS) <= 0.15 * tm.total_tokens / N_PARTS


def test_one_giant_cue_is_split_between_words() -> None:
    body = " ".join(f"word{i}" for i in range(6000))  # no punctuation, one caption cue
    t = timed([(0.0, 1800.0, body)])
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    # Time inside the cue is interpolated by character position: still monotonic.
    starts = [p.start_s or 0.0 for p in parts]
    assert 300 < starts[1] < starts[2] < starts[3] < starts[4] < 1800
    for p in parts:
        chunks = tm.chunk(p, 100)
        assert len(chunks) >= 2
        check_chunks(t, p, chunks, 100)


def test_non_space_run_longer_than_a_unit_is_cut_and_said_so() -> None:
    blob = "x" * (MAX_UNIT_CHARS * 3 + 7)
    t = plain(f"Start here. {blob} end.")
    tm = TextMap(t, lambda texts: [len(s) // 10 + 1 for s in texts])
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    assert max(tm.tokens(i, i + 1) for i in range(tm.n_units)) <= MAX_UNIT_CHARS // 10 + 1


def test_fewer_than_five_sentences() -> None:
    t = plain("Hello there. Bye.")
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    assert [t.text[p.start_char : p.end_char].strip() for p in parts][:2] == [
        "Hello there.",
        "Bye.",
    ]
    assert all(p.empty for p in parts[2:])
    (only,) = tm.chunk(parts[4], 10)
    assert only.empty and only.start_char == only.end_char == len(t.text)


def test_single_word() -> None:
    t = timed([(3.0, 4.0, "Hi")], duration=10.0)
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    assert parts[-1].end_s == 10.0


def test_chapters_are_merged_to_five_at_chapter_starts() -> None:
    cues = [(i * 10.0, i * 10.0 + 9.0, f"Cue {i} says something.") for i in range(660)]
    starts = [0, 129, 335, 505, 2013, 2967, 3420, 3854, 3974, 4271, 5047]  # 11 chapters
    chapters = [Chapter(float(s), f"Chapter {n}") for n, s in enumerate(starts)]
    t = timed(cues, chapters=chapters, duration=6600.0)
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    # Every inner boundary is a chapter start, exactly.
    assert {p.start_s for p in parts[1:]} <= {float(s) for s in starts}
    assert parts[0].title is not None and "Chapter 0" in parts[0].title
    # The text follows the time: a part starts with the cue at (or next to) its start time.
    for p in parts[1:]:
        first_cue = int(t.text[p.start_char :].split()[1])
        assert abs(first_cue * 10 - (p.start_s or 0.0)) <= 10


def test_few_chapters_are_split_longest_first() -> None:
    cues = [(i * 5.0, i * 5.0 + 4.0, f"Point {i} is made.") for i in range(720)]  # 1 hour
    chapters = [Chapter(0.0, "Intro"), Chapter(120.0, "Main part"), Chapter(3300.0, "Q&A")]
    t = timed(cues, chapters=chapters)
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    assert parts[1].start_s == 120.0 and parts[4].start_s == 3300.0
    assert [p.title for p in parts] == [
        "Intro",
        "Main part (1/3)",
        "Main part (2/3)",
        "Main part (3/3)",
        "Q&A",
    ]


def test_chapters_not_starting_at_zero() -> None:
    cues = [(60.0 + i * 6, 65.0 + i * 6, f"Line {i} here.") for i in range(300)]
    chapters = [Chapter(30.0 + 300 * k, f"C{k}") for k in range(5)]
    t = timed(cues, chapters=chapters)
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    assert parts[0].start_s == 0.0  # the stretch before the first chapter belongs to part 1
    assert [p.start_s for p in parts[1:]] == [330.0, 630.0, 930.0, 1230.0]


def test_chapter_list_in_description() -> None:
    cues = [(i * 10.0, i * 10.0 + 9.0, f"Cue {i} says something.") for i in range(300)]
    desc = (
        "About this talk.\nChapters 00:00 - Intro 08:20 - Setup 20:00 - Demo\n"
        "30:00 Wrap-up 45:00 Q&A"
    )
    t = timed(cues, description=desc)
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    assert [p.start_s for p in parts] == [0.0, 500.0, 1200.0, 1800.0, 2700.0]


def test_chapter_longer_than_a_context() -> None:
    cues = [(i * 4.0, i * 4.0 + 3.5, f"Fact {i} is explained in detail now.") for i in range(1500)]
    chapters = [
        Chapter(0.0, "A"),
        Chapter(100.0, "B"),
        Chapter(5000.0, "C"),
        Chapter(5500.0, "D"),
        Chapter(5800.0, "E"),
    ]
    t = timed(cues, chapters=chapters)
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    assert parts[1].tokens > 5 * 512
    chunks = tm.chunk(parts[1], 512)
    check_chunks(t, parts[1], chunks, 512)
    assert (
        len(chunks) == -(-parts[1].tokens // 512) or len(chunks) == -(-parts[1].tokens // 512) + 1
    )
    # Cut at cue ends: each chunk but the last ends a sentence.
    for c in chunks[:-1]:
        assert t.text[c.start_char : c.end_char].rstrip().endswith("now.")


def test_pauses_are_preferred_cut_points() -> None:
    cues = []
    clock = 0.0
    for i in range(500):
        cues.append((clock, clock + 2.0, f"words {i} and more"))  # no sentence ends at all
        clock += 2.0 + (3.0 if i % 50 == 49 else 0.05)  # a long pause every 50 cues
    t = timed(cues)
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    for p in parts[1:]:
        # The cue before each cut is followed by a long pause.
        prev = t.text[: p.start_char].split()[-3]
        assert int(prev) % 50 == 49


def test_chunk_too_small() -> None:
    t = plain("one " * 400)
    tm = TextMap(t, lambda texts: [len(s) for s in texts])
    with pytest.raises(ChunkTooSmall):
        tm.chunk(split_parts(tm)[0], 20)


@pytest.mark.parametrize(
    "name",
    [
        "cs50_2017_lecture3_algorithms.srt",
        "nat_eliason_felix_ai_agent_interview.yt-dlp-auto.en.vtt",
        "gotime_100_rob_pike_robert_griesemer.txt",
    ],
)
def test_real_talks(name: str) -> None:
    require_shared()
    t = load_transcript(TALKS / name)
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    ideal = tm.total_tokens / N_PARTS
    for p in parts:
        assert abs(p.tokens - ideal) <= 0.2 * ideal
        chunks = tm.chunk(p, 1200)
        check_chunks(t, p, chunks, 1200)
    if t.timed:
        assert parts[-1].end_s is not None and parts[-1].end_s >= 90 * 60  # both run 1.5 h+


# --- properties ---------------------------------------------------------------------------------

_word = st.text(alphabet="abcdefghij", min_size=1, max_size=12)
_cue_text = (
    st.lists(_word, min_size=1, max_size=30)
    .map(" ".join)
    .flatmap(lambda s: st.sampled_from([s, s + ".", s + "?"]))
)


@st.composite
def transcripts(draw: st.DrawFn) -> Transcript:
    texts = draw(st.lists(_cue_text, min_size=1, max_size=60))
    if draw(st.booleans()):
        return plain(" ".join(texts))
    clock = draw(st.floats(0, 100))
    cues = []
    for text in texts:
        length = draw(st.floats(0, 20))
        cues.append((clock, clock + length, text))
        # Overlapping and out-of-order cue times happen in real captions.
        clock = max(0.0, clock + length + draw(st.floats(-3, 10)))
    end = max(b for _, b, _ in cues)
    chapters = sorted({round(x, 1) for x in draw(st.lists(st.floats(0, end + 50), max_size=12))})
    return timed(
        cues,
        chapters=[Chapter(c, f"ch{c}") for c in chapters],
        duration=draw(st.one_of(st.none(), st.floats(0, end * 1.2 + 1))),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcripts(), st.integers(min_value=12, max_value=200))
def test_parts_and_chunks_properties(t: Transcript, limit: int) -> None:
    tm = TextMap(t, words)
    parts = split_parts(tm)
    check_parts(t, parts, tm)
    # A chunk holds at least one unit (a unit holds at most MAX_UNIT_CHARS).
    limit = max(limit, *(tm.tokens(i, i + 1) for i in range(tm.n_units)))
    for p in parts:
        chunks = tm.chunk(p, limit)
        check_chunks(t, p, chunks, limit)
        if t.timed:
            times = [c.start_s for c in chunks] + [chunks[-1].end_s]
            assert times == sorted(times)  # type: ignore[type-var]
