"""Sections where the topic changes (``engine.pipeline.parts.segment`` through ``split_parts``).

A synthetic talk of five topics with their own vocabularies, of unequal lengths: topic
segmentation (both methods) must cut at the changes, equal stretches must not; every section
keeps its minimum length; chapters still decide when present; untimed text works; the
likelihood method's dynamic programme finds the best split; the length mode (what abstractive
summaries use) is today's balanced split.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest

from bench.eval_sections import seconds
from engine.pipeline.longform.multipass import MultiPassJob
from engine.pipeline.parts import segment
from engine.pipeline.parts.chunking import N_PARTS, TextMap, split_parts
from engine.pipeline.passes.job import SummaryJob
from engine.pipeline.quotes.summary import QuoteJob
from engine.transcripts.types import Chapter, Transcript
from tests.pipeline.test_chunking import check_parts, plain, timed, words

# One line per topic: words no other topic uses.
VOCABULARIES = [
    line.split()
    for line in """
    database index query table transaction commit rollback schema column primary
    compiler parser grammar token syntax lexer bytecode optimizer register emitter
    network packet router socket latency bandwidth protocol handshake firewall gateway
    garden tomato compost seedling watering mulch harvest greenhouse trellis pruning
    guitar chord melody rhythm tempo harmony scale string amplifier chorus
    """.strip().splitlines()
]
SECONDS_PER_CUE = 4.0


def sentences(counts: list[int], seed: int = 1) -> tuple[list[str], list[int]]:
    """``counts[i]`` sentences of topic ``i``; and the index of each topic's first sentence."""
    rng = random.Random(seed)
    out: list[str] = []
    starts: list[int] = []
    for topic, count in enumerate(counts):
        starts.append(len(out))
        vocab = VOCABULARIES[topic]
        for _ in range(count):
            a, b, c, d = rng.sample(vocab, 4)
            out.append(f"The {a} and the {b} need a {c} before every {d}.")
    return out, starts


def timed_talk(
    counts: list[int], chapters: list[Chapter] | None = None
) -> tuple[Transcript, list[float]]:
    sents, starts = sentences(counts)
    cues = [(i * SECONDS_PER_CUE, (i + 1) * SECONDS_PER_CUE, s) for i, s in enumerate(sents)]
    return timed(cues, chapters=chapters or ()), [s * SECONDS_PER_CUE for s in starts]


# Unequal topics: the changes (sentences 90, 120, 200, 225 of 260) are far from the equal
# stretches' cuts (52, 104, 156, 208).
COUNTS = [90, 30, 80, 25, 35]


@pytest.fixture(params=["likelihood", "tiling"])
def method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(segment, "METHOD", request.param)
    return str(request.param)


def test_topic_boundaries_land_at_the_topic_changes_and_equal_stretches_do_not(
    method: str,
) -> None:
    t, changes = timed_talk(COUNTS)
    tm = TextMap(t, words)
    topic = split_parts(tm, by="topic")
    length = split_parts(tm, by="length")
    check_parts(t, topic, tm)
    inner = [p.end_s or 0.0 for p in topic[:-1]]
    assert all(abs(b - c) <= 2 * SECONDS_PER_CUE for b, c in zip(inner, changes[1:], strict=True))
    equal = [p.end_s or 0.0 for p in length[:-1]]
    assert all(abs(b - c) > 30 for b, c in zip(equal, changes[1:], strict=True))


def test_every_section_keeps_the_minimum_length(method: str) -> None:
    # The second topic is 3 % of the talk: too short to be a section of its own.
    for seed_counts in ([100, 8, 80, 40, 32], [6, 120, 60, 6, 70], [40, 40, 40, 40, 40]):
        t, _ = timed_talk(seed_counts)
        tm = TextMap(t, words)
        parts = split_parts(tm, by="topic")
        check_parts(t, parts, tm)
        total = parts[-1].end_s or 0.0
        for p in parts:
            assert (p.end_s or 0.0) - (p.start_s or 0.0) >= segment.MIN_SHARE * total - 1e-6


def test_chapters_still_decide_when_present() -> None:
    chapters = [Chapter(0.0, "a"), Chapter(200.0, "b"), Chapter(400.0, "c"), Chapter(700.0, "d")]
    t, _ = timed_talk(COUNTS, chapters)
    tm = TextMap(t, words)
    topic = split_parts(tm, by="topic")
    assert topic == split_parts(tm, by="length")
    starts = {p.start_s for p in topic}
    assert {200.0, 400.0, 700.0} <= starts
    assert [p.title for p in topic if p.title] != []


def test_untimed_text_is_cut_at_the_topic_changes(method: str) -> None:
    sents, starts = sentences(COUNTS)
    t = plain(" ".join(sents))
    tm = TextMap(t, words)
    parts = split_parts(tm, by="topic")
    check_parts(t, parts, tm)
    offsets = [len(" ".join(sents[:s])) + 1 for s in starts[1:]]
    sentence_chars = len(sents[0]) + 1
    for p, change in zip(parts[1:], offsets, strict=True):
        assert abs(p.start_char - change) <= 2 * sentence_chars


def test_text_too_short_to_measure_is_cut_by_length(method: str) -> None:
    t = plain("One database index. Two compiler parsers. Three network packets. Four gardens.")
    tm = TextMap(t, words)
    assert split_parts(tm, by="topic") == split_parts(tm, by="length")


def test_abstractive_parts_are_the_balanced_split() -> None:
    """Abstractive jobs keep the length split (their results are keyed by prompt version);
    only quote mode cuts by topic."""
    t, _ = timed_talk(COUNTS)
    tm = TextMap(t, words)
    cuts = tm.cuts(0, tm.n_units, N_PARTS)
    assert cuts is not None
    assert [tm.char(b) for b in cuts[1:-1]] == [p.start_char for p in split_parts(tm)[1:]]
    assert split_parts(tm) == split_parts(tm, by="length")
    assert SummaryJob.part_mode == "length" and MultiPassJob.part_mode == "length"
    assert QuoteJob.part_mode == "topic"


def test_the_chaptered_set_is_what_its_manifest_says() -> None:
    """bench/chapters_set.json: 6-10 talks of 20-120 min in a tune and a held-out half, 20 or
    more in a second held-out set, a third held-out set (15 min or more) and livestreams (up to
    4 h), increasing chapter starts, no transcript text in the project, no reserved sources."""
    manifest = json.loads((Path(__file__).parents[2] / "bench" / "chapters_set.json").read_text())
    talks = manifest["talks"]
    first = [t for t in talks if t["split"] in ("tune", "held-out")]
    assert 6 <= len(first) <= 10
    assert len([t for t in talks if t["split"] == "held-out-2"]) >= 20
    assert {t["split"] for t in talks} == {
        "tune",
        "held-out",
        "held-out-2",
        "held-out-3",
        "streams",
    }
    # Minutes a talk of each split may last: the streams are 2-3.4 h livestreams.
    limits = {"held-out-3": (15, 120), "streams": (20, 240)}
    for t in talks:
        low, high = limits.get(t["split"], (20, 120))
        assert low * 60 <= t["duration_s"] <= high * 60
        starts = [seconds(s) for s in t["chapter_starts"]]
        assert starts == sorted(starts) and len(starts) >= 3 and starts[-1] < t["duration_s"]
        assert set(t) <= {"id", "title", "video_id", "duration_s", "split", "transcript"} | {
            "chapters",
            "chapter_starts",
        }
        for src in (t["transcript"], t["chapters"]):
            assert len(src["commit"]) == 40 and src["path"]
            assert not any(
                x in src["repo"].lower()
                for x in ("3blue1brown", "fridman", "pythonbytes", "python-bytes")
            )


BLOCK = 30  # sentences of one theme in a row


def long_talk(blocks: list[int]) -> tuple[Transcript, list[float]]:
    """Topic ``i`` turns between two themes (the halves of its vocabulary) every ``BLOCK``
    sentences, ``blocks[i]`` blocks in all. A window of a few blocks holds both themes of a
    topic, so only the topic changes stand out; a window of about one block sees every turn
    as deep a change as a new topic."""
    rng = random.Random(3)
    sents: list[str] = []
    starts: list[int] = []
    for topic, count in enumerate(blocks):
        starts.append(len(sents))
        for k in range(count):
            theme = VOCABULARIES[topic][5:] if k % 2 else VOCABULARIES[topic][:5]
            for _ in range(BLOCK):
                a, b, c, d = rng.sample(theme, 4)
                sents.append(f"The {a} and the {b} need a {c} before every {d}.")
    cues = [(i * SECONDS_PER_CUE, (i + 1) * SECONDS_PER_CUE, s) for i, s in enumerate(sents)]
    return timed(cues), [s * SECONDS_PER_CUE for s in starts]


def test_a_long_talk_is_cut_where_the_topic_changes_not_at_its_turns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 56-minute talk whose topics each turn between two themes every two minutes is cut at
    the topic changes by the likelihood method (a section's model holds both its themes) and
    by tiling with a window that grows with the talk (``WINDOW_SHARE``); tiling's fixed window
    (share 0: about one block here) cuts at turns inside topics."""
    t, changes = long_talk([8, 4, 6, 4, 6])
    tm = TextMap(t, words)
    near = 30.0  # bench/eval_sections.py's tolerance; a block is 120 s

    def misses() -> int:
        inner = [p.end_s or 0.0 for p in split_parts(tm, by="topic")[:-1]]
        return sum(abs(b - c) > near for b, c in zip(inner, changes[1:], strict=True))

    assert segment.METHOD == "likelihood" and misses() == 0
    monkeypatch.setattr(segment, "METHOD", "tiling")
    assert misses() == 0
    monkeypatch.setattr(segment, "WINDOW_SHARE", 0.0)
    assert misses() >= 2


@pytest.mark.parametrize("seed", range(20))
def test_the_best_split_is_the_cheapest_of_all_splits(seed: int) -> None:
    """``_best_split`` against every split into ``k`` segments of a random cost matrix with
    forbidden (infinite) segments."""
    rng = np.random.default_rng(seed)
    n, k = 9, 4
    cost = rng.random((n, n)) * 10
    cost[rng.random((n, n)) < 0.3] = np.inf
    cost[np.tril_indices(n)] = np.inf
    splits = [
        (sum(cost[a, b] for a, b in itertools.pairwise([0, *inner, n - 1])), list(inner))
        for inner in itertools.combinations(range(1, n - 1), k - 1)
    ]
    cheapest = min(c for c, _ in splits)
    got = segment._best_split(cost, k)
    if not np.isfinite(cheapest):
        assert got is None
        return
    assert got is not None
    assert sum(cost[a, b] for a, b in itertools.pairwise([0, *got, n - 1])) == cheapest
