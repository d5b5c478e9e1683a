"""Before the model: say what the work will take.

The estimate (``engine.batch.estimate``) of the files still to summarize (read by
``engine.batch.inputs``) is announced, per file and for the batch, and a big one is put to
``confirm``.

May import: ``engine.batch.estimate``, ``engine.transcripts``, ``engine.hardware`` and the
ground floor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.batch.estimate import estimate
from engine.errors import Cancelled
from engine.progress import Progress, ProgressCallback, emit
from engine.runs import Pick
from engine.transcripts.types import Transcript


@dataclass(frozen=True)
class Plan:
    """How the batch will run, as far as the estimate needs it."""

    style: Literal["abstractive", "quotes"]
    n_ctx: int
    model_path: Path
    n_threads: int | None  # None: the default (at most the physical cores)
    pick: Pick = "model"  # quotes: "rank" makes no model pass (SummarizeOptions.quote_pick)


def announce(
    todo: Sequence[tuple[Path, Transcript]],
    plan: Plan,
    progress: ProgressCallback | None,
    confirm: Callable[[str], bool] | None,
) -> None:
    """An ``estimate`` event per file and one for the batch (``extra["big"]``); when big,
    ``confirm`` is asked and False raises ``Cancelled`` before anything started."""
    if not todo:
        return
    from engine.hardware import physical_cores

    threads = plan.n_threads or physical_cores()
    try:
        size = plan.model_path.stat().st_size
    except OSError:
        size = 0  # a missing model file fails at load, with its own message
    for path, t in todo:
        one = estimate([len(t.text)], plan.style, plan.n_ctx, size, threads, plan.pick)
        emit(progress, Progress("estimate", item=path.name, message=one.words()))
    chars = [len(t.text) for _, t in todo]
    total = estimate(chars, plan.style, plan.n_ctx, size, threads, plan.pick)
    names = todo[0][0].name if len(todo) == 1 else f"{len(todo)} files"
    line = f"Estimate for {names}: {total.words()}."
    emit(progress, Progress("estimate", message=line, extra={"big": int(total.big)}))
    if total.big and confirm is not None and not confirm(line):
        raise Cancelled("Not started; nothing was summarized.")
