"""Whole-video summaries: one pass or notes + final pass, coverage, chapters, time ranges.

Real llama.cpp throughout: the tiny random-weight llama (fast, so the whole 97-minute lecture
goes through a small context in seconds: every chunk, merge and final pass for real) and the
Gemma 3 270M model on a stretch of a real lecture at a 2k context.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from engine import schema
from engine.errors import GenerationError
from engine.pipeline.checks.validate import parse_summary
from engine.pipeline.longform.multipass import MultiPassJob
from engine.pipeline.longform.notes_merge import PartNotes
from engine.pipeline.longform.summary import Config, LongformResult, summarize_long
from engine.pipeline.parts.chunking import TextMap, split_parts
from engine.pipeline.prompts import notes as notes_mod
from engine.pipeline.prompts.notes import (
    COMPACT_LIMITS,
    Notes,
    compact_constraint,
    compact_gbnf,
    notes_constraint,
    notes_gbnf,
    parse_notes,
)
from engine.pipeline.prompts.prompting import ChatSpec, build_summary_prompt
from engine.progress import Progress
from engine.runtime.base import LoadOptions, Sampling
from engine.runtime.llamacpp.runner import LlamaRunner
from engine.schema import Summary
from engine.transcripts.readers import load_transcript
from engine.transcripts.types import Chapter, Transcript
from tests.conftest import TALKS, require_shared

CS50 = "cs50_2017_lecture3_algorithms.srt"
INTERVIEW = "nat_eliason_felix_ai_agent_interview.yt-dlp-auto.en.vtt"


def chat_for(runner: LlamaRunner) -> ChatSpec:
    info = runner.info
    if info.chat_template:
        return ChatSpec("gguf-template", info.chat_template, info.bos_text, info.eos_text)
    return ChatSpec("plain", None, info.bos_text, info.eos_text)


@pytest.fixture(scope="module")
def tiny(tiny_llama_path: Path) -> Iterator[LlamaRunner]:
    with LlamaRunner(LoadOptions(model_path=tiny_llama_path, n_ctx=4096, n_threads=2)) as r:
        r.load()
        yield r


def check_result(t: Transcript, res: LongformResult) -> None:
    """Coverage 1.0 over chunks that partition the transcript; sections timed like the parts."""
    assert res.fraction == 1.0
    assert res.chunks[0].start_char == 0 and res.chunks[-1].end_char == len(t.text)
    for a, b in itertools.pairwise(res.chunks):
        assert a.end_char == b.start_char
        assert a.part <= b.part
    assert sum(c.tokens for c in res.chunks) == pytest.approx(res.transcript_tokens, rel=0.01)
    s = res.summary
    Summary.model_validate(s.model_dump())  # still valid with the times set
    assert [sec.title[:10] for sec in s.sections] == [f"Section {n}:" for n in range(1, 6)]
    if t.timed:
        starts = [sec.start for sec in s.sections]
        ends = [sec.end for sec in s.sections]
        assert starts[0] == 0.0 and ends[-1] == pytest.approx(
            max(t.duration or 0, t.segments[-1].end), abs=1e-3
        )
        for n in range(4):
            assert ends[n] == starts[n + 1]
            assert starts[n] <= starts[n + 1]  # type: ignore[operator]
        for sec, part in zip(s.sections, res.parts, strict=True):
            assert (sec.start, sec.end) == (
                pytest.approx(part.start_s, abs=1e-3),
                pytest.approx(part.end_s, abs=1e-3),
            )


# --- grammars (no model) ------------------------------------------------------------------------


def test_committed_grammars_are_in_sync() -> None:
    assert notes_mod.main(["--check"]) == 0
    assert notes_gbnf() == notes_mod.build_notes_grammar()
    assert compact_gbnf() == notes_mod.build_compact_grammar()


def test_compact_limits_stay_inside_the_schema() -> None:
    lim = COMPACT_LIMITS
    assert lim.introduction <= schema.MAX_INTRODUCTION and lim.title <= schema.MAX_TITLE
    assert lim.bullet <= schema.MAX_BULLET and lim.section_topic <= schema.MAX_SECTION_TOPIC
    assert lim.topic <= schema.MAX_TOPIC
    assert lim.max_json_chars() < notes_mod.FULL_LIMITS.max_json_chars() / 2


def test_notes_schema() -> None:
    ok = parse_notes('{"points":["Binary search halves the range."],"terms":["binary search"]}')
    assert ok.render() == "- Binary search halves the range.\nKey terms: binary search"
    for bad in (
        '{"points":[],"terms":["a"]}',
        '{"points":["a"],"terms":["b"],"x":1}',
        '{"points":["' + "a" * 500 + '"],"terms":["b"]}',
        '{"points":[" a"],"terms":["b"]}',
    ):
        with pytest.raises(GenerationError):
            parse_notes(bad)


# --- the tiny model: every pass for real, fast ----------------------------------------------------


def test_notes_and_compact_grammars_always_validate(tiny: LlamaRunner) -> None:
    """Random weights at temperature 1: whatever comes out, the grammars keep it valid."""
    prompt = (tiny.info.bos_text or "") + "Notes please:"
    for seed in range(8):
        gen = tiny.generate(
            prompt,
            constraint=notes_constraint(),
            sampling=Sampling(temperature=1.0, seed=seed, max_tokens=1500),
        )
        assert gen.stop_reason == "stop"
        assert isinstance(parse_notes(gen.text), Notes)
    for seed in range(2):
        gen = tiny.generate(
            prompt,
            constraint=compact_constraint(),
            sampling=Sampling(temperature=1.0, seed=seed, max_tokens=3500),
        )
        assert gen.stop_reason == "stop"
        s = parse_summary(gen.text)
        assert len(s.introduction) <= COMPACT_LIMITS.introduction
        assert all(len(b) <= COMPACT_LIMITS.bullet for sec in s.sections for b in sec.content)


CHAPTER_STARTS = [0, 95, 700, 1450, 2290, 3100, 4020, 5100]


def lecture_info_json(tmp_path: Path) -> Path:
    """A yt-dlp info.json with 8 chapters beside a link to the shared lecture subtitles."""
    (tmp_path / "lecture.en.srt").symlink_to(TALKS / CS50)
    ends = [*CHAPTER_STARTS[1:], 5815]
    info = {
        "id": "abc123",
        "title": "CS50 Lecture 3",
        "extractor": "youtube",
        "webpage_url": "https://www.youtube.com/watch?v=abc123",
        "duration": 5815,
        "chapters": [
            {"start_time": s, "end_time": e, "title": f"Chapter {n}"}
            for n, (s, e) in enumerate(zip(CHAPTER_STARTS, ends, strict=True))
        ],
    }
    path = tmp_path / "lecture.info.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def test_info_json_chapters_set_the_parts(tmp_path: Path) -> None:
    """The whole lecture: 8 chapters merged into 5 parts that begin at chapter starts."""
    require_shared()
    t = load_transcript(lecture_info_json(tmp_path))
    assert [c.start for c in t.chapters] == CHAPTER_STARTS
    parts = split_parts(TextMap(t, lambda texts: [len(x.split()) for x in texts]))
    assert parts[0].start_s == 0.0 and parts[-1].end_s == 5815.0
    assert {p.start_s for p in parts[1:]} <= set(map(float, CHAPTER_STARTS))
    # Merging keeps parts balanced: none over 40% of the video.
    assert max((p.end_s or 0) - (p.start_s or 0) for p in parts) < 0.4 * 5815
    assert parts[0].title is not None and "Chapter 0" in parts[0].title


@pytest.mark.slow
def test_lecture_stretch_with_chapters_through_a_small_context(
    tiny: LlamaRunner, tmp_path: Path
) -> None:
    """10 minutes of the lecture (longer than the context) with 6 chapters: every token
    reaches the model exactly once, in notes passes, and the sections begin at chapters."""
    require_shared()
    full = load_transcript(lecture_info_json(tmp_path))
    segs = tuple(s for s in full.segments if s.end <= 600)
    starts = [0, 95, 210, 330, 450, 520]
    t = replace(
        full,
        text=" ".join(s.text for s in segs),
        segments=segs,
        chapters=tuple(Chapter(float(s), f"Chapter {n}") for n, s in enumerate(starts)),
        meta=replace(full.meta, duration=600.0),
    )
    events: list[Progress] = []
    res = summarize_long(t, tiny, chat_for(tiny), progress=events.append)

    assert res.transcript_tokens > tiny.info.n_ctx
    assert res.mode == "multi-pass"
    check_result(t, res)
    kinds = [p.kind for p in res.passes]
    assert kinds.count("notes") == len(res.chunks) and kinds[-1] == "final"
    assert all(p.prompt_tokens < tiny.info.n_ctx for p in res.passes)
    assert {c.part for c in res.chunks} == {1, 2, 3, 4, 5}
    assert any(e.stage == "notice" for e in events)
    assert any("notes on part 3/5" in str(e.extra.get("label")) for e in events)
    # Every pass says which it is and where it is in the video, with speed and ETA after
    # the first: "pass 3 of 9 · 00:01:40–00:02:35 · 210.4 tok/s · ETA 0:12".
    # One line per attempt, retries included.
    lines = list(dict.fromkeys(e.message for e in events if e.stage == "prompt"))
    n = len(res.passes)
    assert len(lines) == sum(p.attempts for p in res.passes)
    heads = list(dict.fromkeys(line.split(" · ")[0] for line in lines))
    assert heads == [f"pass {k} of {n}" for k in range(1, n + 1)]
    assert re.fullmatch(r"pass 1 of \d+ · 00:0\d:\d\d–00:\d\d:\d\d", lines[0]), lines[0]
    for line in lines[1:]:
        assert re.fullmatch(
            r"pass \d+ of \d+ · \d\d:\d\d:\d\d–\d\d:\d\d:\d\d"
            r"( · attempt \d of \d \(previous answer [a-z ]+\))? · \d+\.\d tok/s"
            r"( · ETA \d+:\d\d)?",  # no ETA while the first pass is still retried
            line,
        ), line
    assert lines[-1].startswith(f"pass {n} of {n} · 00:00:00–00:10:00")  # the final pass
    assert res.generation.generated_tokens == sum(p.generated_tokens for p in res.passes)
    # Six chapters: the two shortest neighbours (450 s, 520 s) share the last section.
    assert [sec.start for sec in res.summary.sections][1:] == [95.0, 210.0, 330.0, 450.0]
    assert res.summary.sections[-1].end == 600.0


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a hang-catcher: the whole lecture, pass by pass, on a busy machine
def test_whole_lecture_with_chapters_reaches_coverage_one(
    tiny: LlamaRunner, tmp_path: Path
) -> None:
    """The whole 97-minute lecture (several times the context) from a yt-dlp info.json with
    8 chapters: every token reaches the model, and the sections begin at chapter starts and
    span the video."""
    require_shared()
    t = load_transcript(lecture_info_json(tmp_path))
    res = summarize_long(t, tiny, chat_for(tiny), max_attempts=1)
    assert res.transcript_tokens > 4 * tiny.info.n_ctx
    assert res.mode == "multi-pass"
    check_result(t, res)
    starts = [sec.start for sec in res.summary.sections]
    assert starts[0] == 0.0 and set(starts[1:]) <= set(map(float, CHAPTER_STARTS))
    assert res.summary.sections[-1].end == 5815.0
    assert all(p.prompt_tokens < tiny.info.n_ctx for p in res.passes)


@pytest.mark.slow
def test_same_video_same_summary_whatever_was_cached(
    tiny: LlamaRunner, tiny_llama_path: Path
) -> None:
    """Every pass hands its instructions to the runner as the shared prefix, so a rerun after
    other work, or on a fresh runner, gives the same notes and summary."""
    require_shared()
    t = short_stretch(300)
    first = summarize_long(t, tiny, chat_for(tiny), max_attempts=1)
    assert first.mode == "multi-pass"
    tiny.generate(
        "<s>" + "unrelated words " * 300, constraint=None, sampling=Sampling(max_tokens=4)
    )
    again = summarize_long(t, tiny, chat_for(tiny), max_attempts=1)
    with LlamaRunner(LoadOptions(model_path=tiny_llama_path, n_ctx=4096, n_threads=2)) as fresh:
        fresh.load()
        other = summarize_long(t, fresh, chat_for(fresh), max_attempts=1)
    for res in (again, other):
        assert res.summary == first.summary
        assert [p.prompt_tokens for p in res.passes] == [p.prompt_tokens for p in first.passes]
    # What makes it so: each later notes pass reuses at most the instructions from the cache
    # (not the title line and "[Part" it shares with the chunk before) and evaluates the rest.
    prefix = len(
        tiny.tokenize(MultiPassJob(t, tiny, chat_for(tiny), Sampling(), None, None, 1).notes_prefix)
    )
    for res in (first, again, other):
        notes = [p for p in res.passes if p.kind == "notes"]
        assert len(notes) > 2
        assert all(0 < p.prompt_tokens - p.prompt_evaluated <= prefix for p in notes[1:])


def test_notes_are_merged_until_they_fit(tiny: LlamaRunner) -> None:
    """Hierarchical reduction: a part's notes are merged (real passes) until all fit."""
    require_shared()
    full = load_transcript(TALKS / CS50)
    segs = tuple(s for s in full.segments if s.end <= 120)
    t = replace(full, text=" ".join(s.text for s in segs), segments=segs)
    job = MultiPassJob(t, tiny, chat_for(tiny), Sampling(), None, None, 1)
    part_notes = []
    for part in job.parts:
        pn = PartNotes(part)
        for k in range(4 if part.index < 2 else 1):
            pn.notes.append(
                parse_notes(
                    f'{{"points":["Point {k} of part {part.index + 1} about searching a list.",'
                    f'"Linear search checks every element, binary search halves the range."],'
                    f'"terms":["search {k}","big O"]}}'
                )
            )
            pn.spans.append((float(k), float(k + 1)))
        pn.rendered_tokens = job.count([n.render() for n in pn.notes])
        part_notes.append(pn)
    total = sum(pn.tokens for pn in part_notes)
    one = part_notes[0].rendered_tokens[0]
    room = total - 4 * one  # two parts must lose about two notes each
    job.shrink(part_notes, room)
    assert sum(pn.tokens for pn in part_notes) <= room
    assert [len(pn.notes) < 4 for pn in part_notes[:2]] == [True, True]
    assert [len(pn.notes) for pn in part_notes[2:]] == [1, 1, 1]
    for pn in part_notes[:2]:  # merged notes cover their stretches in order
        assert pn.spans[0][0] == 0.0 and pn.spans[-1][1] == 4.0
    assert [p.kind for p in job.passes].count("merge") >= 2
    # Below one notes per part there is nothing left to merge: an error, never a cut.
    with pytest.raises(GenerationError, match="use a larger context"):
        job.shrink(part_notes, 10)


def test_one_long_note_per_part_is_condensed_to_fit(tiny: LlamaRunner) -> None:
    """When every part has one set of notes and they still do not fit (a tiny context and
    long notes), the longest are rewritten with the short-notes grammar: real passes, never a
    cut."""
    require_shared()
    t = short_stretch(120)
    job = MultiPassJob(t, tiny, chat_for(tiny), Sampling(), None, None, 1)
    long_point = "Binary search halves the range each step, so it needs a sorted list " * 2
    note = parse_notes(
        json.dumps(
            {"points": [long_point[:120]] * 3, "terms": ["binary search", "sorted list", "big O"]}
        )
    )
    part_notes = []
    for part in job.parts:
        pn = PartNotes(part, [note], [(part.start_s, part.end_s)])
        pn.rendered_tokens = job.count([note.render()])
        part_notes.append(pn)
    room = sum(pn.tokens for pn in part_notes) // 2
    job.shrink(part_notes, room)
    assert sum(pn.tokens for pn in part_notes) <= room
    condensed = [pn for pn in part_notes if pn.condensed]
    assert condensed and all(p.kind == "merge" for p in job.passes)
    assert len(job.passes) == len(condensed)
    for pn in condensed:
        (n,) = pn.notes
        assert len(n.points) <= notes_mod.SHORT_POINTS
        assert all(len(x) <= notes_mod.SHORT_POINT for x in n.points)


def short_stretch(seconds: float) -> Transcript:
    full = load_transcript(TALKS / CS50)
    segs = tuple(s for s in full.segments if s.end <= seconds)
    return replace(
        full,
        text=" ".join(s.text for s in segs),
        segments=segs,
        meta=replace(full.meta, duration=None),
    )


def test_one_pass_prompt_has_part_markers_and_examples(tiny: LlamaRunner) -> None:
    """What one pass sends: the instructions, two examples marked [Part N], then the
    transcript in five marked parts with their time ranges."""
    require_shared()
    t = short_stretch(150)
    job = MultiPassJob(t, tiny, chat_for(tiny), Sampling(), None, None, 1)
    marked = job.marked_text()
    assert marked.startswith("[Part 1 · 00:00:00–")
    assert [marked.count(f"[Part {n} · ") for n in range(1, 6)] == [1] * 5
    prompt = build_summary_prompt(marked, job.chat, n_examples=2)
    assert prompt.text.startswith(prompt.shared_prefix)
    assert "section N covers part N" in prompt.shared_prefix
    assert prompt.shared_prefix.count("[Part 3]") == 2  # both examples mark their parts
    for part in job.part_texts:
        assert part in prompt.text


def test_short_transcript_is_one_pass(tiny: LlamaRunner) -> None:
    """A minute fits a 4k context in one pass; only the compact grammar leaves room for
    the answer there (the full one needs ~5.7k of this tokenizer's tokens)."""
    require_shared()
    t = short_stretch(60)
    res = summarize_long(t, tiny, chat_for(tiny), max_attempts=1)
    assert res.mode == "one-pass" and res.config == Config(0, "compact")
    assert len(res.passes) == 1 and len(res.chunks) == 5  # the five parts, one prompt
    check_result(t, res)
    assert res.summary.sections[-1].end == pytest.approx(t.segments[-1].end)
    assert [f.split(":")[0] for f in res.all_flags()][-2:] == ["no_few_shot", "compact_grammar"]


def test_context_too_small_is_an_error_not_a_cut(tiny_llama_path: Path) -> None:
    require_shared()
    full = load_transcript(TALKS / CS50)
    with LlamaRunner(LoadOptions(model_path=tiny_llama_path, n_ctx=1024, n_threads=2)) as r:
        r.load()
        with pytest.raises(GenerationError, match="1024-token context"):
            summarize_long(full, r, chat_for(r))


# --- Gemma 3 270M, a real model, at a 2k context --------------------------------------------------


@pytest.mark.slow
def test_gemma_long_lecture_stretch_at_2k(gemma_path: Path) -> None:
    """25 minutes of the lecture (~6.5k tokens, 3x the context) on the real model."""
    require_shared()
    full = load_transcript(TALKS / CS50)
    seconds = float(os.environ.get("VIDSUM_TEST_SECONDS", 600))
    segs = tuple(s for s in full.segments if s.end <= seconds)
    t = replace(
        full,
        text=" ".join(s.text for s in segs),
        segments=segs,
        meta=replace(full.meta, duration=None),
    )
    with LlamaRunner(LoadOptions(model_path=gemma_path, n_ctx=2048)) as r:
        r.load()
        tm = TextMap(t, r.count_tokens)
        assert tm.total_tokens > r.info.n_ctx
        # The pipeline's own retries: a degenerate answer can outgrow the 2k context.
        res = summarize_long(t, r, chat_for(r), sampling=Sampling(seed=1))
    assert res.mode == "multi-pass" and res.config == Config(0, "compact")
    check_result(t, res)
    assert res.summary.sections[-1].end == pytest.approx(segs[-1].end)
    assert [p.end_s for p in split_parts(tm)] == [s.end for s in res.summary.sections]
