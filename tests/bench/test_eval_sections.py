"""The chaptered set's loader and report (``bench/eval_sections.py``): chapter starts read
from both sites' source formats, a mean line per split, and the second held-out set's shape."""

from __future__ import annotations

import json
from pathlib import Path

from bench.eval_sections import MANIFEST, SPLITS, Talk, seconds, source_starts, summary
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


def test_the_second_held_out_set_is_new_talks_with_four_or_more_chapters() -> None:
    talks = json.loads(MANIFEST.read_text(encoding="utf-8"))["talks"]
    assert {t["split"] for t in talks} <= set(SPLITS)
    second = [t for t in talks if t["split"] == "held-out-2"]
    others = {t["video_id"] for t in talks if t["split"] != "held-out-2"}
    assert len(second) >= 20 and not others & {t["video_id"] for t in second}
    assert len({t["id"] for t in talks}) == len(talks)
    for t in second:
        starts = [seconds(s) for s in t["chapter_starts"]]
        assert t["duration_s"] >= 20 * 60 and len(set(starts)) >= 4
        assert starts == sorted(starts) and starts[-1] < t["duration_s"]
        assert t["transcript"]["path"] == f"transcripts/{t['video_id']}.json"
