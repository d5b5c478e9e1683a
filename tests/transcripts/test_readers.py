"""engine.transcripts.readers: every transcript format becomes one normalized Transcript.

Real files are read from ../shared by path (never copied); every other input is written here.
The srt and webvtt-py libraries serve as independent oracles on the real files.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import re
import time
from pathlib import Path

import pytest
import srt
import webvtt

from engine.errors import TranscriptError
from engine.transcripts.readers import load_transcript
from engine.transcripts.types import Transcript
from tests.conftest import SEED, TALKS, require_shared

pytestmark = pytest.mark.timeout(60)

CS50 = TALKS / "cs50_2017_lecture3_algorithms.srt"
AUTO_VTT = TALKS / "nat_eliason_felix_ai_agent_interview.yt-dlp-auto.en.vtt"
TALKPY_VTT = TALKS / "talkpython_512_jit_compiler_for_cpython.youtube.vtt"
GOTIME_TXT = TALKS / "gotime_100_rob_pike_robert_griesemer.txt"
FORMATS = {"txt", "srt", "vtt", "youtube-json", "whisper-json", "whisper-cpp-json", "info-json"}
MARKUP = re.compile(r"<[/a-zA-Z0-9]|&(?:gt|lt|amp|nbsp);|-->|\d\d:\d\d:\d\d[.,]\d")


def assert_valid_transcript(t: Transcript) -> None:
    """The Transcript invariants every reader must meet (also used by the fuzz tests)."""
    assert t.format in FORMATS
    assert t.text and t.text == " ".join(t.text.split()), "text is whitespace-normalized"
    t.text.encode("utf-8")  # no lone surrogates
    assert not re.search(r"[\x00-\x08\x0e-\x1f\x7f]", t.text)
    if t.segments:
        assert t.text == " ".join(s.text for s in t.segments)
        for a, b in itertools.pairwise(t.segments):
            assert a.start <= b.start
        for s in t.segments:
            assert s.text and s.text == s.text.strip()
            assert 0 <= s.start <= s.end < float("inf")
    starts = [c.start for c in t.chapters]
    assert starts == sorted(starts)
    for c in t.chapters:
        assert c.title and (c.end is None or c.end >= c.start)
    if t.duration is not None:
        assert t.duration >= 0


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return p


def error_of(path: Path) -> str:
    with pytest.raises(TranscriptError) as exc:
        load_transcript(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: "), "the error names the file"
    assert exc.value.path == path
    return exc.value.problem


# --- real files -------------------------------------------------------------------------------


def real_files() -> list[Path]:
    if not TALKS.is_dir():
        return []  # test_the_shared_data_is_there says why
    files = [p for p in TALKS.iterdir() if p.name != "SOURCES.md"]
    files += (SEED / "transcripts").glob("*.txt")
    files += (SEED / "examples").glob("*.txt")
    return sorted(files)


def test_the_shared_data_is_there() -> None:
    require_shared()
    assert len(real_files()) >= 9


@pytest.mark.parametrize("path", real_files(), ids=lambda p: p.name)
def test_every_real_file_loads(path: Path) -> None:
    t = load_transcript(path)
    assert_valid_transcript(t)
    assert t.source == path
    assert len(t.text) > 2000
    assert not MARKUP.search(t.text), MARKUP.search(t.text)
    assert t.format == {".srt": "srt", ".vtt": "vtt", ".txt": "txt"}[path.suffix]
    assert t.timed == (path.suffix != ".txt")


def test_plain_text_keeps_every_word() -> None:
    for path in [GOTIME_TXT, *sorted((SEED / "transcripts").glob("*.txt"))]:
        t = load_transcript(path)
        assert t.text.split() == path.read_text(encoding="utf-8").split()
        assert t.duration is None and not t.chapters


def test_cs50_srt_matches_the_srt_library_word_for_word() -> None:
    t = load_transcript(CS50)
    subs = list(srt.parse(CS50.read_text(encoding="utf-8")))
    assert len(subs) == 2290
    # The oracle: srt's cue contents minus capitalised sound descriptions, e.g. [APPLAUSE].
    expected = re.sub(r"\[[A-Z][A-Z ]*\]", " ", " ".join(s.content for s in subs)).split()
    assert t.text.split() == expected
    assert "[MUSIC PLAYING]" not in t.text and "[LAUGHTER]" not in t.text
    assert t.text.count("DAVID MALAN:") >= 60, "speaker labels are kept"
    # Multi-line cues are one segment; cues holding only a sound description are none.
    assert 2200 < len(t.segments) < 2290
    assert t.segments[0].start == pytest.approx(10.416)  # after the opening [MUSIC PLAYING]
    assert t.segments[-1].end == pytest.approx(5815, abs=5)  # 1:36:55
    assert t.duration == pytest.approx(5815.459)  # the last (empty) cue still counts
    assert 100_000 < len(t.text) < 106_000  # SOURCES.md: ~105.7K spoken characters
    starts = {round(s.start.total_seconds(), 3) for s in subs}
    assert all(round(seg.start, 3) in starts for seg in t.segments)


def test_youtube_vtt_matches_webvtt_py_cue_for_cue() -> None:
    t = load_transcript(TALKPY_VTT)
    captions = webvtt.read(str(TALKPY_VTT)).captions
    expected = [(c.start_time.in_milliseconds() / 1000, " ".join(c.text.split())) for c in captions]
    assert [(s.start, s.text) for s in t.segments] == expected
    assert len(t.segments) == 1420
    assert t.duration == pytest.approx(4104.18)  # 1:08:24
    assert abs(len(t.text) - 69_500) < 1_000  # SOURCES.md: ~69.5K spoken characters


def test_auto_captions_say_each_line_once_at_its_own_time() -> None:
    started = time.perf_counter()
    t = load_transcript(AUTO_VTT)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"{elapsed:.1f} s for a 900 KB file: not linear"
    assert_valid_transcript(t)
    assert t.meta.language == "en"
    captions = webvtt.read(str(AUTO_VTT)).captions
    naive = " ".join(" ".join(c.text.split()) for c in captions)
    # ~96K spoken characters (SOURCES.md), while naively joined cues hold every line twice.
    assert 90_000 < len(t.text) < 100_000
    assert len(t.text) < 0.55 * len(naive)
    assert ">>" not in t.text and "<c>" not in t.text and "&gt;" not in t.text

    # The oracle: every line that carries word timings is new speech, first shown by its cue.
    tagged = []
    for c in captions:
        for raw, clean in zip(c.lines, c.text.split("\n"), strict=True):
            if "<c>" in raw:
                words = [w for w in html.unescape(clean).split() if w != ">>"]
                tagged.append((c.start_time.in_milliseconds() / 1000, " ".join(words)))
    got = [(s.start, s.text) for s in t.segments]
    assert len(tagged) == 2540
    tagged_set = set(got)
    assert all(item in tagged_set for item in tagged)
    # The rest are one-word lines that YouTube sends without word timings (43 in this file).
    extra = len(got) - len(tagged)
    assert 0 < extra < 60
    assert t.duration == pytest.approx(5720, abs=2)  # 1:35:20


def test_auto_captions_keep_each_change_of_speaker_as_a_flag() -> None:
    t = load_transcript(AUTO_VTT)
    # The oracle: caption lines that start with a ">>" mark (webvtt-py), at their cue's start;
    # those with word timings are new speech, so each is a turn the reader must flag.
    marked, tagged = set(), set()
    for c in webvtt.read(str(AUTO_VTT)).captions:
        for raw, clean in zip(c.lines, c.text.split("\n"), strict=True):
            words = html.unescape(clean).split()
            if words and words[0] == ">>":
                line = (c.start_time.in_milliseconds() / 1000, " ".join(words[1:]))
                marked.add(line)
                if "<c>" in raw:
                    tagged.add(line)
    turns = {(s.start, s.text) for s in t.segments if s.turn}
    assert len(tagged) == 192
    assert tagged <= turns <= marked
    assert len(turns) == 204  # 12 one-word turns ("Yeah.", "Um") come without word timings
    # The text a model reads is what it was before turns were kept: no mark, same words.
    assert ">>" not in t.text
    assert t.content_hash.startswith("f02298275082")  # the hash before turns were kept


# --- plain text -------------------------------------------------------------------------------


def test_txt_collapses_whitespace_and_keeps_words(tmp_path: Path) -> None:
    p = write(tmp_path, "a.txt", "  so  the\tcache\r\nmisses\n\n\u00a0 [laughs] AT&amp;T  \n")
    t = load_transcript(p)
    assert t.text == "so the cache misses [laughs] AT&amp;T"
    assert t.format == "txt" and not t.timed and t.duration is None
    assert t.display_title == "a"


@pytest.mark.parametrize(
    "encoding,bom",
    [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")],
)
def test_boms_are_honoured(tmp_path: Path, encoding: str, bom: bytes) -> None:
    p = write(tmp_path, "bom.txt", bom + "naïve café — 東京\n".encode(encoding))
    assert load_transcript(p).text == "naïve café — 東京"


def test_bom_does_not_hide_a_vtt_header(tmp_path: Path) -> None:
    body = "WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nhello there\r\n"
    p = write(tmp_path, "x.vtt", b"\xff\xfe" + body.encode("utf-16-le"))
    t = load_transcript(p)
    assert t.format == "vtt" and t.text == "hello there" and t.segments[0].start == 1.0


# --- SubRip -----------------------------------------------------------------------------------

SRT_SAMPLE = """\
1
00:00:00,000 --> 00:00:03,000
[MUSIC PLAYING]

2
00:00:03,000 --> 00:00:05,500
SPEAKER ONE: We start with
<i>a multi-line</i> cue.

3
00:00:05,500 --> 00:00:07,000
{\\an8}[Applause] if a < b then
[? Quicksort ?] wins.
"""


def test_srt_cues_annotations_labels_and_tags(tmp_path: Path) -> None:
    t = load_transcript(write(tmp_path, "talk.srt", SRT_SAMPLE))
    assert_valid_transcript(t)
    assert t.format == "srt"
    assert [(s.start, s.end) for s in t.segments] == [(3.0, 5.5), (5.5, 7.0)]
    assert [s.text for s in t.segments] == [
        "SPEAKER ONE: We start with a multi-line cue.",
        "if a < b then [? Quicksort ?] wins.",
    ]
    assert t.duration == 7.0


def test_srt_without_blank_lines_and_with_blank_lines_inside_cues(tmp_path: Path) -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nfirst words\n"
        "2\n00:00:02,000 --> 00:00:03,000\nsecond words\n   \n"
        "the same cue, after a blank line\n\n"
        "3\r\n00:00:04.000 --> 00:00:05.000\r\nthird words\r\n\r\n"
        "4\n"  # an index whose cue is missing (truncated file)
    )
    t = load_transcript(write(tmp_path, "t.srt", text))
    assert [s.text for s in t.segments] == [
        "first words",
        "second words the same cue, after a blank line",
        "third words",
    ]


def test_srt_timing_repairs(tmp_path: Path) -> None:
    text = (
        "1\n00:00:10,000 --> 00:00:09,000\nend before start\n\n"
        "2\n00:00:08,000 --> 00:00:12,000\nstarts a little early\n\n"
        "3\n0:00:13,5 --> 0:00:14\nshort fields\n"
    )
    t = load_transcript(write(tmp_path, "r.srt", text))
    assert [(s.start, s.end) for s in t.segments] == [(10.0, 10.0), (10.0, 12.0), (13.5, 14.0)]


def test_srt_timings_that_jump_back_are_an_error(tmp_path: Path) -> None:
    text = "1\n00:05:00,000 --> 00:05:02,000\nlate\n\n2\n00:01:00,000 --> 00:01:02,000\nearly\n"
    problem = error_of(write(tmp_path, "b.srt", text))
    assert "line 6" in problem and "line 2" in problem and "backwards" in problem


@pytest.mark.parametrize(
    "text,expect",
    [
        ("1\n00:00:01,000 --> 00:00:0x,000\nhi\n", "line 2: malformed cue timing line"),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:0", "line 6: '00:00:0' is not a valid"),
        (
            "1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:05,000 --> 00:00:0",
            "line 6: malformed",
        ),
        ("1\n00:00:61,000 --> 00:00:62,000\nhi\n", "line 2: impossible time"),
        ("hello\n\n1\n00:00:01,000 --> 00:00:02,000\nhi\n", "line 1: text outside any cue"),
        ("1\n00:00:01,000 --> 00:00:02,000\n[MUSIC]\n", "none of the 1 cues contain any spoken"),
        ("just some words, no cues\n", "no subtitle cues found"),
        (
            "1\n00:00:01,000 --> 00:00:02,000\n\x07bell\n",
            "line 3: contains control character U+0007",
        ),
    ],
)
def test_broken_srt_is_a_clear_error(tmp_path: Path, text: str, expect: str) -> None:
    assert expect in error_of(write(tmp_path, "broken.srt", text))


def test_content_beats_extension(tmp_path: Path) -> None:
    srt_text = "1\n00:00:01,000 --> 00:00:02,000\nhi there\n"
    assert load_transcript(write(tmp_path, "a.txt", srt_text)).format == "srt"
    assert load_transcript(write(tmp_path, "b", srt_text)).format == "srt"
    vtt_text = "WEBVTT\n\n00:01.000 --> 00:02.000\nhi there\n"
    assert load_transcript(write(tmp_path, "c.srt", vtt_text)).format == "vtt"
    yt = json.dumps([{"text": "hi there", "start": 1.0, "duration": 1.0}])
    assert load_transcript(write(tmp_path, "d.txt", yt)).format == "youtube-json"
    assert load_transcript(write(tmp_path, "e.txt", "[Music] hi there")).format == "txt"


# --- WebVTT -----------------------------------------------------------------------------------

VTT_SAMPLE = """\
WEBVTT - my notes
Kind: captions
Language: de

NOTE this block is a comment
and is not spoken

STYLE
::cue { color: lime }

intro
00:00:01.000 --> 00:00:02.000 line:0 position:20% align:start
<v Ada Lovelace>The engine &amp; its <b>notes</b>.

00:00:02.000 --> 00:00:03.000
<v Ada Lovelace>Still me, &lt;3.

00:00:03.000 --> 00:00:04.000
<v.loud Charles>Now me. <lang en>Hello</lang> &gt;&gt; there
"""


def test_vtt_header_blocks_identifiers_voices_and_entities(tmp_path: Path) -> None:
    t = load_transcript(write(tmp_path, "n.vtt", VTT_SAMPLE))
    assert_valid_transcript(t)
    assert t.meta.language == "de"
    assert [(s.text, s.turn) for s in t.segments] == [
        ("Ada Lovelace: The engine & its notes.", False),
        ("Still me, <3.", False),
        ("Charles: Now me. Hello", False),
        ("there", True),  # a ">>" mark inside a cue: a new speaker's segment
    ]
    assert t.text.endswith("Charles: Now me. Hello there")


WHISPER_VTT = """\
WEBVTT

00:00.000 --> 00:03.500
 First we load the file.

00:03.500 --> 01:02.250
 Then we check it.

59:59.000 --> 1:00:01.500
 Still going after an hour.

1:00:01.500 --> 1:00:04.000
 Done.
"""


def test_whisper_timestamps(tmp_path: Path) -> None:
    t = load_transcript(write(tmp_path, "w.vtt", WHISPER_VTT))
    assert [(s.start, s.end) for s in t.segments] == [
        (0.0, 3.5),
        (3.5, 62.25),
        (3599.0, 3601.5),
        (3601.5, 3604.0),
    ]
    assert t.text == "First we load the file. Then we check it. Still going after an hour. Done."


# yt-dlp writes a line holding one space where "~" stands (kept out of the source: editors
# strip trailing blanks).
ROLLING_VTT = """\
WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:02.000 align:start position:0%
~
Welcome<00:00:00.400><c> to</c><00:00:00.800><c> the</c><00:00:01.200><c> parser</c>

00:00:02.000 --> 00:00:02.010 align:start position:0%
Welcome to the parser
~

00:00:02.010 --> 00:00:04.000 align:start position:0%
Welcome to the parser
tour<00:00:02.500><c> today</c><00:00:03.000><c> &amp;</c><00:00:03.500><c> tomorrow</c>

00:00:04.000 --> 00:00:04.010 align:start position:0%
tour today &amp; tomorrow
~

00:00:04.010 --> 00:00:05.000 align:start position:0%
tour today &amp; tomorrow
fine.

00:00:05.000 --> 00:00:05.010 align:start position:0%
fine.
~

00:00:05.010 --> 00:00:06.000 align:start position:0%
fine.
&gt;&gt; Right.<00:00:05.500><c> [Music]</c>

00:00:06.000 --> 00:00:06.010 align:start position:0%
&gt;&gt; Right. [Music]
~

00:00:06.010 --> 00:00:07.000 align:start position:0%
&gt;&gt; Right. [Music]
&gt;&gt; Right.<00:00:06.400><c> Right.</c>

00:00:07.000 --> 00:00:07.010 align:start position:0%
&gt;&gt; Right. Right.
~
""".replace("\n~\n", "\n \n")


def test_rolling_auto_captions_are_deduplicated(tmp_path: Path) -> None:
    t = load_transcript(write(tmp_path, "auto.en.vtt", ROLLING_VTT))
    assert_valid_transcript(t)
    assert [(s.start, s.end, s.text, s.turn) for s in t.segments] == [
        (0.0, 2.0, "Welcome to the parser", False),
        (2.01, 4.0, "tour today & tomorrow", False),
        (4.01, 5.0, "fine.", False),  # a one-word line comes without word timings
        (5.01, 6.0, "Right.", True),  # ">>": a new speaker
        (6.01, 7.0, "Right. Right.", True),  # said again by the other speaker: kept
    ]
    assert t.duration == 7.01


def test_speaker_change_marks_become_turn_flags_not_text(tmp_path: Path) -> None:
    srt_text = (
        "1\n00:00:00,000 --> 00:00:04,000\nso that is the plan >> right and\n\n"
        "2\n00:00:04,000 --> 00:00:06,000\nthen we ship it >>\n\n"
        "3\n00:00:06,000 --> 00:00:08,000\n&gt;&gt;\n\n"
        "4\n00:00:08,000 --> 00:00:10,000\n>> >> sounds good\n>> DAVID: Next.\n"
    )
    t = load_transcript(write(tmp_path, "turns.srt", srt_text))
    assert_valid_transcript(t)
    assert t.text == "so that is the plan right and then we ship it sounds good DAVID: Next."
    got = [(s.start, s.end, s.text, s.turn) for s in t.segments]
    assert got == [
        (0.0, 2.875, "so that is the plan", False),
        (2.875, 4.0, "right and", True),  # at its share of the cue's characters (23 of 32)
        (4.0, 6.0, "then we ship it", False),
        # A mark at a cue's end, or a cue of marks only, carries to the next words.
        (8.0, 8 + 2 * 21 / 33, "sounds good", True),
        (8 + 2 * 21 / 33, 10.0, "DAVID: Next.", True),
    ]
    plain = write(tmp_path, "plain.srt", srt_text.replace("&gt;&gt;", "").replace(">>", ""))
    assert load_transcript(plain).content_hash == t.content_hash


def test_a_file_of_speaker_marks_only_has_no_text(tmp_path: Path) -> None:
    p = write(tmp_path, "marks.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\n&gt;&gt;\n")
    assert "contains no spoken text" in error_of(p)


def test_repeated_cues_in_ordinary_vtt_are_kept(tmp_path: Path) -> None:
    text = "WEBVTT\n\n00:01.000 --> 00:02.000\nBye.\n\n00:02.000 --> 00:03.000\nBye.\n"
    assert load_transcript(write(tmp_path, "bye.vtt", text)).text == "Bye. Bye."


@pytest.mark.parametrize(
    "text,expect",
    [
        ("WEBVTT\n", "no subtitle cues found"),
        ("WEBVTT\n\nNOTE only a comment\n", "no subtitle cues found"),
        ("WEBVTT\n\n00:01.000 -> 00:02.000\nhi\n", "line 3: '00:01.000 -> 00:02.000' is not"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nhi\nok --> no\n", "line 5: malformed"),
        ("just words\n", "no subtitle cues found"),
    ],
)
def test_broken_vtt_is_a_clear_error(tmp_path: Path, text: str, expect: str) -> None:
    assert expect in error_of(write(tmp_path, "broken.vtt", text))


# --- youtube-transcript-api JSON --------------------------------------------------------------


def test_youtube_json_list(tmp_path: Path) -> None:
    items = [
        {"text": "[Music]", "start": 0.0, "duration": 4.2},
        {"text": "so the\nheap grows", "start": 4.2, "duration": 2.5},
        {"text": "it&#39;s &amp; fine", "start": 6.7, "duration": 1},
        {"text": "  ", "start": 7.7, "duration": 1},
        {"text": "last", "start": 8, "duration": 0.5},
    ]
    t = load_transcript(write(tmp_path, "yt.json", json.dumps(items)))
    assert_valid_transcript(t)
    assert t.format == "youtube-json"
    assert t.text == "so the heap grows it's & fine last"
    assert [(s.start, s.end) for s in t.segments] == [(4.2, 6.7), (6.7, 7.7), (8.0, 8.5)]


def test_youtube_json_speaker_marks_are_turns(tmp_path: Path) -> None:
    items = [
        {"text": "what did you build", "start": 0.0, "duration": 2},
        {"text": "&gt;&gt; a parser", "start": 2.0, "duration": 2},
        {"text": ">> nice", "start": 4.0, "duration": 1},
    ]
    t = load_transcript(write(tmp_path, "yt.json", json.dumps(items)))
    assert_valid_transcript(t)
    assert t.text == "what did you build a parser nice"
    assert [s.turn for s in t.segments] == [False, True, True]


def test_youtube_json_v1_shape_carries_id_and_language(tmp_path: Path) -> None:
    data = {
        "video_id": "abc123XYZ_0",
        "language_code": "en",
        "is_generated": True,
        "snippets": [{"text": "hello", "start": 0.5, "duration": 1.0}],
    }
    t = load_transcript(write(tmp_path, "v1.json", json.dumps(data)))
    assert t.meta.video_id == "abc123XYZ_0" and t.meta.language == "en"


@pytest.mark.parametrize(
    "data,expect",
    [
        ([], "no spoken text"),
        ([{"text": "a", "start": "0"}], "item 0: 'start' is not a number"),
        ([{"text": "a", "start": True}], "item 0: 'start' is not a number"),
        ([{"text": "a", "start": 1, "duration": -1}], "item 0: 'duration' is not a time"),
        ([{"text": "a", "start": 1}, {"text": 2, "start": 2}], "item 1: 'text' is not a string"),
        ([{"text": "a", "start": 100}, {"text": "b", "start": 10}], "item 1: starts at"),
        ([{"text": "a\u0000b", "start": 1}], "item 0: contains NUL"),
        ({"some": "thing"}, "JSON is not a transcript vidsum reads"),
        ("a string", "JSON is not a transcript vidsum reads"),
    ],
)
def test_bad_youtube_json_is_a_clear_error(tmp_path: Path, data: object, expect: str) -> None:
    assert expect in error_of(write(tmp_path, "bad.json", json.dumps(data)))


def test_json_syntax_errors(tmp_path: Path) -> None:
    assert "not valid JSON (line 2, column" in error_of(write(tmp_path, "x.json", '[\n{"a": }]'))
    assert "nested too deeply" in error_of(write(tmp_path, "d.json", "[" * 100_000))
    assert "not valid JSON" in error_of(write(tmp_path, "n.json", "[" + "9" * 5000 + "]"))
    surrogate = '[{"text": "a\\ud800b", "start": 1}]'
    assert "unpaired surrogate" in error_of(write(tmp_path, "s.json", surrogate))


# --- yt-dlp .info.json ------------------------------------------------------------------------

SUB_EN = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nhuman english words\n"
SUB_AUTO = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nautomatic words\n"
SUB_DE = "1\n00:00:01,000 --> 00:00:03,000\nmenschliche deutsche Worte\n"


def info(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "dQw4w9WgXcQ",
        "title": "Caches, explained",
        "uploader": "Some Uploader",
        "webpage_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "description": "A talk about caches.",
        "duration": 600,
        "upload_date": "20240229",
        "subtitles": {"en": [{"ext": "vtt"}]},
        "automatic_captions": {"en-orig": [{"ext": "vtt"}], "fr": [{"ext": "vtt"}]},
    }
    base.update(extra)
    return base


def test_info_json_prefers_human_subtitles_and_keeps_metadata(tmp_path: Path) -> None:
    write(tmp_path, "Caches [dQw4w9WgXcQ].en.vtt", SUB_EN)
    write(tmp_path, "Caches [dQw4w9WgXcQ].en-orig.vtt", SUB_AUTO)
    write(tmp_path, "Caches [dQw4w9WgXcQ].fr.vtt", SUB_AUTO)
    write(tmp_path, "Caches [dQw4w9WgXcQ].live_chat.json", "{}")
    p = write(tmp_path, "Caches [dQw4w9WgXcQ].info.json", json.dumps(info(channel="Chan")))
    t = load_transcript(p)
    assert_valid_transcript(t)
    assert t.format == "info-json" and t.source == p
    assert t.text == "human english words"
    m = t.meta
    assert (m.title, m.channel, m.video_id, m.upload_date) == (
        "Caches, explained",
        "Chan",
        "dQw4w9WgXcQ",
        "2024-02-29",
    )
    assert m.url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert m.description == "A talk about caches." and m.duration == 600 and m.language == "en"
    assert t.duration == 600 and t.display_title == "Caches, explained"


def test_info_json_language_preference(tmp_path: Path) -> None:
    # Only automatic captions here: the video's own language beats a machine translation.
    write(tmp_path, "v.en.vtt", SUB_AUTO)
    write(tmp_path, "v.de.srt", SUB_DE)
    data = info(language="de", subtitles={}, automatic_captions={"en": [], "de": []})
    t = load_transcript(write(tmp_path, "v.info.json", json.dumps(data)))
    assert t.text == "menschliche deutsche Worte" and t.meta.language == "de"
    assert t.meta.channel == "Some Uploader"  # `uploader` when there is no `channel`
    # Without a video language, English wins.
    data = info(subtitles={}, automatic_captions={"en": [], "de": []})
    t = load_transcript(write(tmp_path, "v.info.json", json.dumps(data)))
    assert t.text == "automatic words"


def test_info_json_chapters(tmp_path: Path) -> None:
    write(tmp_path, "c.en.vtt", SUB_EN)
    chapters = [
        {"start_time": 120.0, "end_time": 600.0, "title": "Eviction"},
        {"start_time": 0.0, "end_time": 120.0, "title": "Intro"},
    ]
    t = load_transcript(write(tmp_path, "c.info.json", json.dumps(info(chapters=chapters))))
    assert [(c.start, c.end, c.title) for c in t.chapters] == [
        (0.0, 120.0, "Intro"),
        (120.0, 600.0, "Eviction"),
    ]


def test_info_json_without_chapters_reads_them_from_the_description(tmp_path: Path) -> None:
    write(tmp_path, "d.en.vtt", SUB_EN)
    desc = "Links below.\n\n0:00 Intro\n1:30 - Hashing\n7:05 – Wrap-up\n\nThanks for watching"
    t = load_transcript(write(tmp_path, "d.info.json", json.dumps(info(description=desc))))
    assert [(c.start, c.end, c.title) for c in t.chapters] == [
        (0.0, 90.0, "Intro"),
        (90.0, 425.0, "Hashing"),
        (425.0, 600.0, "Wrap-up"),  # the last one ends with the video
    ]


def test_info_json_without_subtitles_says_what_it_looked_for(tmp_path: Path) -> None:
    p = write(tmp_path, "lonely.info.json", json.dumps(info()))
    problem = error_of(p)
    assert "no subtitle file found" in problem and "lonely.<lang>.vtt" in problem


def test_subtitle_with_sibling_info_json_gets_its_metadata(tmp_path: Path) -> None:
    write(tmp_path, "talk.info.json", json.dumps(info(chapters=[])))
    sub = write(tmp_path, "talk.en.vtt", SUB_EN)
    t = load_transcript(sub)
    assert t.format == "vtt" and t.source == sub
    assert t.meta.title == "Caches, explained" and t.meta.video_id == "dQw4w9WgXcQ"
    assert t.meta.language == "en"
    # A broken sibling is reported, naming the sibling.
    broken = write(tmp_path, "other.info.json", "{nope")
    with pytest.raises(TranscriptError) as exc:
        load_transcript(write(tmp_path, "other.srt", SUB_DE))
    assert str(exc.value).startswith(f"{broken}: not valid JSON")


def test_info_json_by_content_and_bad_info_json(tmp_path: Path) -> None:
    write(tmp_path, "meta.en.vtt", SUB_EN)
    # yt-dlp's info under a plain .json name is recognized by its content; the base is "meta".
    t = load_transcript(write(tmp_path, "meta.json", json.dumps(info())))
    assert t.format == "info-json" and t.text == "human english words"
    assert "no subtitle file found" in error_of(write(tmp_path, "solo.json", json.dumps(info())))
    assert "expected a JSON object" in error_of(write(tmp_path, "x.info.json", "[1, 2]"))
    bad = info(chapters=[{"title": "no start"}])
    write(tmp_path, "y.en.vtt", SUB_EN)
    assert "chapters[0] has no valid 'start_time'" in error_of(
        write(tmp_path, "y.info.json", json.dumps(bad))
    )


# --- files that are not transcripts -----------------------------------------------------------


def test_unreadable_inputs(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, "e.txt", "")) == "file is empty"
    assert error_of(write(tmp_path, "w.srt", " \n\t\r\n")) == "file holds only whitespace"
    assert "NUL bytes" in error_of(write(tmp_path, "b.txt", b"abc\x00def"))
    assert "UTF-16 without a byte-order mark" in error_of(
        write(tmp_path, "u16.txt", "hello".encode("utf-16-le"))
    )
    assert error_of(write(tmp_path, "l1.txt", "caf\xe9 ok".encode("latin-1"))).startswith(
        "not valid UTF-8 (bad byte at offset 3)"
    )
    assert "offset 5" in error_of(write(tmp_path, "l2.txt", b"\xef\xbb\xbfab\xff"))
    assert "HTML page" in error_of(write(tmp_path, "page.txt", "<!DOCTYPE html><html>x</html>"))
    assert error_of(tmp_path / "missing.srt") == "file not found"
    assert error_of(tmp_path) == "not a regular file"


def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.vtt"
    os.mkfifo(fifo)
    assert error_of(fifo) == "not a regular file"


def test_size_cap(tmp_path: Path) -> None:
    from engine.transcripts.readers import MAX_BYTES

    p = tmp_path / "huge.txt"
    with p.open("wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: costs no disk, refused before reading
    assert "over the 67,108,864-byte limit" in error_of(p)
