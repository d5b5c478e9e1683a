"""What every vidsum screen shares: typed access to the app and its engine, and the actions on
one stored summary (export) that every screen with a summary selected or highlighted offers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.worker import Worker

from tui.export import Format, export_path
from tui.jobs import call_engine

if TYPE_CHECKING:
    from engine.api import EngineAPI
    from tui.app import VidsumApp

T = TypeVar("T")


class EngineMixin:
    app: Any

    @property
    def vidsum(self) -> VidsumApp:
        app: VidsumApp = self.app
        return app

    @property
    def engine(self) -> EngineAPI:
        return self.vidsum.engine

    def call_engine(
        self,
        fn: Callable[[], T],
        then: Callable[[T], None] | None = None,
        **kwargs: Any,
    ) -> Worker[None]:
        return call_engine(self, fn, then, **kwargs)  # type: ignore[arg-type]


class VidsumScreen(EngineMixin, Screen[None]):
    """A full screen with the app's header and footer."""

    SUB_TITLE = ""


class VidsumModal(EngineMixin, ModalScreen[T]):
    """A dialog over the current screen."""


# The footer says "JSON"/"MD" (it has 80 columns to share); the palette and help say it in full.
EXPORT_KEYS: list[Binding] = [
    Binding("e", "export('json')", "JSON", tooltip="Export summary as JSON"),
    Binding("m", "export('md')", "MD", tooltip="Export summary as Markdown"),
]
# The same keys where the screen's footer has no room for them (palette and help only).
EXPORT_KEYS_UNSHOWN: list[Binding] = [replace(b, show=False) for b in EXPORT_KEYS]


class EntryScreen(VidsumScreen):
    """A screen with one stored summary selected or highlighted (``current_entry``): its export
    keys work there, and the palette finds them."""

    def current_entry(self) -> tuple[int, str] | None:
        """(id, title) of the summary the screen has selected or highlighted, if any."""
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export" and self.current_entry() is None:
            return None  # shown (where it is), but disabled: the palette leaves it out
        return True

    def action_export(self, fmt: Format) -> None:
        """Ask where (the remembered folder, prefilled), then write through the engine."""
        current = self.current_entry()
        if current is None:
            return
        entry_id, title = current
        given = self.vidsum.export_dir

        def ask(folder: Path) -> None:
            from tui.screens.export import ExportScreen

            what = "as JSON" if fmt == "json" else "as Markdown"
            self.app.push_screen(
                ExportScreen(export_path(folder, entry_id, title, fmt), what=what),
                lambda chosen: self._write_export(entry_id, fmt, folder, chosen),
            )

        if given is not None:
            ask(given)
        else:
            self.call_engine(self.engine.export_dir, ask, group="export")

    def _write_export(self, entry_id: int, fmt: Format, folder: Path, chosen: Path | None) -> None:
        if chosen is None:
            return

        def write() -> Path:
            written = self.engine.export_to_file(entry_id, fmt, chosen)
            if written.parent != folder:
                self.engine.set_export_dir(written.parent)  # remembered for the next export
                if self.vidsum.export_dir is not None:
                    self.vidsum.export_dir = written.parent
            return written

        self.call_engine(
            write,
            lambda written: self.notify(
                f"Exported to {written}", title="Export", markup=False, timeout=10
            ),
            group="export",
        )
