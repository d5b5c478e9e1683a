"""The prompts of a long-form summary: part markers, notes prompts, merges and the final one.

Builds prompt text in the model's chat format from a transcript's parts; the words themselves
come from ``engine.pipeline.prompts.instructions``. Imports prompting (chat rendering, defusing,
examples), the notes type and the chunking spans; nothing of the runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from engine.pipeline.parts.chunking import Span
from engine.pipeline.passes.budget import Config
from engine.pipeline.prompts.instructions import (
    CONDENSE_HEADING,
    EMPTY_PART,
    NOTES_BY_PART_HEADING,
    merge_heading,
    notes_instructions,
    notes_summary_instructions,
)
from engine.pipeline.prompts.notes import Notes
from engine.pipeline.prompts.prompting import (
    ChatSpec,
    Message,
    choose_examples,
    common_prefix,
    defuse,
    render_messages,
)
from engine.timefmt import format_span, format_timestamp
from engine.transcripts.types import Transcript

hms = format_timestamp  # the part markers write times as every export and face does


def time_range(start: float | None, end: float | None) -> str:
    return format_span(start, end)


def marker(part: Span, chat: ChatSpec) -> str:
    """``[Part 2 · 00:08:25–00:33:44 · Sliding Window Attention]``."""
    bits = [f"Part {part.index + 1}"]
    if part.start_s is not None:
        bits.append(time_range(part.start_s, part.end_s))
    if part.title:
        title = " ".join(part.title.split())
        bits.append(defuse(title[:80].replace("]", ")"), chat))
    return "[" + " · ".join(bits) + "]"


def title_line(title: str | None, chat: ChatSpec) -> str:
    return f"Title: {defuse(title.strip(), chat)}\n\n" if title and title.strip() else ""


def final_instructions(cfg: Config) -> str:
    """The system text of the summary written from notes in configuration ``cfg``."""
    return notes_summary_instructions(
        cfg.limits, full_scale=cfg.grammar == "full", examples=cfg.examples
    )


class LongformPrompts:
    """The prompts of one transcript's long-form passes, for one model's chat format."""

    def __init__(self, transcript: Transcript, parts: Sequence[Span], chat: ChatSpec) -> None:
        self.transcript = transcript
        self.parts = parts
        self.chat = chat
        self.title = transcript.meta.title

    def marked_text(self, part_texts: Sequence[str]) -> str:
        """The whole transcript, each part under its marker (the one-pass prompt's input)."""
        blocks = []
        for p, text in zip(self.parts, part_texts, strict=True):
            blocks.append(f"{marker(p, self.chat)}\n{text or EMPTY_PART}")
        return "\n\n".join(blocks)

    def notes_prompt(self, body: str) -> str:
        # No worked example: small models copy it verbatim into every chunk's notes (seen
        # with Gemma 3 270M); copying the instructions is caught by notes_quality instead.
        messages = [Message("system", notes_instructions()), Message("user", body)]
        return render_messages(messages, self.chat, add_generation_prompt=True)

    @cached_property
    def notes_prefix(self) -> str:
        """What every notes and merge prompt starts with: the rendering up to the body."""
        return common_prefix(self.notes_prompt("a"), self.notes_prompt("b"))

    def chunk_body(self, part: Span, chunk: Span | None, k: int, n: int, text: str) -> str:
        """Chunk ``k`` of ``n`` of ``part`` (None: the widest heading, to measure overhead)."""
        head = title_line(self.title, self.chat)
        head += f"{marker(part, self.chat)}\n"
        where = time_range(chunk.start_s, chunk.end_s) if chunk else "99:99:99–99:99:99"
        head += f"Stretch {k} of {n}" + (f" · {where}" if where else "") + "\n\n"
        return head + defuse(text, self.chat)

    def merge_body(
        self,
        part: Span,
        notes: Sequence[Notes],
        spans: Sequence[tuple[float | None, float | None]],
    ) -> str:
        """Consecutive ``notes`` of ``part`` (covering ``spans``), to merge into one."""
        head = title_line(self.title, self.chat)
        head += f"{marker(part, self.chat)}\n" + merge_heading(len(notes))
        blocks = []
        for k, (note, span) in enumerate(zip(notes, spans, strict=True), 1):
            where = time_range(*span)
            blocks.append(f"Stretch {k}" + (f" · {where}" if where else "") + ":\n" + note.render())
        return head + "\n" + "\n\n".join(blocks)

    def condense_body(self, part: Span, notes: Notes) -> str:
        """A part's one set of notes, to rewrite shorter."""
        head = title_line(self.title, self.chat) + f"{marker(part, self.chat)}\n{CONDENSE_HEADING}"
        return head + notes.render()

    def final_prompt(
        self, cfg: Config, part_notes: Sequence[Sequence[Notes]] | None
    ) -> tuple[str, list[str]]:
        """The final prompt from each part's notes (empty notes when ``part_notes`` is None)
        and the example answers it shows."""
        examples = choose_examples(
            self.transcript.text,
            exclude_hash=self.transcript.content_hash,
            n_examples=cfg.examples,
        )
        history = [Message("system", final_instructions(cfg))]
        for ex in examples:
            history.append(
                Message(
                    "user",
                    defuse(
                        f"{title_line(ex.title, self.chat)}Transcript:\n{ex.transcript}", self.chat
                    ),
                )
            )
            history.append(Message("assistant", ex.answer))
        blocks = []
        for i, p in enumerate(self.parts):
            body = "\n".join(n.render() for n in part_notes[i]) if part_notes is not None else ""
            if part_notes is not None and not part_notes[i]:
                body = EMPTY_PART
            blocks.append(f"{marker(p, self.chat)}\n{defuse(body, self.chat)}")
        last = title_line(self.title, self.chat) + NOTES_BY_PART_HEADING + "\n\n".join(blocks)
        text = render_messages(
            [*history, Message("user", last)], self.chat, add_generation_prompt=True
        )
        return text, [ex.answer for ex in examples]
