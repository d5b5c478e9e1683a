"""Progress reporting and cancellation shared by every long engine operation.

Long work is a plain function taking ``progress: ProgressCallback | None`` and
``cancel: CancelToken | None``. The CLI turns events into a progress bar, the TUI into worker
messages. Callbacks are invoked from the engine's thread; they must be quick and must not raise.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from engine.errors import Cancelled

Stage = Literal[
    "read",  # reading / parsing the transcript
    "estimate",  # before any model work: tokens, passes and time (message); per item and batch
    "load",  # loading a model into the worker
    "tokenize",  # counting a long transcript's tokens (done / total in characters)
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
        self._lock = threading.Lock()
        self._children: weakref.WeakSet[CancelToken] = weakref.WeakSet()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            children = list(self._children)
        for child in children:
            child.cancel()

    def child(self) -> CancelToken:
        """A token cancelled with this one that can also be cancelled on its own (to stop a
        group of concurrent passes when one of them fails, without cancelling the batch)."""
        token = CancelToken()
        with self._lock:
            self._children.add(token)
            if self._event.is_set():
                token.cancel()
        return token

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


def eta_words(seconds: float) -> str:
    """``12:30`` (minutes:seconds) under an hour, ``1h05m`` above."""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}:{s % 60:02d}"


def attempt_line(attempt: int, attempts: int, reason: str | None = None) -> str:
    """``attempt 2 of 3 (previous answer copied an example)``."""
    return f"attempt {attempt} of {attempts}" + (f" ({reason})" if reason else "")


def pass_line(
    k: int,
    n: int,
    *,
    where: str = "",
    attempt: int = 1,
    attempts: int = 1,
    reason: str | None = None,
    tok_per_s: float | None = None,
    eta_s: float | None = None,
) -> str:
    """What a job is doing, in one line for the CLI bar, the log and the TUI queue:
    ``pass 7 of 21 · 00:32:10–00:41:55 · 41.2 tok/s · ETA 12:30``, with
    ``attempt 2 of 3 (previous answer copied an example)`` on a retry. A one-pass job (n == 1)
    says only the retry, and nothing on its first attempt ("")."""
    bits = [f"pass {k} of {n}"] if n > 1 else []
    if n > 1 and where:
        bits.append(where)
    if attempt > 1:
        bits.append(attempt_line(attempt, attempts, reason))
    if bits and tok_per_s:
        bits.append(f"{tok_per_s:.1f} tok/s")
    if bits and eta_s is not None:
        bits.append(f"ETA {eta_words(eta_s)}")
    return " · ".join(bits)
