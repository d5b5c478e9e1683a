"""The local strategy: a batch on one model loaded on this machine.

One model stays loaded for the whole batch and the shared prompt prefix (instructions +
few-shot examples) is evaluated once; each file's own tokens are all that is evaluated after
that. The context is sized once for the batch (``_context_for``) and the GPU layers come from
the fit planner unless given. Files already summarized with the same model, prompt and grammar
are skipped before the model is even loaded, so a batch killed half-way continues where it
stopped. Results are stored through ``engine.batch.store``, as the server strategy's are.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from engine.batch.inputs import Dedupe, read_all
from engine.batch.options import Job, RunOptions
from engine.batch.preflight import Plan, announce
from engine.batch.store import FileResult, Made, Result, from_library, new_entry, store
from engine.batch.summary import chat_spec, summarize_styled
from engine.errors import Cancelled, VidsumError
from engine.library.records import LOCAL_BACKEND
from engine.library.store import Library
from engine.modelstore.catalog import ResolvedModel
from engine.modelstore.manager import resolve_model
from engine.pipeline.parts.tokens import estimate_tokens
from engine.pipeline.quotes.summary import resolve_style, summarize_quotes
from engine.progress import CancelToken, Progress, ProgressCallback, check
from engine.runtime.backends import open_local
from engine.runtime.base import LoadOptions, LocalBackend, ModelInfo
from engine.transcripts.types import Transcript

# Tokens reserved for the answer. The grammar bounds every string, so a summary always fits
# in this many tokens for a real model; a "length" stop is an error, never a stored summary.
ANSWER_TOKENS = 3072
CONTEXT_STEP = 1024


class _Batch:
    """Owns the runner for one batch: loaded on first need, closed at the end."""

    def __init__(
        self,
        model: ResolvedModel,
        options: RunOptions,
        style: Literal["abstractive", "quotes"],
        n_ctx: int,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> None:
        self.model = model
        self.options = options
        self.style = style  # resolved once for the batch's model (quotes.resolve_style)
        self.n_ctx = n_ctx
        self.progress = progress
        self.cancel = cancel
        self.runner: LocalBackend | None = None
        self.info: ModelInfo | None = None

    def ensure_loaded(self) -> tuple[LocalBackend, ModelInfo]:
        if self.runner is None or self.info is None:
            n_gpu = self.options.n_gpu_layers
            if n_gpu is None:
                n_gpu = _planned_gpu_layers(self.model, self.n_ctx)
            runner = open_local(
                LoadOptions(
                    model_path=self.model.path,
                    n_ctx=self.n_ctx,
                    n_gpu_layers=n_gpu,
                    n_threads=self.options.n_threads,
                )
            )
            self.info = runner.load(progress=self.progress, cancel=self.cancel)
            self.runner = runner
        return self.runner, self.info

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
            self.runner = None


def _planned_gpu_layers(model: ResolvedModel, n_ctx: int) -> int:
    """GPU layers from the fit planner; 0 when the build cannot offload or nothing fits."""
    try:
        from engine.hardware import detect, plan, shape_from_header
        from engine.modelfile.header import check_gguf

        hw = detect()
        if not hw.build.gpu_offload or not hw.gpus:
            return 0
        shape = shape_from_header(check_gguf(model.path))
        return plan(shape, model.path.stat().st_size, n_ctx, hw).n_gpu_layers
    except (ImportError, VidsumError, OSError):
        return 0


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step


def _context_for(
    transcripts: Sequence[Transcript],
    model: ResolvedModel,
    options: RunOptions,
    style: Literal["abstractive", "quotes"],
) -> int:
    if options.n_ctx:
        return options.n_ctx
    if style == "quotes":
        # Stretch by stretch: one part's sentences at a time, in any context (the model is
        # loaded only when it picks among the ranking's top candidates).
        part = max((estimate_tokens(len(t.text)) // 5 for t in transcripts), default=0)
        want = _round_up(part + 2048, CONTEXT_STEP)
        return max(4096, min(want, 8192, model.n_ctx_train or want))
    # Few-shot prefix (~3k tokens) + the longest transcript + the answer.
    longest = max((estimate_tokens(len(t.text)) for t in transcripts), default=0)
    want = _round_up(longest + 3072 + ANSWER_TOKENS, CONTEXT_STEP)
    return max(4096, min(want, model.n_ctx_train or want))


def run_local(
    paths: Sequence[Path | str | Transcript],
    model: str | None,
    job: Job,
) -> Iterator[FileResult]:
    """One result per input, in order, on ``model`` (see ``engine.batch.run.run``)."""
    lib, options, progress, cancel = job.library, job.options, job.progress, job.cancel
    resolved = resolve_model(model, progress=progress, cancel=cancel)
    # Read everything first: bad files are reported without loading a model, and the
    # context can be sized once for the whole batch.
    loaded = read_all(paths, progress, cancel)
    style = resolve_style(options.style, resolved.source)
    n_ctx = _context_for([t for _, t, _ in loaded if t is not None], resolved, options, style)
    dedupe = Dedupe((resolved.sha256,), style, options.quote_pick, options.force)
    announce(
        [(p, t) for p, t, _ in loaded if t is not None and dedupe.stored(lib, t) is None],
        Plan(style, n_ctx, resolved.path, options.n_threads, options.quote_pick),
        progress,
        job.confirm,
    )
    batch = _Batch(resolved, options, style, n_ctx, progress, cancel)
    try:
        for path, transcript, error in loaded:
            if transcript is None:
                yield FileResult(file=path, error=error)
                continue
            # Asked now, not when read: an input given twice is summarized once.
            existing = dedupe.stored(lib, transcript)
            if existing is not None:
                yield from_library(path, lib, existing)
                continue
            yield _one(path, transcript, batch, lib)
    finally:
        batch.close()


def _one(
    path: Path,
    transcript: Transcript,
    batch: _Batch,
    lib: Library,
) -> FileResult:
    """One file summarized and stored; a bad one is its error result."""
    options, model, progress, cancel = batch.options, batch.model, batch.progress, batch.cancel
    started = time.monotonic()
    try:
        result = summarize_transcript(
            transcript, batch, progress=_tagged(progress, path.name), cancel=cancel
        )
    except VidsumError as exc:
        if isinstance(exc, Cancelled):
            raise  # the batch ends; a file's own error is its result and the batch goes on
        return FileResult(file=path, title=transcript.display_title, error=str(exc))
    check(cancel)
    made = Made(
        model_id=model.id,
        model_path=str(model.path),
        model_sha256=model.sha256,
        quant=model.quant,
        backend=LOCAL_BACKEND,  # vidsum's own llama.cpp worker: no endpoint, URL or build
        n_ctx=batch.info.n_ctx if batch.info else 0,
    )
    new = new_entry(transcript, result, made, options.sampling, batch.style, options.quote_pick)
    return store(
        path,
        transcript.display_title,
        new,
        result.generation,
        started,
        lib,
        options.force,
        progress,
    )


def summarize_transcript(
    transcript: Transcript,
    batch: _Batch,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Result:
    """One validated summary of the whole transcript on the batch's loaded model.

    One pass when the transcript fits the context, else notes per chunk and a final pass over
    the notes (``engine.pipeline.longform.summary``); nothing is ever cut. A quote summary
    chosen by the ranking alone never loads the model.
    """
    style, pick = batch.style, batch.options.quote_pick
    if style == "quotes" and pick == "rank":
        return summarize_quotes(transcript, None, None, progress=progress, cancel=cancel)
    runner, info = batch.ensure_loaded()
    return summarize_styled(
        style,
        transcript,
        runner,
        chat_spec(info, runner, batch.model.chat_format),
        sampling=batch.options.sampling,
        progress=progress,
        cancel=cancel,
        max_attempts=batch.options.attempts,
        quote_pick=pick,
    )


def _tagged(progress: ProgressCallback | None, item: str) -> ProgressCallback | None:
    """Stamp events from the runner with the file they belong to (the runner names the model
    file; a caller tracking files, like the TUI's queue, needs the transcript's name)."""
    if progress is None:
        return None

    def forward(ev: Progress) -> None:
        if ev.item != item:
            with contextlib.suppress(Exception):
                ev = Progress(
                    ev.stage, ev.done, ev.total, ev.rate, ev.unit, ev.message, item, ev.extra
                )
        progress(ev)

    return forward
