"""The one batch entry: ``run(inputs, on=Local(model) | Servers(names), ...)``.

Everything a batch does before its strategy starts is here, once: the options settled
(``engine.batch.options.resolve``), the library checked writable and the summaries an earlier
run could not store stored first. Then the strategy runs: ``engine.batch.local`` (one loaded
model) or ``engine.batch.servers`` (endpoints, slots, lanes); both read and dedupe through
``engine.batch.inputs`` and store through ``engine.batch.store``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from engine.batch.options import Job, RunOptions, resolve
from engine.batch.store import FileResult, store_pending
from engine.library.store import Library
from engine.progress import CancelToken, ProgressCallback
from engine.runs import Local, SummarizeOptions, Where
from engine.transcripts.types import Transcript


def run(
    inputs: Sequence[Path | str | Transcript],
    on: Where | None = None,
    *,
    library: Library | None = None,
    options: SummarizeOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    confirm: Callable[[str], bool] | None = None,
) -> Iterator[FileResult]:
    """Summarize each input into the library, one result per input (a bad file is an error
    result and the batch goes on; a stored one is skipped unless ``options.force``).

    ``on``: ``Local(model)`` (None: the default model here), results in input order; or
    ``Servers(names)``, results as they complete. An input may be an already loaded
    ``Transcript`` (standard input; local only). ``options`` not given fall back to
    ``settings.json``, then to vidsum's defaults; a bad settings file raises ``ConfigError``
    now, before anything is read. Cancellation raises ``Cancelled`` once the model or every
    request is closed; nothing partial is ever stored. A local batch asks ``confirm`` with the
    estimate's sentence before a big run (False raises ``Cancelled``, nothing started).
    ``library`` None: the default library, opened for the batch and closed after it.
    """
    settled = resolve(options)
    return _run(inputs, on or Local(), library, settled, progress, cancel, confirm)


def _run(
    inputs: Sequence[Path | str | Transcript],
    on: Where,
    library: Library | None,
    options: RunOptions,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    confirm: Callable[[str], bool] | None,
) -> Iterator[FileResult]:
    lib = library if library is not None else Library()
    try:
        lib.check_writable("store new summaries")  # before minutes of work, not after
        store_pending(lib, progress)
        job = Job(lib, options, progress, cancel, confirm)
        if isinstance(on, Local):
            from engine.batch.local import run_local

            yield from run_local(inputs, on.model, job)
        else:
            from engine.batch.servers import run_servers

            yield from run_servers(inputs, on.names, job)
    finally:
        if library is None:
            lib.close()
