"""Notes: what the model writes about one chunk of a long transcript (multi-pass summaries).

A small, bounded schema (a few points and key terms) so a chunk's notes stay far smaller than
the chunk, and notes of a whole part fit in the final prompt. Its grammar is built with
``engine.pipeline.prompts.grammar``'s building blocks, like the summary's.

Also the *compact* summary grammar: the summary schema with tighter string limits, for
contexts too small to hold a full-size answer next to the notes (e.g. 2k tokens).

``python -m engine.pipeline.prompts.notes`` writes ``grammars/notes.gbnf`` and
``grammars/summary-compact.gbnf``; ``--check`` exits 1 when either is out of date (a test runs the
same check). Backends get each grammar as a ``Constraint`` (``notes_constraint()`` ...) with no JSON
schema: an endpoint that takes only a schema is asked for any JSON object, and the answer is
validated here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from engine import schema
from engine.errors import GenerationError
from engine.fsutil import atomic_write_text
from engine.pipeline.prompts.grammar import (
    GRAMMAR_PACKAGE,
    GbnfBuilder,
    build_summary_grammar,
)
from engine.runtime.base import Constraint

NOTES_FILE = "notes.gbnf"
COMPACT_FILE = "summary-compact.gbnf"

# Small on purpose: the notes of all five parts must fit a 2k context beside the answer.
MIN_POINTS = 1
MAX_POINTS = 3
MAX_POINT = 120
MIN_TERMS = 1
MAX_TERMS = 3
MAX_TERM = 28


@dataclass(frozen=True)
class SummaryLimits:
    """String limits of a summary grammar (characters)."""

    introduction: int = schema.MAX_INTRODUCTION
    title: int = schema.MAX_TITLE
    bullet: int = schema.MAX_BULLET
    section_topic: int = schema.MAX_SECTION_TOPIC
    topic: int = schema.MAX_TOPIC

    def max_json_chars(self) -> int:
        """Length of the longest JSON the grammar allows (every string at its limit)."""
        general = max(len(json.dumps(f)) for f in schema.GENERAL_FIELDS) + len(
            '{"topic":,"complexity":0.00}'
        )
        section = (
            len('{"title":"","content":[],"topics":[]}')
            + self.title
            + schema.N_SECTION_BULLETS * (self.bullet + 3)
            + schema.N_SECTION_TOPICS * (self.section_topic + 3)
        )
        return (
            len('{"introduction":"","sections":[],"topics":[],"general_topics":[]}')
            + self.introduction
            + schema.N_SECTIONS * (section + 1)
            + schema.N_TOPICS * (self.topic + 3)
            + schema.N_GENERAL_TOPICS * (general + 1)
        )


FULL_LIMITS = SummaryLimits()
# Small enough that answer + instructions + five parts' notes fit a 2k context; still well
# inside the schema's limits, so a compact summary is an ordinary Summary.
COMPACT_LIMITS = SummaryLimits(introduction=200, title=48, bullet=72, section_topic=24, topic=20)

Point = Annotated[str, StringConstraints(max_length=MAX_POINT)]
Term = Annotated[str, StringConstraints(max_length=MAX_TERM)]


class Notes(BaseModel):
    """Notes on one chunk (or a merge of several chunks' notes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: list[Point] = Field(min_length=MIN_POINTS, max_length=MAX_POINTS)
    terms: list[Term] = Field(min_length=MIN_TERMS, max_length=MAX_TERMS)

    @field_validator("points", "terms")
    @classmethod
    def _clean(cls, v: list[str]) -> list[str]:
        for item in v:
            schema._clean(item)
        return v

    def render(self) -> str:
        """How notes are shown to the model in later passes (shorter than their JSON)."""
        lines = [f"- {p}" for p in self.points]
        lines.append("Key terms: " + "; ".join(self.terms))
        return "\n".join(lines)


def notes_max_json_chars() -> int:
    """Length of the longest notes JSON the grammar allows."""
    return (
        len('{"points":[],"terms":[]}') + MAX_POINTS * (MAX_POINT + 3) + MAX_TERMS * (MAX_TERM + 3)
    )


def rendered_notes_max_chars() -> int:
    """Length of the longest ``Notes.render()``."""
    return MAX_POINTS * (MAX_POINT + 3) + len("Key terms: ") + MAX_TERMS * (MAX_TERM + 2)


def parse_notes(text: str) -> Notes:
    try:
        return Notes.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "notes"
        raise GenerationError(
            f"The model's notes are not valid: {where}: {first['msg']}."
        ) from None


# --- grammars -----------------------------------------------------------------------------------


def build_notes_grammar(
    max_points: int = MAX_POINTS,
    max_point: int = MAX_POINT,
    max_terms: int = MAX_TERMS,
    max_term: int = MAX_TERM,
) -> str:
    b = GbnfBuilder()
    b.rule("root", "notes")
    point = b.string("point", max_point)
    term = b.string("term", max_term)
    points = b.rule("points", f'"[" {point} ("," {point}){{{MIN_POINTS - 1},{max_points - 1}}} "]"')
    terms = b.rule("terms", f'"[" {term} ("," {term}){{{MIN_TERMS - 1},{max_terms - 1}}} "]"')
    b.rule("notes", b.obj([("points", points), ("terms", terms)]))
    return b.render(
        [
            "Generated by `python -m engine.pipeline.prompts.notes`",
            "from engine/pipeline/prompts/notes.py.",
            "Do not edit. Compact JSON for engine.pipeline.prompts.notes.Notes (notes on one chunk",
            "of a long transcript).",
        ]
    )


def build_compact_grammar() -> str:
    lim = COMPACT_LIMITS
    return build_summary_grammar(
        max_introduction=lim.introduction,
        max_title=lim.title,
        max_bullet=lim.bullet,
        max_section_topic=lim.section_topic,
        max_topic=lim.topic,
        header=[
            "Generated by `python -m engine.pipeline.prompts.notes` from engine/schema.py and "
            "engine/pipeline/prompts/notes.py. Do not edit.",
            "The summary grammar with the tighter string limits of notes.COMPACT_LIMITS.",
        ],
    )


_BUILDERS = {NOTES_FILE: build_notes_grammar, COMPACT_FILE: build_compact_grammar}


def grammar_path(name: str) -> Path:
    return Path(str(resources.files(GRAMMAR_PACKAGE).joinpath(name)))


@cache
def _committed(name: str) -> str:
    return resources.files(GRAMMAR_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def notes_gbnf() -> str:
    return _committed(NOTES_FILE)


def compact_gbnf() -> str:
    return _committed(COMPACT_FILE)


# Condensed notes: what one part's notes are rewritten to when even one set of notes per part
# does not fit the final prompt (a tiny context). Built from the same code, not committed.
SHORT_POINTS, SHORT_POINT, SHORT_TERMS = 2, 80, 2


@cache
def short_notes_gbnf() -> str:
    return build_notes_grammar(SHORT_POINTS, SHORT_POINT, SHORT_TERMS, MAX_TERM)


@cache
def notes_constraint() -> Constraint:
    return Constraint("notes", notes_gbnf())


@cache
def compact_constraint() -> Constraint:
    return Constraint("summary-compact", compact_gbnf())


@cache
def short_notes_constraint() -> Constraint:
    return Constraint("short-notes", short_notes_gbnf())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.pipeline.prompts.notes",
        description="Generate grammars/notes.gbnf and grammars/summary-compact.gbnf.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale")
    args = parser.parse_args(argv)
    stale = 0
    for name, build in _BUILDERS.items():
        path = grammar_path(name)
        text = build()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            print(f"{path} is up to date.")
        elif args.check:
            print(
                f"{path} is out of date; run `python -m engine.pipeline.prompts.notes`.",
                file=sys.stderr,
            )
            stale += 1
        else:
            atomic_write_text(path, text)
            print(f"Wrote {path}.")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
