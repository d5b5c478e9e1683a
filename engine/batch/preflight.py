"""Before the model: read the batch's transcripts and say what the work will take.

Reading a 50 MB transcript is seconds of C calls (decoding, whitespace splitting) that cannot
look at a cancel token, so each file is read in a thread of its own while the caller's thread
watches the token: a cancel returns at once and the abandoned read finishes unobserved (it
has no side effects). Then the estimate (``engine.batch.estimate``) of the files still to
summarize is announced, per file and for the batch, and a big one is put to ``confirm``.

May import: ``engine.batch.estimate``, ``engine.transcripts``, ``engine.hardware`` and the
ground floor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.batch.estimate import Pick, estimate
from engine.errors import Cancelled, VidsumError
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit
from engine.transcripts.readers import load_transcript
from engine.transcripts.types import Transcript

_POLL_S = 0.05

Loaded = tuple[Path, Transcript | None, str | None]  # (file, transcript, error)


def read_all(
    paths: Sequence[Path | str | Transcript],
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> list[Loaded]:
    """Every input read (an already loaded ``Transcript`` kept as is); a bad file is its error
    sentence, so it is reported without a model being loaded."""
    loaded: list[Loaded] = []
    for raw in paths:
        if isinstance(raw, Transcript):
            loaded.append((raw.source, raw, None))
            continue
        path = Path(raw)
        check(cancel)
        try:
            size: float | None = path.stat().st_size
        except OSError:
            size = None  # the reader says what is wrong
        emit(
            progress,
            Progress("read", 0, size, unit="B", item=path.name, message=f"Reading {path.name}"),
        )
        try:
            loaded.append((path, read_one(path, cancel), None))
        except Cancelled:
            raise
        except VidsumError as exc:
            loaded.append((path, None, str(exc)))
    check(cancel)
    return loaded


def read_one(path: Path, cancel: CancelToken | None) -> Transcript:
    """``load_transcript(path)``, given up as soon as ``cancel`` is set (see the module doc)."""
    if cancel is None:
        return load_transcript(path)
    box: list[Transcript | BaseException] = []

    def work() -> None:
        try:
            box.append(load_transcript(path))
        except BaseException as exc:  # handed to the caller's thread below
            box.append(exc)

    reader = threading.Thread(target=work, name="vidsum-read", daemon=True)
    reader.start()
    while reader.is_alive():
        reader.join(_POLL_S)
        check(cancel)
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return result


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
