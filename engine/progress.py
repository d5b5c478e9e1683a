"""Progress reporting and cancellation shared by every long engine operation.

Long work is a plain function taking ``progress: ProgressCallback | None`` and
``cancel: CancelToken | None``. The CLI turns events into a progress bar, the TUI into worker
messages. Callbacks are invoked from the engine's thread; they must be quick and must not raise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from engine.errors import Cancelled

Stage = Literal[
    "read",  # reading / parsing the transcript
    "load",  # loading a model into the worker
    "prompt",  # evaluating prompt tokens
    "generate",  # generating tokens
    "store",  # writing to the library
    "download",  # fetching a model file
    "verify",  # hashing a file
    "done",
    "notice",  # a one-off message the user should see (e.g. which model was chosen and why)
]


@dataclass(frozen=True)
class Progress:
    stage: Stage
    done: float = 0  # units of work finished in this stage (tokens, bytes, ...)
    total: float | None = None  # None when unknown
    rate: float | None = None  # units per second, when meaningful
    unit: str = ""  # "tok", "B", ...
    message: str = ""
    item: str | None = None  # which input (file name / model id) this is about
    extra: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

    @property
    def eta(self) -> float | None:
        if self.total is None or not self.rate:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


ProgressCallback = Callable[[Progress], None]


def emit(callback: ProgressCallback | None, event: Progress) -> None:
    if callback is not None:
        callback(event)


class CancelToken:
    """A thread-safe cancel flag. ``cancel()`` may be called from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()
