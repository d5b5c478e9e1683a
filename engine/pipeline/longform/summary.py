"""Whole-video summaries whatever the transcript's length: nothing is ever cut.

Every transcript is first split into five parts (``engine.pipeline.parts.chunking``: chapters when
present, else balanced token counts at pauses and sentence ends); part N becomes section N and gives
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

The final answer is checked by ``engine.pipeline.checks.quality``; a flagged answer is retried with
another seed, and if every attempt is flagged the least flagged one comes back with its flags.

The pieces: ``budget`` (token reserves, the configurations), ``attempts`` (one pass with
retries), ``job`` (what every job shares), ``one_pass``, ``multipass``, ``longform_prompts``
(prompt text comes from ``instructions``) and ``results``. This module is the entry point and
imports them all.
"""

from __future__ import annotations

from engine.pipeline.longform.multipass import MultiPassJob
from engine.pipeline.longform.one_pass import try_one_pass
from engine.pipeline.passes.attempts import MAX_ATTEMPTS
from engine.pipeline.passes.budget import Config
from engine.pipeline.passes.lanes import Lanes
from engine.pipeline.passes.results import ChunkRecord, LongformResult, PassRecord
from engine.pipeline.prompts.prompting import ChatSpec
from engine.progress import CancelToken, ProgressCallback
from engine.runtime.base import Backend, Sampling
from engine.transcripts.types import Transcript

__all__ = [
    "MAX_ATTEMPTS",
    "ChunkRecord",
    "Config",
    "LongformResult",
    "PassRecord",
    "summarize_long",
]


def summarize_long(
    transcript: Transcript,
    runner: Backend,
    chat: ChatSpec,
    *,
    sampling: Sampling | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    lanes: Lanes | None = None,
) -> LongformResult:
    """A summary of the whole transcript on ``runner``'s loaded model, one pass or several.

    Raises ``GenerationError`` when no valid summary comes out or when the context is too
    small for even the smallest configuration (nothing is ever cut to make it fit).
    With ``lanes`` (a server's idle slots) the notes passes run side by side.
    """
    job = MultiPassJob(
        transcript, runner, chat, sampling or Sampling(), progress, cancel, max_attempts
    )
    job.lanes = lanes
    return try_one_pass(job) or job.run()
