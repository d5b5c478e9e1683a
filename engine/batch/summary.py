"""One summary on any backend: the prompt format a model gets and the style it is made in.

Both strategies (``engine.batch.local``, ``engine.batch.servers``) choose the prompt format with
``chat_spec`` and run the pipeline through ``summarize_styled``, so a model file summarizes the
same way whether vidsum's worker or a server runs it.
"""

from __future__ import annotations

from typing import Literal

from engine.pipeline.longform.summary import summarize_long
from engine.pipeline.passes.lanes import Lanes
from engine.pipeline.passes.results import LongformResult
from engine.pipeline.prompts.prompting import ChatSpec
from engine.pipeline.quotes.summary import QuoteResult, summarize_quotes
from engine.progress import CancelToken, ProgressCallback
from engine.runs import Pick
from engine.runtime.base import Backend, ModelInfo, Sampling, ServerInfo
from engine.transcripts.types import Transcript


def chat_spec(
    info: ModelInfo | ServerInfo, backend: Backend | None = None, chat_format: str | None = None
) -> ChatSpec:
    """The prompt format for a model: the catalog's ``chat_format`` when it names one (Mistral's
    instruct format), else the GGUF chat template (rendered by vidsum), else plain text.

    Mistral's tokenizer v3 (v0.3) has ``[INST]`` as one control token and wants v3 spacing.
    llama-server reports a ChatML template for a model that has none (its fallback); when the
    served model's vocabulary has no ``<|im_start|>`` token that template is not the model's,
    and the prompt is plain text, as the local worker renders it for the same file."""
    if chat_format == "mistral-instruct":
        if backend is not None and len(backend.tokenize("[INST]", special=True)) == 1:
            return ChatSpec("mistral-instruct-v3", None, info.bos_text, info.eos_text)
        return ChatSpec("mistral-instruct", None, info.bos_text, info.eos_text)
    template = info.chat_template
    if (
        isinstance(info, ServerInfo)
        and template
        and "<|im_start|>" in template
        and backend is not None
        and len(backend.tokenize("<|im_start|>")) != 1
    ):
        template = None
    if template:
        return ChatSpec("gguf-template", template, info.bos_text, info.eos_text)
    return ChatSpec("plain", None, info.bos_text, info.eos_text)


def summarize_styled(
    style: Literal["abstractive", "quotes"],
    transcript: Transcript,
    backend: Backend,
    chat: ChatSpec,
    *,
    sampling: Sampling,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    max_attempts: int,
    lanes: Lanes | None = None,
    quote_pick: Pick = "rank",
) -> LongformResult | QuoteResult:
    """One summary of the whole transcript on any backend, in the resolved ``style``. ``lanes``
    (a server's idle slots) run a long-form summary's notes passes side by side; quote passes
    run one after another."""
    if style == "quotes":
        return summarize_quotes(
            transcript,
            backend,
            chat,
            pick=quote_pick,
            sampling=sampling,
            progress=progress,
            cancel=cancel,
            max_attempts=max_attempts,
        )
    return summarize_long(
        transcript,
        backend,
        chat,
        sampling=sampling,
        progress=progress,
        cancel=cancel,
        max_attempts=max_attempts,
        lanes=lanes,
    )
