"""The chaptered set's loader and report (``bench/eval_sections.py``): chapter starts read
from both sites' source formats, a mean line per split, the later sets' shape, and the fresh
sets left out of ``--split all``."""

from __future__ import annotations

import json
from pathlib import Path

from bench.eval_sections import (
    FRESH,
    MANIFEST,
    SPLITS,
    Talk,
    in_split,
    seconds,
    source_starts,
    summary,
)
from engine.transcripts.types import Transcript

OLD_PAGE = 'title: "A talk"\ntopics:\n  - time: "0:00"\n    title: "Intro"\n  - time: "12:34"\n'
NEW_PAGE = {
    "videoId": "aaaaaaaaaaa",
    "timestamps": [{"time": "0:00", "title": "a"}, {"time": "19;46", "title": "b"}],
    "parts": [
        {"videoId": "bbbbbbbbbbb", "timestamps": [{"time": "0:00", "title": "c"}]},
        {"videoId": "ccccccccccc", "timestamps": [{"time": "1:02:03", "title": "d"}]},
    ],
}


def test_chapter_starts_are_read_from_either_site() -> None:
    assert source_starts(OLD_PAGE, {"path": "_Streams/1-a.md"}) == ["0:00", "12:34"]
    page = json.dumps(NEW_PAGE)
    # A typo'd separator reads as a colon; a multi-part page gives the named part's starts.
    assert source_starts(page, {"path": "x/index.json"}) == ["0:00", "19:46"]
    assert source_starts(page, {"path": "x/index.json", "part": 2}) == ["1:02:03"]


def talk(split: str) -> Talk:
    return Talk(split, split, 1500.0, [0.0], Transcript(Path("t"), "txt", "words"))


def test_the_summary_has_a_mean_line_for_every_split_present() -> None:
    talks = [talk("tune"), talk("held-out-2"), talk("held-out-2")]
    scores = {"equal": [0.25, 0.5, 1.0], "topic": [0.5, 0.5, 0.5], "random": [0.0, 0.5, 0.6]}
    lines = summary(talks, scores)
    assert [ln.split(" (")[0] for ln in lines] == [
        "- mean over all",
        "- mean over tune",
        "- mean over held-out-2",
        "- mean over sparse chapters",
        "- mean over dense chapters",
    ]
    assert lines[2].startswith("- mean over held-out-2 (2 talks): equal 0.75, topic 0.50")
    # Split by chance level: the first talk is sparse, the other two dense.
    assert "(1 talks): equal 0.25, topic 0.50, random 0.00" in lines[3]
    assert "(2 talks): equal 0.75, topic 0.50, random 0.55" in lines[4]


def test_the_later_sets_are_new_talks_with_four_or_more_chapters() -> None:
    """held-out-2, held-out-3 and streams: no talk shared with another split, four or more
    distinct increasing starts, the last before the transcript ends and in its final 30 %."""
    talks = json.loads(MANIFEST.read_text(encoding="utf-8"))["talks"]
    assert {t["split"] for t in talks} <= set(SPLITS)
    assert len({t["id"] for t in talks}) == len(talks)
    assert len({t["video_id"] for t in talks}) == len(talks)
    sizes = {"held-out-2": 20, "held-out-3": 15, "streams": 5}
    for split, least in sizes.items():
        later = [t for t in talks if t["split"] == split]
        assert len(later) >= least, split
        for t in later:
            starts = [seconds(s) for s in t["chapter_starts"]]
            assert t["duration_s"] >= (15 if split == "held-out-3" else 20) * 60
            assert len(set(starts)) >= 4 and starts == sorted(starts)
            assert starts[-1] < t["duration_s"]
            assert starts[-1] >= 0.7 * t["duration_s"]
            assert t["transcript"]["path"] == f"transcripts/{t['video_id']}.json"
    # The streams' chapter lists are all on the mirrored old site, so the eval checks them.
    assert {t["chapters"]["repo"] for t in talks if t["split"] == "streams"} == {
        "CodingTrain/website-archive"
    }


def test_the_fresh_sets_are_scored_only_when_named() -> None:
    assert set(FRESH) <= set(SPLITS)
    for split in SPLITS:
        assert in_split(split, split)
        assert in_split(split, "all") == (split not in FRESH)
    assert not in_split("held-out-3", "streams") and not in_split("tune", "held-out")
