"""Independent passes of one job run side by side on borrowed lanes.

The notes passes of a long transcript do not depend on each other. When the job runs on a
server with idle slots, a ``Lanes`` lends it extra backends on the same endpoint (so every
pass of one summary is made by the same model) for as long as the group runs; the results come
back in the passes' order, so the summary does not depend on which lane finished first. The
local worker lends none (one model, one context). Imports the runtime's Backend protocol and
the progress types only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, cast

from engine.errors import Cancelled
from engine.progress import CancelToken
from engine.runtime.base import Backend

T = TypeVar("T")

# A pass of a group: runs on the backend it is given and stops when the token is cancelled.
Task = Callable[[Backend, CancelToken], T]


class Lanes(Protocol):
    """Lends backends on the job's own model; what is lent is given back after the group."""

    def borrow(self, want: int) -> list[Backend]: ...

    def give_back(self, backends: list[Backend]) -> None: ...


def run_group(
    tasks: Sequence[Task[T]],
    own: Backend,
    lanes: Lanes | None,
    cancel: CancelToken | None,
    *,
    on_start: Callable[[int], None] | None = None,
) -> list[T]:
    """Run ``tasks`` on ``own`` and as many borrowed lanes as are free; results in task order.

    The first failure cancels the passes still running and is raised once they have stopped
    (a sibling's ``Cancelled`` caused by it is not what is raised); a cancel of ``cancel``
    raises ``Cancelled``. Borrowed lanes are always given back. ``on_start`` hears how many
    passes run side by side.
    """
    group_cancel = cancel.child() if cancel is not None else CancelToken()
    extra = lanes.borrow(len(tasks) - 1) if lanes is not None and len(tasks) > 1 else []
    if on_start is not None:
        on_start(1 + len(extra))
    if lanes is None or not extra:
        return [task(own, group_cancel) for task in tasks]
    results: list[T | None] = [None] * len(tasks)
    errors: list[BaseException] = []
    lock = threading.Lock()
    next_index = 0

    def lane(backend: Backend) -> None:
        nonlocal next_index
        while True:
            with lock:
                if errors or group_cancel.cancelled or next_index >= len(tasks):
                    return
                index = next_index
                next_index += 1
            try:
                results[index] = tasks[index](backend, group_cancel)
            except BaseException as exc:  # re-raised in the calling thread below
                with lock:
                    errors.append(exc)
                group_cancel.cancel()
                return

    threads = [
        threading.Thread(target=lane, args=(b,), name=f"vidsum-lane-{i}", daemon=True)
        for i, b in enumerate(extra)
    ]
    started: list[threading.Thread] = []
    try:
        for t in threads:
            t.start()
            started.append(t)
        lane(own)
    except BaseException:
        group_cancel.cancel()
        raise
    finally:
        for t in started:
            t.join()
        lanes.give_back(extra)
    if errors:
        raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
    if group_cancel.cancelled:
        raise Cancelled()
    return [cast(T, r) for r in results]
