"""The multi-pass summary: notes on chunks, merged until they fit, then the summary from them.

Each part is cut into chunks that fit a notes prompt; each chunk gets grammar-constrained ``Notes``;
when the notes of all parts are too big for the final prompt they are merged or condensed
(``engine.pipeline.longform.notes_merge``); then one grammar-constrained summary is written from the
five parts' notes. Nothing is ever cut. Imports the notes job, the budgets, the notes and the
long-form prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from engine.errors import GenerationError
from engine.pipeline.checks.quality import Flag
from engine.pipeline.longform.notes_merge import NotesJob, PartNotes
from engine.pipeline.longform.prompts import final_instructions
from engine.pipeline.parts.chunking import ChunkTooSmall, Span
from engine.pipeline.passes.budget import LADDER, MIN_CHUNK_TOKENS, SAFETY_TOKENS, Config
from engine.pipeline.passes.lanes import Lanes, Task, run_group
from engine.pipeline.passes.results import ChunkRecord, LongformResult, PassRecord
from engine.pipeline.prompts.notes import (
    Notes,
    notes_constraint,
    notes_max_json_chars,
    parse_notes,
    rendered_notes_max_chars,
)
from engine.pipeline.prompts.prompting import common_prefix
from engine.progress import CancelToken, Progress, emit
from engine.runtime.base import Backend
from engine.schema import Summary


@dataclass(frozen=True)
class _PlannedPart:
    """A part's chunks with their notes prompts and the prompts' token counts."""

    part: Span
    chunks: list[Span]
    prompts: list[str]
    sizes: list[int]


class MultiPassJob(NotesJob):
    """Notes passes and the final pass of one transcript too long for one pass."""

    lanes: Lanes | None = None  # extra backends for the notes passes (engine.pipeline.passes.lanes)

    # planning

    def plan_chunks(self, part: Span) -> tuple[list[Span], list[str], list[int]]:
        """Chunks of ``part`` whose notes prompts fit the context, with prompts and sizes."""
        prompts_of = self.prompts
        answer = self.reserve(notes_max_json_chars())
        widest = prompts_of.notes_prompt(prompts_of.chunk_body(part, None, 99, 99, ""))
        budget = self.n_ctx - self.count([widest])[0] - answer - SAFETY_TOKENS
        while True:
            if budget < MIN_CHUNK_TOKENS:
                raise GenerationError(
                    f"{self.where()}: a {self.n_ctx}-token context leaves only {max(budget, 0)} "
                    "tokens of transcript per notes pass; use a larger context"
                )
            try:
                chunks = self.text_map.chunk(part, budget)
            except ChunkTooSmall as exc:
                raise GenerationError(
                    f"{self.where()}: one stretch of the transcript needs {exc.needed} tokens, "
                    f"more than the {budget} a notes pass has in a {self.n_ctx}-token context"
                ) from None
            prompts = [
                prompts_of.notes_prompt(
                    prompts_of.chunk_body(part, c, i + 1, len(chunks), self.text_of(c))
                )
                for i, c in enumerate(chunks)
            ]
            sizes = self.count(prompts)
            over = max(n + answer + SAFETY_TOKENS - self.n_ctx for n in sizes)
            if over <= 0:
                return chunks, prompts, sizes
            budget -= over + 8  # the unit counts were a little low here: cut smaller

    def final_prompt(
        self, cfg: Config, part_notes: Sequence[PartNotes] | None
    ) -> tuple[str, list[str]]:
        """The final prompt (empty notes when ``part_notes`` is None) and the example answers."""
        notes = None if part_notes is None else [pn.notes for pn in part_notes]
        return self.prompts.final_prompt(cfg, notes)

    def choose_final(self) -> tuple[Config, int]:
        """The richest final configuration with room for the notes (worst case) of five parts;
        else the most compact one. Returns it and the room for notes, in tokens."""
        need = len(self.parts) * self.reserve(rendered_notes_max_chars())
        rooms = []
        for cfg in LADDER:
            empty, _ = self.final_prompt(cfg, None)
            overhead = self.count([empty])[0]
            room = self.n_ctx - overhead - self.reserve(cfg.limits.max_json_chars()) - SAFETY_TOKENS
            if room >= need:
                return cfg, room
            rooms.append((cfg, room))
        return rooms[-1]

    def _final_room(self) -> tuple[Config, int]:
        """``choose_final``, failing before any work when even the most compact final prompt
        could not hold five parts' notes of half the maximum size (nothing is ever cut to make
        them fit)."""
        cfg, room = self.choose_final()
        least = len(self.parts) * self.reserve(rendered_notes_max_chars()) // 2
        if room < least:
            raise GenerationError(
                f"{self.where()}: a {self.n_ctx}-token context has room for {max(room, 0)} "
                f"tokens of notes beside the answer, too few for the notes on five parts "
                f"(about {least}); use a larger context"
            )
        return cfg, room

    def _plan(self) -> list[_PlannedPart]:
        """Every part's chunks, and a notice of how many notes passes come first."""
        planned = [
            _PlannedPart(part, [], [], [])
            if part.empty
            else _PlannedPart(part, *self.plan_chunks(part))
            for part in self.parts
        ]
        n_chunks = sum(len(p.chunks) for p in planned)
        self.planned = n_chunks + 1
        emit(
            self.progress,
            Progress(
                "notice",
                item=self.transcript.source.name,
                message=(
                    f"{self.text_map.total_tokens} transcript tokens do not fit a "
                    f"{self.n_ctx}-token context with the answer: notes on {n_chunks} chunks "
                    "first, then the summary"
                ),
            ),
        )
        return planned

    # notes

    def _notes_task(
        self, planned: _PlannedPart, i: int
    ) -> Task[tuple[Notes, list[Flag], PassRecord]]:
        """The notes pass on chunk ``i`` of a part, to run on whichever lane takes it."""
        part, c = planned.part, planned.chunks[i]
        label = (
            f"notes on part {part.index + 1}/{len(self.parts)}, chunk {i + 1}/{len(planned.chunks)}"
        )

        def run(backend: Backend, cancel: CancelToken) -> tuple[Notes, list[Flag], PassRecord]:
            return self.run_pass(
                "notes",
                part.index + 1,
                label,
                planned.prompts[i],
                planned.sizes[i],
                notes_constraint(),
                parse_notes,
                self.notes_quality(self.text_of(c)),
                self.notes_prefix,
                where=self.span_words(c.start_s, c.end_s, part.index + 1),
                runner=backend,
                cancel=cancel,
            )

        return run

    def _take_notes(
        self, planned: Sequence[_PlannedPart]
    ) -> tuple[list[PartNotes], list[ChunkRecord], float]:
        """Notes on every chunk (side by side when the job has lanes: the passes are
        independent), the chunk records (exact token counts) and the coverage. Records,
        flags and notes are kept in chunk order whatever order the passes finish in."""
        order = [(p, i) for p in planned for i in range(len(p.chunks))]

        def started(width: int) -> None:
            self.width = width

        outcomes = run_group(
            [self._notes_task(p, i) for p, i in order],
            self.runner,
            self.lanes,
            self.cancel,
            on_start=started,
        )
        self.width = 1
        by_part: dict[int, PartNotes] = {p.part.index: PartNotes(p.part) for p in planned}
        records: list[ChunkRecord] = []
        for (p, i), (notes, flags, record) in zip(order, outcomes, strict=True):
            self.passes.append(record)
            self.notes_flags += flags
            c = p.chunks[i]
            part_notes = by_part[p.part.index]
            part_notes.notes.append(notes)
            part_notes.spans.append((c.start_s, c.end_s))
            records.append(
                ChunkRecord(
                    p.part.index + 1,
                    c.start_char,
                    c.end_char,
                    c.start_s,
                    c.end_s,
                    c.tokens,
                    record.seconds,
                )
            )
        part_notes_list = [by_part[p.part.index] for p in planned]
        for part_notes in part_notes_list:
            part_notes.rendered_tokens = self.count([x.render() for x in part_notes.notes])
        fraction, tokens = self.coverage(
            [c for p in planned for c in p.chunks], [x for p in planned for x in p.prompts]
        )
        records = [replace(r, tokens=n) for r, n in zip(records, tokens, strict=True)]
        return part_notes_list, records, fraction

    # the summary

    def _fit_final(
        self, cfg: Config, part_notes: list[PartNotes], room: int
    ) -> tuple[str, list[str], int]:
        """Shrink the notes until the final prompt and its answer fit; the prompt, its example
        answers and its token count."""
        while True:
            self.shrink(part_notes, room)
            text, answers = self.final_prompt(cfg, part_notes)
            n = self.count([text])[0]
            over = n + self.reserve(cfg.limits.max_json_chars()) + SAFETY_TOKENS - self.n_ctx
            if over <= 0:
                return text, answers, n
            room -= over  # rendering joins notes a little differently from counting them apart

    def _write_final(
        self, cfg: Config, text: str, answers: list[str], n: int
    ) -> tuple[Summary, list[Flag]]:
        self.planned = self.pass_no + 1
        summary, flags, _ = self.generate(
            "final",
            None,
            "summary from the notes",
            text,
            n,
            cfg.constraint(),
            self.summary_parser(),
            self.quality(answers, final_instructions(cfg)),
            common_prefix(text, self.final_prompt(cfg, None)[0]),
            where=self.whole_video(),
        )
        if self.notes_flags:
            kinds = sorted({f.code for f in self.notes_flags})
            flags.append(
                Flag(
                    "notes_flagged",
                    f"{len(self.notes_flags)} of the notes it was "
                    f"written from were kept with flags ({', '.join(kinds)})",
                )
            )
        return summary, flags

    def run(self) -> LongformResult:
        """Notes on every chunk, merged until they fit, then the summary from them."""
        cfg, room = self._final_room()
        planned = self._plan()
        part_notes, records, fraction = self._take_notes(planned)
        text, answers, n = self._fit_final(cfg, part_notes, room)
        summary, flags = self._write_final(cfg, text, answers, n)
        return self.result(summary, flags, "multi-pass", cfg, fraction, records)
