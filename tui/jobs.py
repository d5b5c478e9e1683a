"""Running engine calls off the event loop.

Every engine call goes through ``call_engine``: it runs in a Textual thread worker and hands
the result (or the error, as a notification) back on the UI thread. Nothing here blocks.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from textual.dom import DOMNode
from textual.worker import Worker, get_current_worker

if TYPE_CHECKING:
    from tui.host import VidsumHost

T = TypeVar("T")


def call_engine(
    node: DOMNode,
    fn: Callable[[], T],
    then: Callable[[T], None] | None = None,
    *,
    group: str = "engine",
    exclusive: bool = False,
    on_error: Callable[[Exception], None] | None = None,
    description: str = "",
) -> Worker[None]:
    """Run ``fn`` in a thread; call ``then(result)`` or report the error on the UI thread.

    Results of a worker cancelled meanwhile (``exclusive`` replaced it, the screen closed)
    are dropped: the thread cannot be interrupted, but its answer can be ignored.
    """
    app = node.app
    host = cast("VidsumHost", app)  # VidsumApp, typed by what jobs need of it

    def deliver(callback: Callable[[], None]) -> None:
        if get_current_worker().is_cancelled:
            return
        # The app may be shutting down while the thread finishes: nothing left to update.
        with contextlib.suppress(RuntimeError):
            app.call_from_thread(callback)

    def job() -> None:
        try:
            result = fn()
        except Exception as exc:
            deliver(functools.partial(on_error or host.report_error, exc))
            return
        if then is not None:
            deliver(functools.partial(then, result))

    return node.run_worker(
        job,
        thread=True,
        group=group,
        exclusive=exclusive,
        exit_on_error=False,
        description=description or group,
    )
