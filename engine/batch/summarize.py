"""The pipeline: transcript files -> prompts -> one loaded model -> validated summaries -> library.

One model stays loaded for the whole batch and the shared prompt prefix (instructions +
few-shot examples) is evaluated once; each file's own tokens are all that is evaluated after
that. Files already summarized with the same model, prompt and grammar are skipped before the
model is even loaded, so a batch killed half-way continues where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine import __version__
from engine.batch.estimate import estimate_tokens
from engine.batch.preflight import Plan, announce, read_all
from engine.errors import Cancelled, LibraryError, VidsumError
from engine.library.records import (
    LOCAL_BACKEND,
    Coverage,
    NewEntry,
    Provenance,
    TranscriptInfo,
    dedupe_key,
)
from engine.library.store import Library
from engine.modelstore.catalog import ResolvedModel
from engine.modelstore.manager import resolve_model
from engine.pipeline.checks.grounding import measure
from engine.pipeline.checks.quality import failure_reason
from engine.pipeline.longform.summary import MAX_ATTEMPTS, summarize_long
from engine.pipeline.passes.lanes import Lanes
from engine.pipeline.passes.results import LongformResult
from engine.pipeline.prompts.prompting import PROMPT_VERSION, ChatSpec
from engine.pipeline.quotes.summary import (
    Pick,
    QuoteResult,
    Style,
    grammar_version,
    resolve_style,
    summarize_quotes,
)
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit
from engine.runtime.backends import open_local
from engine.runtime.base import Backend, Generation, LoadOptions, LocalBackend, ModelInfo, Sampling
from engine.schema import Grounding, Summary
from engine.transcripts.types import Transcript

# Tokens reserved for the answer. The grammar bounds every string, so a summary always fits
# in this many tokens for a real model; a "length" stop is an error, never a stored summary.
ANSWER_TOKENS = 3072
CONTEXT_STEP = 1024


@dataclass(frozen=True)
class FileResult:
    file: Path
    id: int | None = None
    title: str | None = None
    summary: Summary | None = None
    error: str | None = None
    skipped: bool = False  # already in the library: nothing was generated
    generation: Generation | None = None
    passes: int = 0  # model passes of this run (one-pass: 1; notes, merges, final)
    attempts: int = 0  # generations over those passes, quality retries included
    # Stored, but failed the quality check (not about its own video): the reason. Never
    # presented as a good summary; the CLI exits non-zero for it.
    failed: str | None = None
    grounding: Grounding | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SummarizeOptions:
    sampling: Sampling = field(default_factory=Sampling)
    n_ctx: int | None = None  # None: sized to the batch, within the model and the machine
    n_gpu_layers: int | None = None  # None: from the fit plan (-1: every layer)
    n_threads: int | None = None  # None: the physical cores free at load (engine.hardware.busy)
    # Summarize again even when the library has this transcript with the same model, prompt
    # and grammar: the new summary replaces the stored one (same dedupe key, new id).
    force: bool = False
    # auto: quotes for the bundled default model, abstractive for every other, a server's
    # included (engine.pipeline.quotes.summary.resolve_style)
    style: Style = "auto"
    # Quote mode: the ranking alone chooses the bullets (no model loaded), or the model picks
    # among the ranking's top candidates (engine.pipeline.quotes.summary; measured in
    # EVALUATION.md).
    quote_pick: Pick = "rank"
    # Tries of a summary whose answer fails the quality check (when all fail, the least flagged
    # answer is kept, marked failed).
    attempts: int = MAX_ATTEMPTS


def options_from_settings(
    *,
    n_ctx: int | None = None,
    n_gpu_layers: int | None = None,
    n_threads: int | None = None,
    seed: int | None = None,
    temperature: float | None = None,
    force: bool = False,
    style: Style = "auto",
    attempts: int | None = None,
) -> SummarizeOptions:
    """Options from explicit values (CLI flags; ``None``: not given), else ``settings.json``,
    else vidsum's defaults. Raises ``ConfigError`` for a bad settings file."""
    from engine.settings import get_settings

    st = get_settings()
    base = Sampling()

    def pick(flag: Any, setting: Any, default: Any) -> Any:
        return flag if flag is not None else setting if setting is not None else default

    sampling = dataclasses.replace(
        base,
        seed=pick(seed, st.seed, base.seed),
        temperature=pick(temperature, st.temperature, base.temperature),
    )
    return SummarizeOptions(
        sampling=sampling,
        n_ctx=pick(n_ctx, st.n_ctx, None),
        n_gpu_layers=pick(n_gpu_layers, st.gpu_layers, None),
        n_threads=pick(n_threads, st.threads, None),
        force=force,
        style=style,
        attempts=MAX_ATTEMPTS if attempts is None else attempts,
    )


def chat_spec(model: ResolvedModel, info: ModelInfo, runner: Backend | None = None) -> ChatSpec:
    if model.chat_format == "mistral-instruct":
        # Tokenizer v3 (Mistral v0.3) has [INST] as one control token and wants v3 spacing.
        if runner is not None and len(runner.tokenize("[INST]", special=True)) == 1:
            return ChatSpec("mistral-instruct-v3", None, info.bos_text, info.eos_text)
        return ChatSpec("mistral-instruct", None, info.bos_text, info.eos_text)
    if info.chat_template:
        return ChatSpec("gguf-template", info.chat_template, info.bos_text, info.eos_text)
    return ChatSpec("plain", None, info.bos_text, info.eos_text)


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step


class _Batch:
    """Owns the runner for one batch: loaded on first need, closed at the end."""

    def __init__(
        self,
        model: ResolvedModel,
        options: SummarizeOptions,
        n_ctx: int,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> None:
        self.model = model
        self.options = options
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


def _context_for(
    transcripts: Sequence[Transcript], model: ResolvedModel, options: SummarizeOptions
) -> int:
    if options.n_ctx:
        return options.n_ctx
    if resolve_style(options.style, model.source) == "quotes":
        # Stretch by stretch: one part's sentences at a time, in any context (the model is
        # loaded only when it picks among the ranking's top candidates).
        part = max((estimate_tokens(len(t.text)) // 5 for t in transcripts), default=0)
        want = _round_up(part + 2048, CONTEXT_STEP)
        return max(4096, min(want, 8192, model.n_ctx_train or want))
    # Few-shot prefix (~3k tokens) + the longest transcript + the answer.
    longest = max((estimate_tokens(len(t.text)) for t in transcripts), default=0)
    want = _round_up(longest + 3072 + ANSWER_TOKENS, CONTEXT_STEP)
    return max(4096, min(want, model.n_ctx_train or want))


def summarize_transcript(
    transcript: Transcript,
    batch: _Batch,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Summary, Generation, Coverage, list[str], dict[str, Any]]:
    """One validated summary of the whole transcript on the batch's loaded model.

    One pass when the transcript fits the context, else notes per chunk and a final pass over
    the notes (``engine.pipeline.longform.summary``); nothing is ever cut. Returns the summary
    (sections
    carry
    their parts' time ranges when the transcript is timed), totals over every pass, the
    coverage, and flags: degenerate output that survived the retries, or a reduced
    configuration (no few-shot examples, compact grammar). Empty flags: a clean summary. The
    last item: how a quote summary was chosen (empty for abstractive ones). A quote summary
    chosen by the ranking alone never loads the model.
    """
    style = resolve_style(batch.options.style, batch.model.source)
    pick = batch.options.quote_pick
    if style == "quotes" and pick == "rank":
        result: LongformResult | QuoteResult = summarize_quotes(
            transcript, None, None, progress=progress, cancel=cancel
        )
    else:
        runner, info = batch.ensure_loaded()
        result = summarize_styled(
            style,
            transcript,
            runner,
            chat_spec(batch.model, info, runner),
            sampling=batch.options.sampling,
            progress=progress,
            cancel=cancel,
            max_attempts=batch.options.attempts,
            quote_pick=pick,
        )
    method = result.method if isinstance(result, QuoteResult) else {}
    return result.summary, result.generation, coverage_of(result), result.all_flags(), method


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
    """One summary of the whole transcript on any backend, in the resolved ``style`` (the
    local batch and the server batch both run this). ``lanes`` (a server's idle slots) run a
    long-form summary's notes passes side by side; quote passes run one after another."""
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


def coverage_of(result: LongformResult | QuoteResult) -> Coverage:
    """How much of the transcript a result covered, in how many passes and attempts."""
    return Coverage(
        fraction=result.fraction,
        passes=len(result.passes),
        chunks=[c.as_dict() for c in result.chunks],
        truncated=result.fraction < 1.0,
        attempts=sum(p.attempts for p in result.passes),
    )


def summarize_files(
    paths: Sequence[Path | str | Transcript],
    *,
    model: str | None = None,
    library: Library | None = None,
    options: SummarizeOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> Iterator[FileResult]:
    """Summarize each file, yielding one result per file in order.

    An item may also be an already loaded ``Transcript`` (standard input): its ``source`` names
    it in the result. A bad file yields an error result and the batch goes on; cancellation
    raises ``Cancelled`` after closing the model (nothing partial is ever stored). Summaries
    that an earlier run generated but could not store (a full disk) are stored first.

    Before the model is loaded, the work left is estimated (an ``estimate`` event for the batch
    and one per file); when it is big (``engine.batch.estimate.Estimate.big``), ``confirm``
    is asked with the estimate's sentence and False raises ``Cancelled`` (nothing started).
    """
    options = options or options_from_settings()
    own_library = library is None
    lib = library if library is not None else Library()
    try:
        lib.check_writable("store new summaries")  # before minutes of work, not after
        store_pending(lib, progress)
        resolved = resolve_model(model, progress=progress, cancel=cancel)
        # Read everything first: bad files are reported without loading a model, and the
        # context can be sized once for the whole batch.
        loaded = read_all(paths, progress, cancel)
        pending = [t for _, t, _ in loaded if t is not None]
        n_ctx = _context_for(pending, resolved, options)
        style = resolve_style(options.style, resolved.source)
        announce(
            [
                (path, t)
                for path, t, _ in loaded
                if t is not None
                and (options.force or lib.find(summary_key(t, resolved.sha256, style)) is None)
            ],
            Plan(style, n_ctx, resolved.path, options.n_threads, options.quote_pick),
            progress,
            confirm,
        )
        batch = _Batch(resolved, options, n_ctx, progress, cancel)
        try:
            for path, transcript, error in loaded:
                if transcript is None:
                    yield FileResult(file=path, error=error)
                    continue
                yield _one(path, transcript, resolved, batch, lib, progress, cancel)
        finally:
            batch.close()
    finally:
        if own_library:
            lib.close()


def _one(
    path: Path,
    transcript: Transcript,
    model: ResolvedModel,
    batch: _Batch,
    lib: Library,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> FileResult:
    """One file: skip it when stored, else summarize and store it. Slightly past 60 lines: the
    skip, the generation and the error-to-result mapping read best as one sequence."""
    title = transcript.display_title
    style = resolve_style(batch.options.style, model.source)
    pick = batch.options.quote_pick
    key = summary_key(transcript, model.sha256, style, pick)
    existing = None if batch.options.force else lib.find(key)
    if existing is not None:
        entry = lib.get(existing)
        return FileResult(
            file=path,
            id=existing,
            title=entry.transcript.title,  # the stored title, not this input's (stdin's)
            summary=entry.summary,
            skipped=True,
            failed=entry.failed,
            grounding=entry.grounding,
        )
    started = time.monotonic()
    try:
        summary, gen, coverage, flags, method = summarize_transcript(
            transcript, batch, progress=_tagged(progress, path.name), cancel=cancel
        )
    except Cancelled:
        raise
    except VidsumError as exc:
        return FileResult(file=path, title=title, error=str(exc))
    check(cancel)
    grounding = measure(summary, transcript.text)
    failed = failure_reason(flags)
    emit(progress, Progress("store", item=path.name, message="Saving to the library"))
    provenance = Provenance(
        model_id=model.id,
        model_path=str(model.path),
        model_sha256=model.sha256,
        quant=model.quant,
        prompt_version=PROMPT_VERSION,
        grammar_version=grammar_version(style, pick),
        # A quote summary says how it was chosen (lexrank; whether the model picked).
        sampling=dict(batch.options.sampling.__dict__) | method,
        n_ctx=batch.info.n_ctx if batch.info else 0,
        prompt_tokens=gen.prompt_tokens,
        prompt_seconds=round(gen.prompt_seconds, 3),
        generated_tokens=gen.generated_tokens,
        generation_seconds=round(gen.generation_seconds, 3),
        vidsum_version=__version__,
        style=style,
        backend=LOCAL_BACKEND,  # vidsum's own llama.cpp worker: no endpoint, URL or build
    )
    new = NewEntry(
        transcript=TranscriptInfo.from_transcript(transcript),
        summary=summary,
        provenance=provenance,
        coverage=coverage,
        flags=flags,
        dedupe_key=key,
        grounding=grounding,
        failed=failed,
    )
    return add_summary(path, title, new, gen, started, lib, batch.options.force, progress)


def add_summary(
    path: Path,
    title: str,
    new: NewEntry,
    gen: Generation,
    started: float,
    lib: Library,
    force: bool,
    progress: ProgressCallback | None,
    endpoint: str | None = None,
) -> FileResult:
    """Store one new summary; a library error keeps it for the next run (see ``_kept``).

    ``force`` replaces the entry under the same dedupe key in the storing transaction, so the
    old summary stays until the new one is stored. ``endpoint``: the server that made it."""
    try:
        entry_id = lib.add(new, replace=force)
    except LibraryError as exc:
        # The generation may have taken minutes: keep it for the next run, go on with the batch.
        return FileResult(
            file=path,
            title=title,
            summary=new.summary,
            generation=gen,
            error=_kept(lib, new, exc, replace=force),
        )
    coverage = new.coverage
    attempts = coverage.attempts or coverage.passes
    took = f"{time.monotonic() - started:.1f} s ({passes_words(coverage.passes, attempts)})"
    extra: dict[str, Any] = {"passes": coverage.passes, "attempts": attempts}
    if endpoint:
        took += f" on {endpoint}"
        extra["endpoint"] = endpoint
    emit(progress, Progress("done", item=path.name, message=f"Done in {took}", extra=extra))
    return FileResult(
        file=path,
        id=entry_id,
        title=title,
        summary=new.summary,
        generation=gen,
        passes=coverage.passes,
        attempts=attempts,
        failed=new.failed,
        grounding=new.grounding,
    )


def passes_words(passes: int, attempts: int) -> str:
    """``1 pass``, ``1 pass, 3 attempts``, ``21 passes, 23 attempts``: retries are counted;
    ``no model pass`` (quote mode's ranking)."""
    if passes == 0:
        return "no model pass"
    words = f"{passes} pass{'' if passes == 1 else 'es'}"
    return words if attempts == passes else f"{words}, {attempts} attempts"


def _kept(lib: Library, entry: NewEntry, exc: LibraryError, *, replace: bool) -> str:
    """Keep an entry the library refused as a pending file; the sentence that says so."""
    reason = str(exc).rstrip(".")
    try:
        kept = lib.keep_pending(entry, replace=replace)
    except LibraryError as keep_exc:
        return f"{reason}; the generated summary is lost: {keep_exc}"
    if "full" in reason.lower():
        folder = lib.path.parent
        try:
            free = shutil.disk_usage(folder).free
            room = f" ({free / 2**20:.1f} MiB free now)"
        except OSError:
            room = ""
        fix = (
            f"free space on the disk that holds {folder}{room}, then run `vidsum summarize` "
            "again: it stores kept summaries first"
        )
    else:
        fix = "fix that, then run `vidsum summarize` again: it stores kept summaries first"
    return f"{reason}. The generated summary was kept in {kept}; {fix}."


def store_pending(lib: Library, progress: ProgressCallback | None) -> None:
    """Store the summaries an earlier run generated but could not store (a full disk)."""
    if not lib.pending_files():
        return
    ids = lib.store_pending()
    listed = ", ".join(f"#{i}" for i in ids)
    emit(
        progress,
        Progress(
            "notice",
            message=f"Stored {len(ids)} {'summary' if len(ids) == 1 else 'summaries'} that an "
            f"earlier run generated but could not store: {listed}.",
        ),
    )


def summary_key(
    transcript: Transcript,
    model: str,
    style: Literal["abstractive", "quotes"],
    pick: Pick = "rank",
) -> str:
    """The dedupe key: a quote summary and an abstractive one are different entries, and so
    are a local model's (``model``: its sha256) and a server's (``server:<model file>``), and
    quotes chosen by the ranking or by the model."""
    return dedupe_key(transcript.content_hash, model, PROMPT_VERSION, grammar_version(style, pick))


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
