"""Whole-video summaries whatever the transcript's length: nothing is ever cut.

Every transcript is first split into five parts (``engine.pipeline.chunking``: chapters when
present,
else balanced token counts at pauses and sentence ends); part N becomes section N and gives
it its time range.

- **One pass** when the prompt (the transcript with ``[Part N · start–end]`` markers) and room
  for the answer fit the context. The richest configuration that fits wins: two few-shot
  examples and the full grammar, then no examples, then no examples and the compact grammar.
- **Multi-pass** otherwise: each part is cut into chunks that fit a notes prompt; each chunk
  gets grammar-constrained ``Notes``; when the notes of all parts are too big for the final
  prompt, consecutive notes of the biggest parts are merged (notes of notes) until they fit;
  then one grammar-constrained summary is written from the five parts' notes. Every
  transcript token is in exactly one notes prompt, and each prompt is checked to contain its
  chunk verbatim before the token count goes into the coverage.

The final answer is checked by ``engine.pipeline.quality``; a flagged answer is retried with another
seed, and if every attempt is flagged the least flagged one comes back with its flags.
"""

from __future__ import annotations

import logging
import math
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from importlib import resources
from typing import Literal, TypeVar

from engine import schema
from engine.errors import GenerationError
from engine.pipeline.chunking import ChunkTooSmall, Span, TextMap, split_parts
from engine.pipeline.grammar import summary_gbnf
from engine.pipeline.notes import (
    COMPACT_LIMITS,
    FULL_LIMITS,
    MAX_POINT,
    MAX_POINTS,
    MAX_TERM,
    MAX_TERMS,
    MIN_POINTS,
    MIN_TERMS,
    Notes,
    SummaryLimits,
    compact_gbnf,
    notes_gbnf,
    notes_max_json_chars,
    parse_notes,
    rendered_notes_max_chars,
    short_notes_gbnf,
)
from engine.pipeline.prompting import (
    ChatSpec,
    Message,
    build_summary_prompt,
    choose_examples,
    common_prefix,
    defuse,
    instructions,
    load_examples,
    render_messages,
)
from engine.pipeline.quality import Flag, badness, check_notes, check_summary, retry_reason
from engine.pipeline.validate import parse_summary
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit, pass_line
from engine.runtime.base import Backend, Generation, Sampling
from engine.schema import Summary
from engine.transcripts.types import Transcript

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# Tokens kept free beyond every estimate (the unit token counts are sums over pieces).
SAFETY_TOKENS = 32
# The answer reserve assumes the model writes this share of the characters per token that the
# few-shot answers take with its own tokenizer (strings filled to their limits tokenize worse).
RESERVE_SAFETY = 0.85
# A chunk smaller than this is not worth a notes pass: the context is too small.
MIN_CHUNK_TOKENS = 256

GrammarKind = Literal["full", "compact"]
T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    """Few-shot examples and grammar of the pass that writes the summary."""

    examples: int
    grammar: GrammarKind

    @property
    def limits(self) -> SummaryLimits:
        return FULL_LIMITS if self.grammar == "full" else COMPACT_LIMITS

    def gbnf(self) -> str:
        return summary_gbnf() if self.grammar == "full" else compact_gbnf()


# Richest first: the first that fits is used.
LADDER: tuple[Config, ...] = (Config(2, "full"), Config(0, "full"), Config(0, "compact"))


@dataclass(frozen=True)
class PassRecord:
    kind: Literal["one-pass", "notes", "merge", "final", "section"]
    part: int | None  # 1-based part the pass is about (None: the whole video)
    prompt_tokens: int
    prompt_evaluated: int  # the rest came from the KV cache
    generated_tokens: int
    seconds: float
    attempts: int


@dataclass(frozen=True)
class ChunkRecord:
    """A stretch of the transcript that reached the model in one prompt."""

    part: int  # 1-based
    start_char: int
    end_char: int
    start_s: float | None
    end_s: float | None
    tokens: int  # exact token count of the stretch
    seconds: float  # time of the pass that read it

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "part": self.part,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class LongformResult:
    summary: Summary  # sections carry start/end when the transcript is timed
    flags: list[str]  # degenerate-output flags of the kept answer (empty: clean)
    mode: Literal["one-pass", "multi-pass"]
    config: Config
    fraction: float  # transcript tokens that reached the model / transcript tokens
    transcript_tokens: int
    parts: list[Span]
    chunks: list[ChunkRecord]
    passes: list[PassRecord]
    generation: Generation  # totals over every pass; text is the final answer
    n_ctx: int

    def all_flags(self) -> list[str]:
        """Quality flags, then what a user should know about a reduced configuration."""
        out = list(self.flags)
        if self.config.examples == 0:
            out.append(
                f"no_few_shot: no room for few-shot examples in the {self.n_ctx}-token context"
            )
        if self.config.grammar == "compact":
            out.append(
                "compact_grammar: shorter strings than usual, to fit the answer in the "
                f"{self.n_ctx}-token context"
            )
        return out


# --- prompt text ----------------------------------------------------------------------------------


def hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _range(start: float | None, end: float | None) -> str:
    return "" if start is None or end is None else f"{hms(start)}–{hms(end)}"


def marker(part: Span, chat: ChatSpec) -> str:
    """``[Part 2 · 00:08:25–00:33:44 · Sliding Window Attention]``."""
    bits = [f"Part {part.index + 1}"]
    if part.start_s is not None:
        bits.append(_range(part.start_s, part.end_s))
    if part.title:
        title = " ".join(part.title.split())
        bits.append(defuse(title[:80].replace("]", ")"), chat))
    return "[" + " · ".join(bits) + "]"


EMPTY_PART = "(nothing is said in this part)"


@cache
def _template(name: str) -> string.Template:
    return string.Template(resources.files("prompts").joinpath(name).read_text(encoding="utf-8"))


def notes_instructions() -> str:
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


def format_description(limits: SummaryLimits) -> str:
    """The output format in words (terse: it shares a small context with the notes), with
    the string limits of the grammar in use."""
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


def final_instructions(cfg: Config) -> str:
    scale = (
        "\n" + "\n".join(f"- {lo:.2f}-{hi:.2f}: {name}" for lo, hi, name in schema.COMPLEXITY_SCALE)
        if cfg.grammar == "full"
        else _short_scale() + "."
    )
    note = (
        " The example conversations before it show shorter videos, given as transcripts split "
        "the same way, with their summaries."
        if cfg.examples
        else ""
    )
    return (
        _template("final_instructions.txt")
        .substitute(
            format=format_description(cfg.limits),
            fields="\n".join(f"- {f}" for f in schema.GENERAL_FIELDS),
            scale=scale,
            examples_note=note,
        )
        .strip()
    )


def _title_line(title: str | None, chat: ChatSpec) -> str:
    return f"Title: {defuse(title.strip(), chat)}\n\n" if title and title.strip() else ""


# --- the job --------------------------------------------------------------------------------------


@dataclass
class _PartNotes:
    part: Span
    notes: list[Notes] = field(default_factory=list)
    spans: list[tuple[float | None, float | None]] = field(default_factory=list)
    rendered_tokens: list[int] = field(default_factory=list)
    condensed: bool = False  # rewritten with the short-notes grammar (see _Job.condense)

    @property
    def tokens(self) -> int:
        return sum(self.rendered_tokens)


class _Job:
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
        self.t = transcript
        self.runner = runner
        self.chat = chat
        self.sampling = sampling
        self.progress = progress
        self.cancel = cancel
        self.max_attempts = max_attempts
        self.n_ctx = runner.info.n_ctx
        self.title = transcript.meta.title
        self.tm = TextMap(transcript, runner.count_tokens)
        self.parts = split_parts(self.tm)
        self.part_texts = [self.text_of(p) for p in self.parts]
        self.passes: list[PassRecord] = []
        self.notes_flags: list[Flag] = []  # kept notes that were still flagged
        self.gens: list[Generation] = []
        self.pass_no = 0
        self.planned = 1
        self.cpt = chars_per_token(runner)

    # helpers

    def text_of(self, span: Span) -> str:
        return self.t.text[span.start_char : span.end_char].strip()

    def reserve(self, max_chars: int) -> int:
        """Tokens to keep for an answer of at most ``max_chars`` characters."""
        return math.ceil(max_chars / self.cpt)

    def count(self, texts: Sequence[str]) -> list[int]:
        return self.runner.count_tokens(list(texts)) if texts else []

    def where(self) -> str:
        return f"{self.t.source}"

    def _tag(self, message: str, extra: dict[str, float | int | str]) -> ProgressCallback | None:
        """Events of one attempt, with its pass line (``engine.progress.pass_line``) as the
        message and its numbers in ``extra``."""
        if self.progress is None:
            return None
        outer = self.progress

        def forward(ev: Progress) -> None:
            if not ev.message:
                ev = replace(ev, message=message, extra={**ev.extra, **extra})
            outer(ev)

        return forward

    def span_words(self, start: float | None, end: float | None, part: int | None) -> str:
        """Where a pass is in the video: its time range, else its part."""
        return _range(start, end) or (f"part {part} of {len(self.parts)}" if part else "")

    def whole_video(self) -> str:
        return self.span_words(self.parts[0].start_s, self.parts[-1].end_s, None)

    def tok_per_s(self) -> float | None:
        """Generation speed so far (every pass and attempt)."""
        seconds = sum(g.generation_seconds for g in self.gens)
        return sum(g.generated_tokens for g in self.gens) / seconds if seconds > 0 else None

    def eta(self) -> float | None:
        """Seconds left: the mean time of the passes done, times the passes still planned."""
        if not self.passes:
            return None
        mean = sum(p.seconds for p in self.passes) / len(self.passes)
        return mean * max(0, self.planned - len(self.passes))

    def generate(
        self,
        kind: Literal["one-pass", "notes", "merge", "final", "section"],
        part: int | None,
        label: str,
        prompt: str,
        n_prompt: int,
        grammar: str,
        parse: Callable[[str], T],
        accept: Callable[[T], list[Flag]] | None = None,
        shared_prefix: str | None = None,
        where: str = "",
    ) -> tuple[T, list[Flag], float]:
        """Generate until the answer parses (and, with ``accept``, is unflagged).

        Returns the kept answer, its flags and the seconds the pass took. An answer that never
        parses is a GenerationError; a flagged one is kept only when every attempt is flagged.
        """
        self.pass_no += 1
        # Notes are intermediate: one retry, then the least flagged is kept (and counted in
        # the summary's flags). Only the summary itself gets every attempt.
        tries = self.max_attempts if kind in ("one-pass", "final") else min(2, self.max_attempts)
        best: tuple[int, T, list[Flag]] | None = None
        last_error = ""
        seconds = 0.0
        evaluated = generated = attempts = 0
        reason: str | None = None  # what was wrong with the previous attempt's answer
        for attempt in range(tries):
            check(self.cancel)
            attempts += 1
            line = pass_line(
                self.pass_no,
                self.planned,
                where=where,
                attempt=attempts,
                attempts=tries,
                reason=reason,
                tok_per_s=self.tok_per_s(),
                eta_s=self.eta(),
            )
            extra: dict[str, float | int | str] = {
                "pass": self.pass_no,
                "passes": self.planned,
                "attempt": attempts,
                "attempts": tries,
                "label": label,
            }
            if reason:
                extra["reason"] = reason
            progress = self._tag(line, extra)
            emit(progress, Progress("prompt", 0, n_prompt, unit="tok"))
            s = replace(
                self.sampling, seed=self.sampling.seed + attempt, max_tokens=self.n_ctx - n_prompt
            )
            # The instructions (and examples) are evaluated in their own batches, so a pass gives
            # the same answer whatever the KV cache held before it (see LlamaRunner.generate).
            gen = self.runner.generate(
                prompt,
                grammar=grammar,
                sampling=s,
                shared_prefix=shared_prefix,
                progress=progress,
                cancel=self.cancel,
            )
            self.gens.append(gen)
            seconds += gen.prompt_seconds + gen.generation_seconds
            evaluated += gen.prompt_evaluated
            generated += gen.generated_tokens
            if gen.stop_reason == "length":
                last_error = (
                    f"the answer filled the {s.max_tokens} tokens left in the context "
                    "before it was complete"
                )
                log.info("%s, attempt %d: %s", label, attempt + 1, last_error)
                reason = "previous answer ran out of room"
                continue
            try:
                value = parse(gen.text)
            except GenerationError as exc:
                last_error = str(exc)
                log.info("%s, attempt %d: %s", label, attempt + 1, last_error)
                reason = "previous answer did not parse"
                continue
            log.debug("%s, attempt %d: %s", label, attempt + 1, gen.text)
            flags = accept(value) if accept else []
            if flags:
                log.info(
                    "%s, attempt %d: flagged %s", label, attempt + 1, "; ".join(map(str, flags))
                )
            if best is None or badness(flags) < best[0]:
                best = (badness(flags), value, flags)
            if not flags:
                break
            reason = retry_reason(flags)
        self.passes.append(
            PassRecord(kind, part, n_prompt, evaluated, generated, seconds, attempts)
        )
        if best is None:
            raise GenerationError(
                f"{self.where()}: no valid answer for {label} after {attempts} attempts: "
                f"{last_error}"
            )
        return best[1], best[2], seconds

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
            transcript=self.t.text,
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
        if pos != len(self.t.text):
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
        total = total_generation(self.gens)
        return LongformResult(
            summary=summary,
            flags=[str(f) for f in flags],
            mode=mode,
            config=cfg,
            fraction=fraction,
            transcript_tokens=self.tm.total_tokens,
            parts=self.parts,
            chunks=chunks,
            passes=self.passes,
            generation=total,
            n_ctx=self.n_ctx,
        )

    # one pass

    def marked_text(self) -> str:
        blocks = []
        for p, text in zip(self.parts, self.part_texts, strict=True):
            blocks.append(f"{marker(p, self.chat)}\n{text or EMPTY_PART}")
        return "\n\n".join(blocks)

    def try_one_pass(self) -> LongformResult | None:
        if self.tm.total_tokens + SAFETY_TOKENS >= self.n_ctx:
            return None  # the transcript alone is bigger than the context
        marked = self.marked_text()
        for cfg in LADDER:
            prompt = build_summary_prompt(
                marked,
                self.chat,
                title=self.title,
                exclude_hash=self.t.content_hash,
                n_examples=cfg.examples,
            )
            n = len(self.runner.tokenize(prompt.text))
            if n + self.reserve(cfg.limits.max_json_chars()) + SAFETY_TOKENS > self.n_ctx:
                continue
            answers = _answers(prompt.example_names)
            summary, flags, seconds = self.generate(
                "one-pass",
                None,
                "summary",
                prompt.text,
                n,
                cfg.gbnf(),
                self.summary_parser(),
                self.quality(answers, instructions()),
                prompt.shared_prefix,
                where=self.whole_video(),
            )
            fraction, tokens = self.coverage(self.parts, [prompt.text] * len(self.parts))
            chunks = [
                ChunkRecord(
                    p.index + 1, p.start_char, p.end_char, p.start_s, p.end_s, n_tok, seconds
                )
                for p, n_tok in zip(self.parts, tokens, strict=True)
            ]
            return self.result(summary, flags, "one-pass", cfg, fraction, chunks)
        return None

    # multi-pass

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
        head = _title_line(self.title, self.chat)
        head += f"{marker(part, self.chat)}\n"
        where = _range(chunk.start_s, chunk.end_s) if chunk else "99:99:99–99:99:99"
        head += f"Stretch {k} of {n}" + (f" · {where}" if where else "") + "\n\n"
        return head + defuse(text, self.chat)

    def plan_chunks(self, part: Span) -> tuple[list[Span], list[str], list[int]]:
        """Chunks of ``part`` whose notes prompts fit the context, with prompts and sizes."""
        answer = self.reserve(notes_max_json_chars())
        overhead = self.count([self.notes_prompt(self.chunk_body(part, None, 99, 99, ""))])[0]
        budget = self.n_ctx - overhead - answer - SAFETY_TOKENS
        while True:
            if budget < MIN_CHUNK_TOKENS:
                raise GenerationError(
                    f"{self.where()}: a {self.n_ctx}-token context leaves only {max(budget, 0)} "
                    "tokens of transcript per notes pass; use a larger context"
                )
            try:
                chunks = self.tm.chunk(part, budget)
            except ChunkTooSmall as exc:
                raise GenerationError(
                    f"{self.where()}: one stretch of the transcript needs {exc.needed} tokens, "
                    f"more than the {budget} a notes pass has in a {self.n_ctx}-token context"
                ) from None
            prompts = [
                self.notes_prompt(self.chunk_body(part, c, i + 1, len(chunks), self.text_of(c)))
                for i, c in enumerate(chunks)
            ]
            sizes = self.count(prompts)
            over = max(n + answer + SAFETY_TOKENS - self.n_ctx for n in sizes)
            if over <= 0:
                return chunks, prompts, sizes
            budget -= over + 8  # the unit counts were a little low here: cut smaller

    def merge_body(self, pn: _PartNotes, idx: Sequence[int]) -> str:
        head = _title_line(self.title, self.chat)
        head += (
            f"{marker(pn.part, self.chat)}\n"
            f"Notes on {len(idx)} consecutive stretches of this part, to combine into one "
            "set of notes on the whole stretch:\n"
        )
        blocks = []
        for k, i in enumerate(idx, 1):
            where = _range(*pn.spans[i])
            blocks.append(
                f"Stretch {k}" + (f" · {where}" if where else "") + ":\n" + pn.notes[i].render()
            )
        return head + "\n" + "\n\n".join(blocks)

    def final_prompt(
        self, cfg: Config, part_notes: Sequence[_PartNotes] | None
    ) -> tuple[str, list[str]]:
        """The final prompt (empty notes when ``part_notes`` is None) and the example answers."""
        examples = choose_examples(
            self.t.text, exclude_hash=self.t.content_hash, n_examples=cfg.examples
        )
        history = [Message("system", final_instructions(cfg))]
        for ex in examples:
            history.append(
                Message(
                    "user",
                    defuse(
                        f"{_title_line(ex.title, self.chat)}Transcript:\n{ex.transcript}", self.chat
                    ),
                )
            )
            history.append(Message("assistant", ex.answer))
        blocks = []
        for i, p in enumerate(self.parts):
            body = (
                "\n".join(n.render() for n in part_notes[i].notes) if part_notes is not None else ""
            )
            if part_notes is not None and not part_notes[i].notes:
                body = EMPTY_PART
            blocks.append(f"{marker(p, self.chat)}\n{defuse(body, self.chat)}")
        last = _title_line(self.title, self.chat) + "Notes, part by part:\n" + "\n\n".join(blocks)
        text = render_messages(
            [*history, Message("user", last)], self.chat, add_generation_prompt=True
        )
        return text, [ex.answer for ex in examples]

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

    def run_multi(self) -> LongformResult:
        n_parts = len(self.parts)
        # Fail before any work when even the most compact final prompt could not hold five
        # parts' notes of half the maximum size (nothing is ever cut to make them fit).
        cfg, room = self.choose_final()
        least = n_parts * self.reserve(rendered_notes_max_chars()) // 2
        if room < least:
            raise GenerationError(
                f"{self.where()}: a {self.n_ctx}-token context has room for {max(room, 0)} "
                f"tokens of notes beside the answer, too few for the notes on five parts "
                f"(about {least}); use a larger context"
            )
        planned: list[tuple[Span, list[Span], list[str], list[int]]] = []
        for part in self.parts:
            if part.empty:
                planned.append((part, [], [], []))
                continue
            planned.append((part, *self.plan_chunks(part)))
        n_chunks = sum(len(c) for _, c, _, _ in planned)
        self.planned = n_chunks + 1
        emit(
            self.progress,
            Progress(
                "notice",
                item=self.t.source.name,
                message=(
                    f"{self.tm.total_tokens} transcript tokens do not fit a {self.n_ctx}-token "
                    f"context with the answer: notes on {n_chunks} chunks first, then the "
                    "summary"
                ),
            ),
        )
        all_chunks: list[Span] = []
        all_prompts: list[str] = []
        records: list[ChunkRecord] = []
        part_notes: list[_PartNotes] = []
        for part, chunks, prompts, sizes in planned:
            pn = _PartNotes(part)
            for i, (c, prompt, n) in enumerate(zip(chunks, prompts, sizes, strict=True)):
                notes, flags, seconds = self.generate(
                    "notes",
                    part.index + 1,
                    f"notes on part {part.index + 1}/{n_parts}, chunk {i + 1}/{len(chunks)}",
                    prompt,
                    n,
                    notes_gbnf(),
                    parse_notes,
                    self.notes_quality(self.text_of(c)),
                    self.notes_prefix,
                    where=self.span_words(c.start_s, c.end_s, part.index + 1),
                )
                self.notes_flags += flags
                pn.notes.append(notes)
                pn.spans.append((c.start_s, c.end_s))
                records.append(
                    ChunkRecord(
                        part.index + 1,
                        c.start_char,
                        c.end_char,
                        c.start_s,
                        c.end_s,
                        c.tokens,
                        seconds,
                    )
                )
                all_chunks.append(c)
                all_prompts.append(prompt)
            pn.rendered_tokens = self.count([n.render() for n in pn.notes])
            part_notes.append(pn)
        fraction, tokens = self.coverage(all_chunks, all_prompts)
        records = [replace(r, tokens=n) for r, n in zip(records, tokens, strict=True)]

        while True:
            self.shrink(part_notes, room)
            text, answers = self.final_prompt(cfg, part_notes)
            n = self.count([text])[0]
            over = n + self.reserve(cfg.limits.max_json_chars()) + SAFETY_TOKENS - self.n_ctx
            if over <= 0:
                break
            room -= over  # rendering joins notes a little differently from counting them apart
        self.planned = self.pass_no + 1
        summary, flags, _ = self.generate(
            "final",
            None,
            "summary from the notes",
            text,
            n,
            cfg.gbnf(),
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
        return self.result(summary, flags, "multi-pass", cfg, fraction, records)

    def shrink(self, part_notes: list[_PartNotes], room: int) -> None:
        """Merge consecutive notes of the parts until all of them fit in ``room`` tokens."""
        while sum(pn.tokens for pn in part_notes) > room:
            total = sum(pn.tokens for pn in part_notes)
            mergeable = [pn for pn in part_notes if len(pn.notes) > 1]
            if not mergeable:
                # One set of notes per part and still too long: rewrite the longest (not yet
                # condensed) with the short-notes grammar.
                longest = max(
                    (pn for pn in part_notes if not pn.condensed),
                    key=lambda pn: pn.tokens,
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
                + sum(max(1, math.floor(len(pn.notes) * ratio)) for pn in mergeable)
                + 1
            )
            for pn in mergeable:
                target = max(1, min(len(pn.notes) - 1, math.floor(len(pn.notes) * ratio)))
                self.merge_part(pn, target)

    def condense(self, pn: _PartNotes) -> None:
        """Rewrite a part's single set of notes shorter (a pass with the short-notes grammar)."""
        head = _title_line(self.title, self.chat) + (
            f"{marker(pn.part, self.chat)}\n"
            "Notes on this stretch, to rewrite shorter (keep what matters most):\n\n"
        )
        prompt = self.notes_prompt(head + pn.notes[0].render())
        condensed = self.merge_pass(
            pn,
            f"condensing the notes of part {pn.part.index + 1}/{len(self.parts)}",
            prompt,
            self.count([prompt])[0],
            short_notes_gbnf(),
            [pn.notes[0]],
            (pn.part.start_s, pn.part.end_s),
        )
        pn.notes = [condensed]
        pn.rendered_tokens = self.count([condensed.render()])
        pn.condensed = True

    def merge_pass(
        self,
        pn: _PartNotes,
        label: str,
        prompt: str,
        size: int,
        grammar: str,
        sources: Sequence[Notes],
        span: tuple[float | None, float | None],
    ) -> Notes:
        """One pass that rewrites ``sources`` (notes of part ``pn``, covering ``span`` of the
        video) as one set of notes; its flags count among the notes' flags."""
        notes, flags, _ = self.generate(
            "merge",
            pn.part.index + 1,
            label,
            prompt,
            size,
            grammar,
            parse_notes,
            self.notes_quality("\n".join(n.render() for n in sources)),
            self.notes_prefix,
            where=self.span_words(*span, pn.part.index + 1),
        )
        self.notes_flags += flags
        return notes

    def merge_part(self, pn: _PartNotes, target: int) -> None:
        """Replace the part's notes by ``target`` (or a few more, if a group would not fit a
        prompt) merged notes of consecutive groups."""
        n = len(pn.notes)
        groups = _balanced_groups(pn.rendered_tokens, target)
        answer = self.reserve(notes_max_json_chars())
        new_notes: list[Notes] = []
        new_spans: list[tuple[float | None, float | None]] = []
        queue = list(groups)
        while queue:
            idx = queue.pop(0)
            if len(idx) == 1:
                new_notes.append(pn.notes[idx[0]])
                new_spans.append(pn.spans[idx[0]])
                continue
            prompt = self.notes_prompt(self.merge_body(pn, idx))
            size = self.count([prompt])[0]
            if size + answer + SAFETY_TOKENS > self.n_ctx:
                half = len(idx) // 2
                queue[:0] = [idx[:half], idx[half:]]
                continue
            merged = self.merge_pass(
                pn,
                f"merging {len(idx)} notes of part {pn.part.index + 1}/{len(self.parts)}",
                prompt,
                size,
                notes_gbnf(),
                [pn.notes[i] for i in idx],
                (pn.spans[idx[0]][0], pn.spans[idx[-1]][1]),
            )
            new_notes.append(merged)
            new_spans.append((pn.spans[idx[0]][0], pn.spans[idx[-1]][1]))
        assert len(new_notes) < n or n <= 1
        pn.notes, pn.spans = new_notes, new_spans
        pn.rendered_tokens = self.count([x.render() for x in pn.notes])


def total_generation(g: Sequence[Generation]) -> Generation:
    """Totals over every pass; text and stop reason of the last."""
    return Generation(
        text=g[-1].text,
        prompt_tokens=sum(x.prompt_tokens for x in g),
        prompt_evaluated=sum(x.prompt_evaluated for x in g),
        prompt_seconds=sum(x.prompt_seconds for x in g),
        generated_tokens=sum(x.generated_tokens for x in g),
        generation_seconds=sum(x.generation_seconds for x in g),
        stop_reason=g[-1].stop_reason,
    )


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


def _answers(names: Sequence[str]) -> list[str]:
    by_name = {e.name: e.answer for e in load_examples()}
    return [by_name[n] for n in names if n in by_name]


_CPT: dict[str, float] = {}


def chars_per_token(runner: Backend) -> float:
    """Characters per token this model's tokenizer gives summary-like JSON, with a safety
    margin (measured on the few-shot answers; cached per model file)."""
    key = str(runner.info.path)
    if key not in _CPT:
        answers = [e.answer for e in load_examples()]
        counts = runner.count_tokens(answers)
        _CPT[key] = (
            min(len(a) / max(1, n) for a, n in zip(answers, counts, strict=True)) * RESERVE_SAFETY
        )
    return _CPT[key]


def summarize_long(
    transcript: Transcript,
    runner: Backend,
    chat: ChatSpec,
    *,
    sampling: Sampling | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> LongformResult:
    """A summary of the whole transcript on ``runner``'s loaded model, one pass or several.

    Raises ``GenerationError`` when no valid summary comes out or when the context is too
    small for even the smallest configuration (nothing is ever cut to make it fit).
    """
    job = _Job(transcript, runner, chat, sampling or Sampling(), progress, cancel, max_attempts)
    return job.try_one_pass() or job.run_multi()
