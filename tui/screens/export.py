"""Exporting one stored summary: the dialog that asks where (a path input prefilled with the
remembered folder and a name), and ``EntryScreen``, the base of every screen with a summary
selected or highlighted (Summary, Library, Transcript, the Summarize queue), whose export keys
and palette entries work on that summary."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Static

from engine.errors import ExportExists
from tui.export import Format, export_path
from tui.screens.base import VidsumModal, VidsumScreen
from tui.widgets.path_input import PathSuggester


class ExportScreen(VidsumModal[Path | None]):
    """Enter writes to the path shown (edit it to choose another folder or name); Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, path: Path, *, what: str) -> None:
        super().__init__()
        self.path = path
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = f"Export {self.what}"
            yield Static(Content("Write the export to (Enter writes, Esc cancels):"))
            yield Input(
                str(self.path),
                suggester=PathSuggester(self.path.parent),
                id="export-path",
                compact=True,
            )
            with Horizontal(id="buttons"):
                yield Button("Export (Enter)", variant="primary", id="write")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def _chosen(self) -> Path | None:
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            return None
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = self.path.parent / path
        if path.is_dir():
            path = path / self.path.name  # a folder: keep the suggested file name
        return path

    @on(Input.Submitted, "#export-path")
    def _submitted(self) -> None:
        chosen = self._chosen()
        if chosen is None:
            self.notify("Type a file path for the export.", severity="warning")
            return
        self.dismiss(chosen)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "write":
            self._submitted()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


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
            what = "as JSON" if fmt == "json" else "as Markdown"
            self.app.push_screen(
                ExportScreen(export_path(folder, entry_id, title, fmt), what=what),
                lambda chosen: self._write_export(entry_id, fmt, folder, chosen),
            )

        if given is not None:
            ask(given)
        else:
            self.call_engine(self.engine.export_dir, ask, group="export")

    def _write_export(
        self,
        entry_id: int,
        fmt: Format,
        folder: Path,
        chosen: Path | None,
        overwrite: bool = False,
    ) -> None:
        if chosen is None:
            return

        def write() -> Path:
            written = self.engine.export_to_file(entry_id, fmt, chosen, overwrite=overwrite)
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
            on_error=lambda exc: self._export_failed(exc, entry_id, fmt, folder, chosen),
        )

    def _export_failed(
        self, exc: Exception, entry_id: int, fmt: Format, folder: Path, chosen: Path
    ) -> None:
        """A file already there is replaced only when the user says so."""
        from tui.screens.confirm import ConfirmScreen

        if not isinstance(exc, ExportExists):
            self.vidsum.report_error(exc)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._write_export(entry_id, fmt, folder, chosen, overwrite=True)

        self.app.push_screen(
            ConfirmScreen(
                f"{chosen} already exists. Replace it with this export?",
                confirm="Replace",
                title="Export",
            ),
            answered,
        )
