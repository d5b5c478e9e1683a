"""Every instruction a model is given, and the fixed phrases of the prompts around it.

One place for the words vidsum says to a model, so the prompts of the three ways to summarize
(one pass, notes then a summary, quotes) can be read side by side:

- the one-pass summary's system text (``prompts/instructions.txt``, filled from the schema);
- the notes, and the summary written from notes, of a long transcript
  (``prompts/notes_instructions.txt`` and ``prompts/final_instructions.txt``);
- quote mode's two instructions (inline: they are part of ``QUOTES_GRAMMAR_VERSION``).

The texts are dedupe keys of users' libraries (``prompting.PROMPT_VERSION`` hashes the prompt
files, ``quotes.QUOTES_GRAMMAR_VERSION`` the quote instructions): change a word here and every
stored summary is summarized again. Imports only ``engine.schema`` and the notes' limits.
"""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

from engine import schema
from engine.pipeline.prompts.notes import (
    MAX_POINT,
    MAX_POINTS,
    MAX_TERM,
    MAX_TERMS,
    MIN_POINTS,
    MIN_TERMS,
    SummaryLimits,
)

PROMPTS_PACKAGE = "prompts"


@cache
def _template(name: str) -> string.Template:
    text = resources.files(PROMPTS_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return string.Template(text)


# --- one-pass summary -----------------------------------------------------------------------------


def summary_format_description() -> str:
    """The output format in words for the one-pass summary's instructions, built from the
    schema's constants so it cannot drift."""
    s = schema
    first, last = 1, s.N_SECTIONS
    return "\n".join(
        [
            f'- "introduction": a synopsis of the whole video in a few sentences '
            f"(at most {s.MAX_INTRODUCTION} characters).",
            f'- "sections": exactly {s.N_SECTIONS} parts of the video, in the order they '
            f'happen. Each is an object with "title" (starting with "Section {first}: " for the '
            f'first part up to "Section {last}: " for the last, then a short descriptive name), '
            f'"content" (exactly {s.N_SECTION_BULLETS} sentences on what the part covers) and '
            f'"topics" (the {s.N_SECTION_TOPICS} most important topics of the part).',
            f'- "topics": exactly {s.N_TOPICS} topics of the whole video, one or two words each.',
            f'- "general_topics": exactly {s.N_GENERAL_TOPICS} different fields from the list '
            f'below, each as {{"topic": field, "complexity": score}}, the score from 0.00 to '
            f"1.00 with exactly two decimals.",
        ]
    )


def _scale() -> str:
    return "\n".join(f"- {lo:.2f}-{hi:.2f}: {name}" for lo, hi, name in schema.COMPLEXITY_SCALE)


def _fields() -> str:
    return "\n".join(f"- {f}" for f in schema.GENERAL_FIELDS)


@cache
def instructions() -> str:
    """The one-pass summary's system text."""
    text = _template("instructions.txt").substitute(
        format=summary_format_description(), fields=_fields(), scale=_scale()
    )
    return text.strip()


# --- long transcripts: notes, then the summary from the notes ------------------------------------


def notes_instructions() -> str:
    """The system text of every notes, merge and condense pass."""
    return (
        _template("notes_instructions.txt")
        .substitute(
            min_points=MIN_POINTS,
            max_points=MAX_POINTS,
            max_point=MAX_POINT,
            min_terms=MIN_TERMS,
            max_terms=MAX_TERMS,
            max_term=MAX_TERM,
        )
        .strip()
    )


def notes_summary_format_description(limits: SummaryLimits) -> str:
    """The output format in words for the summary written from notes (terse: it shares a small
    context with the notes), with the string limits of the grammar in use."""
    s = schema
    return "\n".join(
        [
            f'- "introduction": synopsis of the whole video, at most {limits.introduction} chars.',
            f'- "sections": {s.N_SECTIONS} objects, one per part: "title" ("Section N: " + a '
            f'name, at most {limits.title} chars), "content" ({s.N_SECTION_BULLETS} sentences, '
            f'at most {limits.bullet} chars each), "topics" ({s.N_SECTION_TOPICS} key topics).',
            f'- "topics": {s.N_TOPICS} topics of the whole video, one or two words each.',
            f'- "general_topics": {s.N_GENERAL_TOPICS} different fields from the list below, each '
            '{"topic": field, "complexity": 0.00 to 1.00}.',
        ]
    )


def _short_scale() -> str:
    """The complexity scale on one line: every other level and the top, enough to anchor the
    numbers."""
    levels = [*schema.COMPLEXITY_SCALE[:-1:2], schema.COMPLEXITY_SCALE[-1]]
    return ", ".join(f"{lo:.2f} {name.lower()}" for lo, _, name in levels)


def notes_summary_instructions(limits: SummaryLimits, *, full_scale: bool, examples: int) -> str:
    """The system text of the pass that writes the summary from the five parts' notes.

    ``full_scale``: the complexity scale one level a line (else on one line, for the compact
    grammar's small contexts); ``examples``: how many example conversations follow it.
    """
    scale = (
        "\n" + "\n".join(f"- {lo:.2f}-{hi:.2f}: {name}" for lo, hi, name in schema.COMPLEXITY_SCALE)
        if full_scale
        else _short_scale() + "."
    )
    note = (
        " The example conversations before it show shorter videos, given as transcripts split "
        "the same way, with their summaries."
        if examples
        else ""
    )
    return (
        _template("final_instructions.txt")
        .substitute(
            format=notes_summary_format_description(limits),
            fields="\n".join(f"- {f}" for f in schema.GENERAL_FIELDS),
            scale=scale,
            examples_note=note,
        )
        .strip()
    )


# Fixed phrases of the long-form prompts' user turns (the markers are built in longform_prompts).
EMPTY_PART = "(nothing is said in this part)"
NOTES_BY_PART_HEADING = "Notes, part by part:\n"
CONDENSE_HEADING = "Notes on this stretch, to rewrite shorter (keep what matters most):\n\n"


def merge_heading(n_notes: int) -> str:
    """What a merge pass is asked, above the notes it merges."""
    return (
        f"Notes on {n_notes} consecutive stretches of this part, to combine into one "
        "set of notes on the whole stretch:\n"
    )


# --- quote mode -----------------------------------------------------------------------------------

QUOTE_SECTION_INSTRUCTIONS = (
    "You summarize one part of a video by choosing its four most informative sentences. "
    "The sentences of the part are listed one per line, in order. Answer in JSON: "
    '"content" holds the four sentences that best say what this part is about, copied '
    'exactly and in order; "title" is "Section N: " and a short name for the part made of '
    'its own words; "topics" holds three key topics of the part, one to three words each.'
)
QUOTE_SECTION_HEADING = "Sentences of this part:\n"
