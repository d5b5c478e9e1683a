"""Notes that must fit: merging a part's consecutive notes, or condensing its only one.

When the notes of all five parts are too big for the final prompt, consecutive notes of the
biggest parts are merged (notes of notes, real passes) until they fit; a part left with one
set of notes that is still too long is rewritten with the short-notes grammar. Nothing is ever
cut. Imports the job, the budgets, the notes and the long-form prompts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.errors import GenerationError
from engine.pipeline.parts.chunking import Span
from engine.pipeline.passes.budget import SAFETY_TOKENS
from engine.pipeline.passes.job import SummaryJob
from engine.pipeline.prompts.notes import (
    Notes,
    notes_constraint,
    notes_max_json_chars,
    parse_notes,
    short_notes_constraint,
)
from engine.runtime.base import Constraint

TimeSpan = tuple[float | None, float | None]


@dataclass
class PartNotes:
    """The notes written so far on one part, in order, with the stretch each covers."""

    part: Span
    notes: list[Notes] = field(default_factory=list)
    spans: list[TimeSpan] = field(default_factory=list)
    rendered_tokens: list[int] = field(default_factory=list)
    condensed: bool = False  # rewritten with the short-notes grammar (see NotesJob.condense)

    @property
    def tokens(self) -> int:
        return sum(self.rendered_tokens)


class NotesJob(SummaryJob):
    """A job whose notes may need merging or condensing to fit the final prompt."""

    def shrink(self, all_notes: list[PartNotes], room: int) -> None:
        """Merge consecutive notes of the parts until all of them fit in ``room`` tokens."""
        while sum(part_notes.tokens for part_notes in all_notes) > room:
            total = sum(part_notes.tokens for part_notes in all_notes)
            mergeable = [part_notes for part_notes in all_notes if len(part_notes.notes) > 1]
            if not mergeable:
                # One set of notes per part and still too long: rewrite the longest (not yet
                # condensed) with the short-notes grammar.
                longest = max(
                    (part_notes for part_notes in all_notes if not part_notes.condensed),
                    key=lambda part_notes: part_notes.tokens,
                    default=None,
                )
                if longest is not None:
                    self.planned = self.pass_no + 2
                    self.condense(longest)
                    continue
                raise GenerationError(
                    f"{self.where()}: the notes on the five parts need {total} tokens but a "
                    f"{self.n_ctx}-token context leaves {max(room, 0)} for them beside the "
                    "answer; use a larger context"
                )
            ratio = room / total
            self.planned = (
                self.pass_no
                + sum(max(1, math.floor(len(part_notes.notes) * ratio)) for part_notes in mergeable)
                + 1
            )
            for part_notes in mergeable:
                target = max(
                    1, min(len(part_notes.notes) - 1, math.floor(len(part_notes.notes) * ratio))
                )
                self.merge_part(part_notes, target)

    def condense(self, part_notes: PartNotes) -> None:
        """Rewrite a part's single set of notes shorter (a pass with the short-notes grammar)."""
        part = part_notes.part
        prompt = self.prompts.notes_prompt(self.prompts.condense_body(part, part_notes.notes[0]))
        condensed = self.merge_pass(
            part_notes,
            f"condensing the notes of part {part.index + 1}/{len(self.parts)}",
            prompt,
            self.count([prompt])[0],
            short_notes_constraint(),
            [part_notes.notes[0]],
            (part.start_s, part.end_s),
        )
        part_notes.notes = [condensed]
        part_notes.rendered_tokens = self.count([condensed.render()])
        part_notes.condensed = True

    def merge_pass(
        self,
        part_notes: PartNotes,
        label: str,
        prompt: str,
        size: int,
        constraint: Constraint,
        sources: Sequence[Notes],
        span: TimeSpan,
    ) -> Notes:
        """One pass that rewrites ``sources`` (notes of one part, covering ``span`` of the
        video) as one set of notes; its flags count among the notes' flags."""
        notes, flags, _ = self.generate(
            "merge",
            part_notes.part.index + 1,
            label,
            prompt,
            size,
            constraint,
            parse_notes,
            self.notes_quality("\n".join(n.render() for n in sources)),
            self.notes_prefix,
            where=self.span_words(*span, part_notes.part.index + 1),
        )
        self.notes_flags += flags
        return notes

    def merge_part(self, part_notes: PartNotes, target: int) -> None:
        """Replace the part's notes by ``target`` (or a few more, if a group would not fit a
        prompt) merged notes of consecutive groups."""
        n = len(part_notes.notes)
        answer = self.reserve(notes_max_json_chars())
        new_notes: list[Notes] = []
        new_spans: list[TimeSpan] = []
        queue = _balanced_groups(part_notes.rendered_tokens, target)
        while queue:
            idx = queue.pop(0)
            if len(idx) == 1:
                new_notes.append(part_notes.notes[idx[0]])
                new_spans.append(part_notes.spans[idx[0]])
                continue
            body = self.prompts.merge_body(
                part_notes.part,
                [part_notes.notes[i] for i in idx],
                [part_notes.spans[i] for i in idx],
            )
            prompt = self.prompts.notes_prompt(body)
            size = self.count([prompt])[0]
            if size + answer + SAFETY_TOKENS > self.n_ctx:
                half = len(idx) // 2
                queue[:0] = [idx[:half], idx[half:]]
                continue
            merged = self.merge_pass(
                part_notes,
                f"merging {len(idx)} notes of part {part_notes.part.index + 1}/{len(self.parts)}",
                prompt,
                size,
                notes_constraint(),
                [part_notes.notes[i] for i in idx],
                (part_notes.spans[idx[0]][0], part_notes.spans[idx[-1]][1]),
            )
            new_notes.append(merged)
            new_spans.append((part_notes.spans[idx[0]][0], part_notes.spans[idx[-1]][1]))
        assert len(new_notes) < n or n <= 1
        part_notes.notes, part_notes.spans = new_notes, new_spans
        part_notes.rendered_tokens = self.count([x.render() for x in part_notes.notes])


def _balanced_groups(sizes: Sequence[int], k: int) -> list[list[int]]:
    """Split indices ``0..len(sizes)-1`` into ``k`` consecutive groups of similar total size,
    none empty, every group of two or more when that is possible."""
    n = len(sizes)
    k = max(1, min(k, n))
    total = sum(sizes)
    groups: list[list[int]] = []
    current: list[int] = []
    acc = 0
    for i, size in enumerate(sizes):
        current.append(i)
        acc += size
        left_items = n - i - 1
        left_groups = k - len(groups) - 1
        if left_groups > 0 and (acc >= total * (len(groups) + 1) / k or left_items == left_groups):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups
