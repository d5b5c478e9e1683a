"""Where to write an export: a path input prefilled with the remembered folder and a name."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Static

from tui.screens.base import VidsumModal
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
