"""engine.pipeline.quotes.sentences and speaker turns: the caption readers' ``>>`` marks, kept as
``Segment.turn`` flags, end units (tests/pipeline/test_quote_text.py covers the rest of the units).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import replace
from pathlib import Path

from engine.pipeline.parts.chunking import TextMap, split_parts
from engine.pipeline.quotes.sentences import Unit, units_of
from engine.pipeline.quotes.text import clean, quotes_of
from engine.transcripts.readers import load_transcript
from engine.transcripts.types import Segment, Transcript
from tests.conftest import TALKS, require_shared


def _count(texts: list[str]) -> list[int]:
    return [len(t) // 4 + 1 for t in texts]


def _captions(cues: list[tuple[str, bool]]) -> Transcript:
    """Cues of 2 s each, 0.05 s apart (no pauses); the flag: a new speaker starts the cue."""
    segs = [Segment(2.05 * i, 2.05 * i + 2.0, x, turn) for i, (x, turn) in enumerate(cues)]
    return Transcript(Path("t.vtt"), "vtt", " ".join(x for x, _ in cues), tuple(segs))


def _without_turns(t: Transcript) -> Transcript:
    return replace(t, segments=tuple(replace(s, turn=False) for s in t.segments))


def _turn_starts(t: Transcript) -> list[int]:
    tm = TextMap(t, _count)
    return [s for (s, _), seg in zip(tm.seg_spans, t.segments, strict=True) if seg.turn]


def _units(t: Transcript) -> list[Unit]:
    return units_of(TextMap(t, _count), 0, len(t.text))


def _across(units: list[Unit], turns: list[int]) -> list[Unit]:
    """Units with a turn start strictly inside them."""
    return [
        u for u in units if bisect.bisect_right(turns, u.start) < bisect.bisect_left(turns, u.end)
    ]


def test_no_unit_spans_a_change_of_speaker_in_unpunctuated_captions() -> None:
    t = _captions(
        [
            ("we put the cache layer in front of the", False),
            ("database because it was already running", False),
            ("in production for the billing service", False),
            ("did the memory of the billing service", True),
            ("grow a lot after the cache layer went in", False),
            ("not really the memory stayed flat", True),
            ("for the whole quarter after the change", False),
        ]
    )
    turns = _turn_starts(t)
    assert len(turns) == 2
    assert _across(_units(_without_turns(t)), turns), "the test must be able to fail"
    units = _units(t)
    assert not _across(units, turns)
    texts = [clean(t.text[u.start : u.end]) for u in units]
    assert texts[-1] == "not really the memory stayed flat for the whole quarter after the change"
    assert " ".join(texts) == t.text


def test_an_interrupted_sentence_ends_at_the_turn_and_the_new_speaker_is_unnamed() -> None:
    t = _captions(
        [
            ("DAVID MALAN: So the list is sorted, and what we want to", False),
            ("Is it always sorted before the search starts?", True),
            ("DAVID MALAN: Yes, we assume the list was sorted before.", False),
        ]
    )
    turns = _turn_starts(t)
    assert _across(_units(_without_turns(t)), turns), "the test must be able to fail"
    units = _units(t)
    by_text = {clean(t.text[u.start : u.end]): u for u in units}
    assert set(by_text) == {
        "So the list is sorted, and what we want to",
        "Is it always sorted before the search starts?",
        "Yes, we assume the list was sorted before.",
    }
    assert by_text["So the list is sorted, and what we want to"].speaker == "DAVID MALAN"
    assert by_text["Is it always sorted before the search starts?"].speaker is None
    assert by_text["Yes, we assume the list was sorted before."].speaker == "DAVID MALAN"


def test_a_turn_at_the_text_start_adds_no_cut() -> None:
    t = _captions([("the first speaker opens the show today", True), ("and goes on", False)])
    assert [clean(t.text[u.start : u.end]) for u in _units(t)] == [t.text]


def test_a_punctuated_sentence_that_goes_on_in_lower_case_is_not_cut_at_a_turn_mark() -> None:
    # Auto-captions misplace some marks: "and like >> just keeps improving" is one sentence.
    t = _captions(
        [
            ("He sends a new version to everybody, and like", False),
            ("just keeps improving the product every week.", True),
            ("Does he ever ship a broken version to them?", True),
            ("Not that I know of, he tests it first.", True),
        ]
    )
    texts = [clean(t.text[u.start : u.end]) for u in _units(t)]
    assert texts == [
        "He sends a new version to everybody, and like just keeps improving the product"
        " every week.",
        "Does he ever ship a broken version to them?",
        "Not that I know of, he tests it first.",
    ]


def _trusted(t: Transcript, turns: list[int]) -> list[int]:
    """Turns not inside a sentence that goes on in lower case (the captions are punctuated)."""
    words = [(m.start(), m.group()) for m in re.finditer(r"\S+", t.text)]
    starts = [s for s, _ in words]
    out = []
    for p in turns:
        i = bisect.bisect_left(starts, p)
        if not (
            re.search(r"[.!?][\"')\]]*$", words[i - 1][1]) is None and words[i][1][0].islower()
        ):
            out.append(p)
    return out


def test_real_auto_captions_have_no_quote_across_a_change_of_speaker() -> None:
    require_shared()
    t = load_transcript(TALKS / "nat_eliason_felix_ai_agent_interview.yt-dlp-auto.en.vtt")
    marks = [s for s in _turn_starts(t) if s > 0]
    turns = _trusted(t, marks)
    assert len(marks) > 150 and len(turns) > 120 and len(turns) < len(marks)
    tm = TextMap(t, _count)
    quotes = [q for p in split_parts(tm, by="topic") for q in quotes_of(tm, p)]
    across = [
        q.text
        for q in quotes
        if bisect.bisect_right(turns, q.start_char) < bisect.bisect_left(turns, q.end_char)
    ]
    assert not across, across[:3]
    # Every turn starts a unit (quotes drop repeated texts such as a second "Yeah.").
    starts = {u.start for u in units_of(tm, 0, len(t.text))}
    assert all(s in starts for s in turns)
