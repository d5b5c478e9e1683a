"""What the TUI tests share besides fixtures: notifications captured, and waiting on a Pilot
until the app settles or a condition holds. Imported as ``tests.tui.tui_helpers`` (a conftest
is no module to import from: which ``conftest`` a bare import finds depends on the run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.pilot import Pilot

from tui.app import VidsumApp


@dataclass
class Note:
    message: str
    severity: str
    title: str


def capture_notes(app: VidsumApp) -> list[Note]:
    """Record every notification the app shows (errors included)."""
    notes: list[Note] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        notes.append(Note(message, kwargs.get("severity", "information"), kwargs.get("title", "")))
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return notes


# Workers that run until told otherwise: DirectoryTree's loader, and the summarize queue and
# downloads, which tests hold half-way with a Gate. Tests wait for those with wait_until.
LONG_RUNNING = {"_loader", "summarize", "download"}


async def settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    """Let messages flow and workers finish (all but DirectoryTree's loader, which never does)."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        busy = [w for w in app.workers if w.group not in LONG_RUNNING and not w.is_finished]
        if busy:
            await app.workers.wait_for_complete(busy)
    await pilot.pause()


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await pilot.pause(0.02)
    await pilot.pause()


def quiet_cursors(app: VidsumApp) -> None:
    """No blinking cursors in snapshots."""
    for screen in app.screen_stack:
        for widget in screen.query("Input, TextArea").results():
            widget.cursor_blink = False  # type: ignore[attr-defined]
