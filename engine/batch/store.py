"""A batch's results and their one way into the library.

Both strategies (``engine.batch.local``, ``engine.batch.servers``) describe where a summary was
made (``Made``) and hand the pipeline's result here: ``new_entry`` is the one builder of a
``NewEntry`` (provenance, coverage, flags, grounding, the dedupe key), ``store`` the one write
(a library error keeps the summary as a pending file for the next run). A ``FileResult`` carries
the stored ``Entry``, so the faces never read back the row that was just written.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine import __version__
from engine.errors import LibraryError
from engine.library.records import (
    Coverage,
    Entry,
    NewEntry,
    Provenance,
    TranscriptInfo,
    dedupe_key,
)
from engine.library.store import Library
from engine.pipeline.checks.grounding import measure
from engine.pipeline.checks.quality import failure_reason
from engine.pipeline.passes.results import LongformResult
from engine.pipeline.prompts.prompting import PROMPT_VERSION
from engine.pipeline.quotes.summary import QuoteResult, grammar_version
from engine.progress import Progress, ProgressCallback, emit
from engine.runs import Pick
from engine.runtime.base import Generation, Sampling
from engine.schema import Grounding, Summary
from engine.transcripts.types import Transcript


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
    entry: Entry | None = None  # the stored entry (new or skipped): the faces show it as is

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Made:
    """Where a summary was made, as its provenance records it. A server's model fields hold
    its model identity (``server:<model file>``, the dedupe key's); ``sampling`` adds to the
    sampling record, ``flags`` to the result's."""

    model_id: str
    model_path: str
    model_sha256: str
    quant: str | None
    backend: str  # engine.library.records.LOCAL_BACKEND or a server dialect
    n_ctx: int
    endpoint: str | None = None
    endpoint_url: str | None = None
    server_build: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    flags: tuple[str, ...] = ()


Result = LongformResult | QuoteResult


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


def coverage_of(result: Result) -> Coverage:
    """How much of the transcript a result covered, in how many passes and attempts."""
    return Coverage(
        fraction=result.fraction,
        passes=len(result.passes),
        chunks=[c.as_dict() for c in result.chunks],
        truncated=result.fraction < 1.0,
        attempts=sum(p.attempts for p in result.passes),
    )


def new_entry(
    transcript: Transcript,
    result: Result,
    made: Made,
    sampling: Sampling,
    style: Literal["abstractive", "quotes"],
    pick: Pick = "rank",
) -> NewEntry:
    """The one builder of a library entry from a pipeline result, wherever it ran."""
    gen = result.generation
    # A quote summary says how it was chosen (lexrank; whether the model picked).
    method = result.method if isinstance(result, QuoteResult) else {}
    provenance = Provenance(
        model_id=made.model_id,
        model_path=made.model_path,
        model_sha256=made.model_sha256,
        quant=made.quant,
        prompt_version=PROMPT_VERSION,
        grammar_version=grammar_version(style, pick),
        sampling={**sampling.__dict__, **method, **made.sampling},
        n_ctx=made.n_ctx,
        prompt_tokens=gen.prompt_tokens,
        prompt_seconds=round(gen.prompt_seconds, 3),
        generated_tokens=gen.generated_tokens,
        generation_seconds=round(gen.generation_seconds, 3),
        vidsum_version=__version__,
        style=style,
        backend=made.backend,
        endpoint=made.endpoint,
        endpoint_url=made.endpoint_url,
        server_build=made.server_build,
    )
    flags = [*result.all_flags(), *made.flags]
    return NewEntry(
        transcript=TranscriptInfo.from_transcript(transcript),
        summary=result.summary,
        provenance=provenance,
        coverage=coverage_of(result),
        flags=flags,
        dedupe_key=summary_key(transcript, made.model_sha256, style, pick),
        grounding=measure(result.summary, transcript.text),
        failed=failure_reason(flags),
    )


def store(
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
    emit(progress, Progress("store", item=path.name, message="Saving to the library"))
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
    entry = lib.get(entry_id)
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
        entry=entry,
    )


def from_library(path: Path, lib: Library, entry_id: int) -> FileResult:
    """The result for an input the library holds already (nothing generated)."""
    entry = lib.get(entry_id)
    return FileResult(
        file=path,
        id=entry_id,
        title=entry.transcript.title,  # the stored title, not this input's (stdin's)
        summary=entry.summary,
        skipped=True,
        failed=entry.failed,
        grounding=entry.grounding,
        entry=entry,
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
