"""What the screens and jobs need of the app, as a Protocol: the engine, the session's folders,
where the queue runs, the server checks, and the one way to report an error.

The screens type ``self.app`` as this, not as ``tui.app.VidsumApp``: the app imports every
screen, so a screen that named the app (even under ``TYPE_CHECKING``) closed an import circle
through all of them. ``tui.app`` checks that ``VidsumApp`` is a ``VidsumHost`` (mypy).

May import: ``engine.api`` (types only), ``tui.widgets`` (types only); never a screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from engine.api import EngineAPI
    from tui.widgets.server_table import ServerStates


class VidsumHost(Protocol):
    """The app's state and services that screens use (``VidsumApp`` provides them)."""

    engine: EngineAPI
    export_dir: Path | None  # the export dialog's folder when given (tests), else None
    start_dir: Path
    browse_dir: Path  # the folder the file browser shows next
    server_states: ServerStates  # this session's server checks
    run_on: tuple[str, ...]  # server profile names the queue runs on; () for this machine

    def report_error(self, exc: BaseException) -> None: ...
