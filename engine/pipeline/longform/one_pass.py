"""The one-pass summary: the whole transcript, in five marked parts, in one prompt.

The richest configuration that fits wins (two few-shot examples and the full grammar, then no
examples, then the compact grammar). Imports the job, the budgets and prompting.
"""

from __future__ import annotations

from engine.pipeline.passes.budget import LADDER, SAFETY_TOKENS
from engine.pipeline.passes.job import SummaryJob
from engine.pipeline.passes.results import ChunkRecord, LongformResult
from engine.pipeline.prompts.instructions import instructions
from engine.pipeline.prompts.prompting import build_summary_prompt, load_examples


def _answers(names: list[str]) -> list[str]:
    by_name = {e.name: e.answer for e in load_examples()}
    return [by_name[n] for n in names if n in by_name]


def try_one_pass(job: SummaryJob) -> LongformResult | None:
    """The summary in one pass, or None when no configuration fits the context."""
    if job.text_map.total_tokens + SAFETY_TOKENS >= job.n_ctx:
        return None  # the transcript alone is bigger than the context
    marked = job.marked_text()
    for cfg in LADDER:
        prompt = build_summary_prompt(
            marked,
            job.chat,
            title=job.title,
            exclude_hash=job.transcript.content_hash,
            n_examples=cfg.examples,
        )
        n = len(job.runner.tokenize(prompt.text))
        if n + job.reserve(cfg.limits.max_json_chars()) + SAFETY_TOKENS > job.n_ctx:
            continue
        answers = _answers(prompt.example_names)
        summary, flags, seconds = job.generate(
            "one-pass",
            None,
            "summary",
            prompt.text,
            n,
            cfg.constraint(),
            job.summary_parser(),
            job.quality(answers, instructions()),
            prompt.shared_prefix,
            where=job.whole_video(),
        )
        fraction, tokens = job.coverage(job.parts, [prompt.text] * len(job.parts))
        chunks = [
            ChunkRecord(p.index + 1, p.start_char, p.end_char, p.start_s, p.end_s, n_tok, seconds)
            for p, n_tok in zip(job.parts, tokens, strict=True)
        ]
        return job.result(summary, flags, "one-pass", cfg, fraction, chunks)
    return None
