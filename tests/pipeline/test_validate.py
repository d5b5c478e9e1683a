"""parse_summary: valid text -> Summary; every broken rule -> GenerationError naming it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from engine.errors import GenerationError, VidsumError
from engine.pipeline.checks.validate import parse_summary
from engine.schema import Summary

Doc = dict[str, Any]


def valid_doc() -> Doc:
    return {
        "introduction": "A talk about hash tables and how they handle collisions.",
        "sections": [
            {
                "title": f"Section {i}: Part {i}",
                "content": ["First point.", "Second point.", "Third point.", "Fourth point."],
                "topics": ["Hashing", "Buckets", "Load Factor"],
            }
            for i in range(1, 6)
        ],
        "topics": ["Hash Tables", "Collisions", "Chaining", "Open Addressing", "Resizing"],
        "general_topics": [
            {"topic": "Algorithms and Data Structures", "complexity": 0.35},
            {"topic": "Software Engineering and System Design", "complexity": 0.2},
            {"topic": "Computer Architecture", "complexity": 1},
        ],
    }


def test_valid_document_parses() -> None:
    summary = parse_summary(json.dumps(valid_doc()))
    assert isinstance(summary, Summary)
    assert summary.sections[4].title == "Section 5: Part 5"
    assert summary.general_topics[2].complexity == 1.0


def test_generated_json_round_trips_with_two_decimals() -> None:
    summary = parse_summary(json.dumps(valid_doc()))
    text = summary.generated_json()
    assert '"complexity":0.20' in text and '"complexity":1.00' in text
    assert text.startswith('{"introduction":"A talk') and '"sections":[{"title":' in text
    assert json.loads(text) == json.loads(
        summary.model_dump_json(
            exclude={"sections": {"__all__": {"start", "end", "content_times"}}}
        )
    )
    assert parse_summary(text) == summary


def _mutate(fn: Callable[[Doc], object]) -> str:
    doc = copy.deepcopy(valid_doc())
    fn(doc)
    return json.dumps(doc)


BROKEN: list[tuple[str, Callable[[Doc], object], str]] = [
    ("four sections", lambda d: d["sections"].pop(), "sections: list should have at least 5"),
    ("six topics", lambda d: d["topics"].append("Extra"), "topics: list should have at most 5"),
    (
        "title without prefix",
        lambda d: d["sections"][1].update(title="Part two"),
        "sections[1].title: title must start with 'Section N: '",
    ),
    (
        "sections out of order",
        lambda d: d["sections"].reverse(),
        "section 1 title must start with 'Section 1: '",
    ),
    (
        "field not in the 12",
        lambda d: d["general_topics"][0].update(topic="Cooking"),
        "general_topics[0].topic: 'Cooking' is not one of the 12 general fields",
    ),
    (
        "duplicate general topic",
        lambda d: d["general_topics"][1].update(topic="Algorithms and Data Structures"),
        "general topics must be distinct",
    ),
    (
        "complexity as string",
        lambda d: d["general_topics"][0].update(complexity="0.45"),
        "general_topics[0].complexity: input should be a valid number",
    ),
    (
        "complexity above 1",
        lambda d: d["general_topics"][0].update(complexity=1.5),
        "general_topics[0].complexity: input should be less than or equal to 1",
    ),
    (
        "three decimals",
        lambda d: d["general_topics"][0].update(complexity=0.125),
        "at most two decimals",
    ),
    (
        "three-word topic",
        lambda d: d["topics"].__setitem__(0, "Open Hash Tables"),
        "must be one or two words",
    ),
    (
        "control character",
        lambda d: d.update(introduction="line one\nline two"),
        "introduction: contains a control character",
    ),
    (
        "trailing space",
        lambda d: d["sections"][0]["content"].__setitem__(0, "Point. "),
        "sections[0].content: has leading or trailing whitespace",
    ),
    (
        "over-long bullet",
        lambda d: d["sections"][0]["content"].__setitem__(0, "x" * 321),
        "sections[0].content[0]: string should have at most 320 characters",
    ),
    ("missing key", lambda d: d.pop("introduction"), "introduction: missing"),
    ("extra key", lambda d: d.update(summary="x"), "summary: not a field of the summary"),
]


@pytest.mark.parametrize(("case", "mutate", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_rule_names_field_and_rule(
    case: str, mutate: Callable[[Doc], object], reason: str
) -> None:
    with pytest.raises(GenerationError) as info:
        parse_summary(_mutate(mutate))
    message = str(info.value)
    assert message.startswith("The model's answer is not a valid summary: ")
    assert reason in message, message
    assert message.endswith(".")
    assert "\n" not in message and len(message) < 300


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the answer is empty"),
        ("   \n", "the answer is empty"),
        ('{"introduction": "x"', "not valid JSON (Expecting ',' delimiter at line 1, column 21)"),
        ("[1, 2]", "it is a JSON list, not an object"),
        ('{"introduction": "a", "introduction": "b"}', "the key 'introduction' appears twice"),
        ('{"introduction": NaN}', "introduction"),
    ],
)
def test_not_a_summary_at_all(text: str, reason: str) -> None:
    with pytest.raises(GenerationError) as info:
        parse_summary(text)
    assert reason in str(info.value)


def test_generation_error_is_a_vidsum_error() -> None:
    with pytest.raises(VidsumError):
        parse_summary("not json")
