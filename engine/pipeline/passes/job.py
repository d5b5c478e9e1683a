"""A summary job on one transcript: its parts, token accounting and the checks of answers.

``SummaryJob`` is what the one-pass, multi-pass and quote jobs share: the transcript cut into
five parts, token counts and answer reserves, where a pass is in the video, the summary's
parser and quality checks, and the proof that each chunk reached its prompt. Imports the
pass runner, chunking, the checks and the long-form prompts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

from engine.pipeline.checks.quality import Flag, check_notes, check_summary
from engine.pipeline.checks.validate import parse_summary
from engine.pipeline.longform.prompts import LongformPrompts, time_range
from engine.pipeline.parts.chunking import PartMode, Span, TextMap, split_parts
from engine.pipeline.passes.attempts import PassRunner
from engine.pipeline.passes.budget import Config, chars_per_token
from engine.pipeline.passes.results import ChunkRecord, LongformResult, total_generation
from engine.pipeline.prompts.instructions import notes_instructions
from engine.pipeline.prompts.notes import Notes
from engine.pipeline.prompts.prompting import ChatSpec, defuse
from engine.progress import CancelToken, ProgressCallback
from engine.runtime.base import Backend, Sampling
from engine.schema import Summary
from engine.transcripts.types import Transcript


class SummaryJob(PassRunner):
    """One transcript's passes: its five parts, token budget and the checks of answers."""

    # Where parts end without chapters: abstractive summaries keep balanced lengths (their
    # prompt and results are keyed by version); quote mode cuts where the topic changes.
    part_mode: ClassVar[PartMode] = "length"

    def __init__(
        self,
        transcript: Transcript,
        runner: Backend,
        chat: ChatSpec,
        sampling: Sampling,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        max_attempts: int,
    ) -> None:
        super().__init__(runner, sampling, progress, cancel, max_attempts, f"{transcript.source}")
        self.transcript = transcript
        self.chat = chat
        self.title = transcript.meta.title
        self.text_map = TextMap(transcript, runner.count_tokens, cancel=cancel, progress=progress)
        self.parts = split_parts(self.text_map, by=self.part_mode)
        self.part_texts = [self.text_of(p) for p in self.parts]
        self.prompts = LongformPrompts(transcript, self.parts, chat)
        self.chars_per_token = chars_per_token(runner)
        self.notes_flags: list[Flag] = []  # notes kept with flags (multi-pass only)

    def text_of(self, span: Span) -> str:
        return self.transcript.text[span.start_char : span.end_char].strip()

    def reserve(self, max_chars: int) -> int:
        """Tokens to keep for an answer of at most ``max_chars`` characters."""
        return math.ceil(max_chars / self.chars_per_token)

    def count(self, texts: Sequence[str]) -> list[int]:
        return self.runner.count_tokens(list(texts)) if texts else []

    def span_words(self, start: float | None, end: float | None, part: int | None) -> str:
        """Where a pass is in the video: its time range, else its part."""
        return time_range(start, end) or (f"part {part} of {len(self.parts)}" if part else "")

    def whole_video(self) -> str:
        return self.span_words(self.parts[0].start_s, self.parts[-1].end_s, None)

    def marked_text(self) -> str:
        """The transcript in its five marked parts (what one pass reads)."""
        return self.prompts.marked_text(self.part_texts)

    @property
    def notes_prefix(self) -> str:
        return self.prompts.notes_prefix

    # checks of answers

    def with_times(self, s: Summary) -> Summary:
        data = s.model_dump()
        for sec, part in zip(data["sections"], self.parts, strict=True):
            sec["start"] = None if part.start_s is None else round(part.start_s, 3)
            sec["end"] = None if part.end_s is None else round(part.end_s, 3)
        return Summary.model_validate(data)

    def summary_parser(self) -> Callable[[str], Summary]:
        return lambda text: self.with_times(parse_summary(text))

    def quality(
        self, example_answers: Sequence[str], instructions: str
    ) -> Callable[[Summary], list[Flag]]:
        return lambda s: check_summary(
            s,
            examples=example_answers,
            instructions=instructions,
            transcript=self.transcript.text,
            parts=self.part_texts,
        )

    def notes_quality(self, source: str) -> Callable[[Notes], list[Flag]]:
        def check(n: Notes) -> list[Flag]:
            return check_notes(n, instructions=notes_instructions(), source=source)

        return check

    def coverage(self, chunks: Sequence[Span], prompts: Sequence[str]) -> tuple[float, list[int]]:
        """Exact token counts of the chunks, and the share of them proven to be in a prompt."""
        # The chunks must partition the transcript: contiguous, in order, end to end.
        pos = 0
        for c in chunks:
            if c.start_char != pos:
                raise AssertionError(f"chunk at {c.start_char} does not start where the last ended")
            pos = c.end_char
        if pos != len(self.transcript.text):
            raise AssertionError("the chunks do not reach the end of the transcript")
        texts = [self.text_of(c) for c in chunks]
        tokens = self.count(texts)
        reached = sum(
            n
            for text, n, p in zip(texts, tokens, prompts, strict=True)
            if defuse(text, self.chat) in p
        )
        total = sum(tokens)
        return (reached / total if total else 1.0), tokens

    def result(
        self,
        summary: Summary,
        flags: list[Flag],
        mode: Literal["one-pass", "multi-pass"],
        cfg: Config,
        fraction: float,
        chunks: list[ChunkRecord],
    ) -> LongformResult:
        total = total_generation(self.generations)
        return LongformResult(
            summary=summary,
            flags=[str(f) for f in flags],
            mode=mode,
            config=cfg,
            fraction=fraction,
            transcript_tokens=self.text_map.total_tokens,
            parts=self.parts,
            chunks=chunks,
            passes=self.passes,
            generation=total,
            n_ctx=self.n_ctx,
        )
