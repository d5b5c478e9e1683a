"""Degenerate-output checks on real summaries (the few-shot answers) and spoiled copies."""

from __future__ import annotations

import json
import re
from typing import Any

from engine.pipeline.checks.quality import Flag, badness, check_notes, check_summary
from engine.pipeline.checks.validate import parse_summary
from engine.pipeline.prompts.instructions import notes_instructions
from engine.pipeline.prompts.notes import parse_notes
from engine.pipeline.prompts.prompting import load_examples
from engine.schema import Summary


def example(n: int) -> tuple[Summary, str, str]:
    """(summary, its JSON answer, its transcript) of few-shot example ``n``."""
    ex = load_examples()[n]
    return parse_summary(ex.answer), ex.answer, ex.transcript


def edited(s: Summary, edit: Any) -> Summary:
    data = s.model_dump()
    edit(data)
    return Summary.model_validate(data)


def codes(flags: list[Flag]) -> list[str]:
    return [f.code for f in flags]


def part_texts(transcript: str) -> list[str]:
    """The example transcript's five parts (it marks them ``[Part N]``, as the prompt does)."""
    parts = re.split(r"\[Part [1-5]\]\n", transcript)
    assert parts[0] == "" and len(parts) == 6
    return parts[1:]


def test_clean_summaries_are_not_flagged() -> None:
    for n in range(3):
        s, _, transcript = example(n)
        others = [example(m)[1] for m in range(3) if m != n]
        assert (
            check_summary(s, examples=others, transcript=transcript, parts=part_texts(transcript))
            == []
        )


def test_copy_of_an_example_is_flagged() -> None:
    s, _, transcript = example(1)
    _, answer0, _ = example(0)
    copied = json.loads(answer0)["sections"][3]["content"][2]  # a long sentence of example 0

    def put(d: dict[str, Any]) -> None:
        d["sections"][2]["content"][1] = copied

    flags = check_summary(edited(s, put), examples=[answer0], transcript=transcript)
    assert codes(flags) == ["copied_example"]
    assert "few-shot" in str(flags[0])
    # The same words are no copy when the transcript itself says them.
    assert check_summary(edited(s, put), examples=[answer0], transcript=transcript + copied) == []


def test_whole_example_answer_is_flagged() -> None:
    s0, answer0, _ = example(0)
    _, _, transcript1 = example(1)
    assert "copied_example" in codes(check_summary(s0, examples=[answer0], transcript=transcript1))


def test_repeated_bullet_is_flagged() -> None:
    s, _, _ = example(2)

    def dup(d: dict[str, Any]) -> None:
        d["sections"][4]["content"][0] = d["sections"][1]["content"][2]

    assert codes(check_summary(edited(s, dup))) == ["repeated_bullets"]


def test_repeated_section_is_flagged() -> None:
    s, _, _ = example(2)

    def dup(d: dict[str, Any]) -> None:
        d["sections"][3]["content"] = list(d["sections"][1]["content"])
        d["sections"][3]["topics"] = list(d["sections"][1]["topics"])

    assert codes(check_summary(edited(s, dup))) == ["repeated_sections", "repeated_bullets"]


def test_loop_is_flagged() -> None:
    s, _, _ = example(0)

    def loop(d: dict[str, Any]) -> None:
        d["introduction"] = "The tree is split and the tree is split and the tree is split again."

    assert codes(check_summary(edited(s, loop))) == ["looping"]


def test_sections_out_of_order_are_flagged() -> None:
    s, _, transcript = example(0)
    parts = part_texts(transcript)
    assert check_summary(s, parts=parts) == []

    def swap(d: dict[str, Any]) -> None:
        a, b = d["sections"][1], d["sections"][3]
        d["sections"][1] = {**b, "title": "Section 2: " + b["title"].split(": ", 1)[1]}
        d["sections"][3] = {**a, "title": "Section 4: " + a["title"].split(": ", 1)[1]}

    flags = check_summary(edited(s, swap), parts=parts)
    assert codes(flags) == ["sections_out_of_order"]
    assert "section 2" in flags[0].detail and "part 4" in flags[0].detail


def test_badness_orders_attempts() -> None:
    copy = [Flag("copied_example", "x")]
    dup = [Flag("repeated_bullets", "x")]
    assert badness([]) < badness(dup) < badness(copy) < badness(copy + dup)


def test_notes_checks() -> None:
    text = "Merge sort splits the list in halves, sorts each half and merges them in n log n."
    good = parse_notes(
        '{"points":["Merge sort splits, sorts halves and merges in n log n."],'
        '"terms":["merge sort"]}'
    )
    assert check_notes(good, instructions=notes_instructions(), source=text) == []
    parroted = parse_notes(
        '{"points":["Merge sort splits the list.","Merge sort splits the list!"],'
        '"terms":["1 to 3 key technical terms"]}'
    )
    flags = check_notes(parroted, instructions=notes_instructions(), source=text)
    assert codes(flags) == ["copied_instructions", "repeated_bullets"]
    placeholders = parse_notes('{"points":["1","2","A B"],"terms":["1"]}')
    flags = check_notes(placeholders, instructions=notes_instructions(), source=text)
    assert codes(flags) == ["empty_content"]


def test_placeholder_bullets_are_flagged() -> None:
    s, _, _ = example(1)

    def blank(d: dict[str, Any]) -> None:
        d["sections"][2]["content"] = [",", "1", "-", "A"]

    flags = check_summary(edited(s, blank))
    assert "empty_content" in codes(flags)
    assert "4 of 21" in next(f.detail for f in flags if f.code == "empty_content")


def test_summary_copying_instructions_is_flagged() -> None:
    s, _, transcript = example(0)

    def parrot(d: dict[str, Any]) -> None:
        d["sections"][0]["content"][0] = "It has exactly four sentences on what the part covers."

    spoiled = edited(s, parrot)
    same_words = "exactly four sentences on what the part covers"
    assert codes(check_summary(spoiled, instructions=same_words, transcript=transcript)) == [
        "copied_instructions"
    ]
    # Shorter shared runs are no copy, and neither is what the transcript itself says.
    other = "exactly 4 sentences about what each part covers"
    assert check_summary(spoiled, instructions=other, transcript=transcript) == []
    said = transcript + " It has exactly four sentences on what the part covers."
    assert check_summary(spoiled, instructions=same_words, transcript=said) == []
