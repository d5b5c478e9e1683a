"""The summary schema: the single source of truth.

The GBNF grammar (``grammars/summary.gbnf``), the prompt's description of the format, the
library's columns and the exports are all derived from or tested against these models.
The model generates ``Summary`` without section times; the engine adds ``start``/``end`` from
the transcript's timings afterwards (and, in quote mode, ``content_times``: each bullet's
start time).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

# The 12 general fields, verbatim from the seed run's instructions (a fact, reused as-is).
GENERAL_FIELDS: tuple[str, ...] = (
    "Algorithms and Data Structures",
    "Artificial Intelligence (AI) and Machine Learning",
    "Computer Architecture",
    "Data Science and Analytics",
    "Database Systems and Management",
    "Human-Computer Interaction (HCI)",
    "Programming Languages and Software Development",
    "Software Engineering and System Design",
    "Web Development and Internet Technologies",
    "Computer Graphics and Visualization",
    "Theoretical Computer Science",
    "Quantum Computing",
)

GeneralField = Literal[
    "Algorithms and Data Structures",
    "Artificial Intelligence (AI) and Machine Learning",
    "Computer Architecture",
    "Data Science and Analytics",
    "Database Systems and Management",
    "Human-Computer Interaction (HCI)",
    "Programming Languages and Software Development",
    "Software Engineering and System Design",
    "Web Development and Internet Technologies",
    "Computer Graphics and Visualization",
    "Theoretical Computer Science",
    "Quantum Computing",
]
assert get_args(GeneralField) == GENERAL_FIELDS

# The complexity scale (a fact from the seed run's instructions).
COMPLEXITY_SCALE: tuple[tuple[float, float, str], ...] = (
    (0.00, 0.09, "Elementary"),
    (0.10, 0.19, "Middle School"),
    (0.20, 0.29, "High School"),
    (0.30, 0.39, "Advanced High School"),
    (0.40, 0.49, "Introductory College"),
    (0.50, 0.59, "Average College Lecture"),
    (0.60, 0.69, "Advanced College"),
    (0.70, 0.79, "Graduate Level"),
    (0.80, 0.89, "Advanced Graduate Level"),
    (0.90, 1.00, "PhD Level Lecture"),
)

N_SECTIONS = 5
N_SECTION_BULLETS = 4
N_SECTION_TOPICS = 3
N_TOPICS = 5
N_GENERAL_TOPICS = 3

# Maximum lengths in characters of the decoded string (the grammar bounds the JSON source,
# which is never shorter). Bounds keep generation finite and the UI tidy.
MAX_INTRODUCTION = 1200
MAX_TITLE = 120
MAX_BULLET = 320
MAX_SECTION_TOPIC = 60
MAX_TOPIC = 40

TITLE_RE = re.compile(r"^Section ([1-5]): \S")
# No control characters (C0, DEL, C1) in any string.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(value: str) -> str:
    if CONTROL_RE.search(value):
        raise ValueError("contains a control character")
    if not value.strip():
        raise ValueError("is empty")
    if value != value.strip():
        raise ValueError("has leading or trailing whitespace")
    return value


Intro = Annotated[str, StringConstraints(max_length=MAX_INTRODUCTION)]
Title = Annotated[str, StringConstraints(max_length=MAX_TITLE)]
Bullet = Annotated[str, StringConstraints(max_length=MAX_BULLET)]
SectionTopic = Annotated[str, StringConstraints(max_length=MAX_SECTION_TOPIC)]
Topic = Annotated[str, StringConstraints(max_length=MAX_TOPIC)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeneralTopic(_Strict):
    topic: GeneralField
    complexity: float = Field(ge=0.0, le=1.0)

    @field_validator("complexity")
    @classmethod
    def _two_decimals(cls, v: float) -> float:
        if abs(round(v, 2) - v) > 1e-9:
            raise ValueError("complexity must have at most two decimals")
        return round(v, 2)

    @property
    def level(self) -> str:
        for lo, hi, name in COMPLEXITY_SCALE:
            if lo <= self.complexity <= hi + 0.0099:
                return name
        return COMPLEXITY_SCALE[-1][2]


class Section(_Strict):
    title: Title
    content: list[Bullet] = Field(min_length=N_SECTION_BULLETS, max_length=N_SECTION_BULLETS)
    topics: list[SectionTopic] = Field(min_length=N_SECTION_TOPICS, max_length=N_SECTION_TOPICS)
    # Seconds into the video this section covers; set by the engine when timings exist.
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, ge=0)
    # Quote mode: the start time (seconds) of each bullet's quote; never generated.
    content_times: list[Annotated[float, Field(ge=0)]] | None = Field(
        default=None, min_length=N_SECTION_BULLETS, max_length=N_SECTION_BULLETS
    )

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        _clean(v)
        if not TITLE_RE.match(v):
            raise ValueError("title must start with 'Section N: ' followed by text")
        return v

    @field_validator("content", "topics")
    @classmethod
    def _items(cls, v: list[str]) -> list[str]:
        for item in v:
            _clean(item)
        return v

    @model_validator(mode="after")
    def _range(self) -> Section:
        if (self.start is None) != (self.end is None):
            raise ValueError("start and end must both be set or both be absent")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("section ends before it starts")
        if self.content_times is not None and self.start is None:
            raise ValueError("bullet times need the section's time range")
        return self


class Summary(_Strict):
    introduction: Intro
    sections: list[Section] = Field(min_length=N_SECTIONS, max_length=N_SECTIONS)
    topics: list[Topic] = Field(min_length=N_TOPICS, max_length=N_TOPICS)
    general_topics: list[GeneralTopic] = Field(
        min_length=N_GENERAL_TOPICS, max_length=N_GENERAL_TOPICS
    )

    @field_validator("introduction")
    @classmethod
    def _intro(cls, v: str) -> str:
        return _clean(v)

    @field_validator("topics")
    @classmethod
    def _topics(cls, v: list[str]) -> list[str]:
        for t in v:
            _clean(t)
            if len(t.split()) > 2:
                raise ValueError(f"topic {t!r} must be one or two words")
        return v

    @model_validator(mode="after")
    def _order_and_distinct(self) -> Summary:
        for i, s in enumerate(self.sections, start=1):
            if not s.title.startswith(f"Section {i}: "):
                raise ValueError(f"section {i} title must start with 'Section {i}: '")
        names = [g.topic for g in self.general_topics]
        if len(set(names)) != len(names):
            raise ValueError("general topics must be distinct")
        timed = [s for s in self.sections if s.start is not None]
        if timed and len(timed) != len(self.sections):
            raise ValueError("either every section has a time range or none has")
        for a, b in itertools.pairwise(timed):
            assert a.start is not None and b.start is not None
            if b.start < a.start:
                raise ValueError("section time ranges are out of order")
        return self

    def generated_json(self) -> str:
        """The compact JSON the model writes (no section times), complexity as ``0.dd``.

        pydantic writes 0.5 as ``0.5``; the grammar asks for two decimals, so the general
        topics are written here.
        """
        head = self.model_dump_json(
            exclude={
                "sections": {"__all__": {"start", "end", "content_times"}},
                "general_topics": True,
            }
        )
        general = ",".join(
            f'{{"topic":{json.dumps(g.topic)},"complexity":{g.complexity:.2f}}}'
            for g in self.general_topics
        )
        return f'{head[:-1]},"general_topics":[{general}]}}'


# A measure of a summary against its own transcript (engine.pipeline.checks.grounding), stored
# by the library: a value both share, so it sits on the ground floor.
@dataclass(frozen=True)
class Grounding:
    grounded: float  # share of the summary's content words found in the transcript
    leaked: float  # share found in a few-shot answer but not in the transcript
    words: int  # content words counted (0: nothing to measure; both shares are then 0)

    def as_dict(self) -> dict[str, float | int]:
        return {"grounded": self.grounded, "leaked": self.leaked, "words": self.words}

    def __str__(self) -> str:
        return f"grounded {self.grounded:.2f}, leaked {self.leaked:.2f} ({self.words} words)"
