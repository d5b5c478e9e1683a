"""Help: every key of every screen, generated from the bindings so it cannot drift."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from tui.screens.base import VidsumModal

INTRO = (
    "vidsum keeps structured summaries of technical videos. **1** Library · **2** Summarize · "
    "**3** Models. **Ctrl+P** opens the command palette (every action below is in it)."
)


def _key(binding: Binding) -> str:
    names = {
        "slash": "/",
        "question_mark": "?",
        "escape": "Esc",
        "enter": "Enter",
        "pagedown": "PgDn",
        "pageup": "PgUp",
        "space": "Space",
        "delete": "Del",
    }
    keys = [names.get(k, k.replace("ctrl+", "Ctrl+")) for k in binding.key.split(",")]
    return " ".join(f"`{k}`" for k in keys)


def _section(title: str, bindings: list[Any]) -> str:
    rows = [f"| {_key(b)} | {b.description} |" for b in bindings if b.description]
    return f"### {title}\n\n| Key | Action |\n|---|---|\n" + "\n".join(rows)


def help_markdown() -> str:
    from tui.app import VidsumApp
    from tui.screens.compare import CompareScreen
    from tui.screens.library import LibraryScreen
    from tui.screens.models import ModelsScreen
    from tui.screens.summarize import SummarizeScreen
    from tui.screens.summary import SummaryScreen
    from tui.screens.transcript import TranscriptScreen
    from tui.widgets.entry_table import EntryTable

    def own(cls: Any) -> list[Any]:
        return [b for b in cls.BINDINGS if isinstance(b, Binding)]

    parts = [
        INTRO,
        _section("Everywhere", own(VidsumApp)),
        _section("Library", own(LibraryScreen) + own(EntryTable)),
        _section("Summary", own(SummaryScreen)),
        _section("Transcript", own(TranscriptScreen)),
        _section("Compare", own(CompareScreen)),
        _section("Summarize", own(SummarizeScreen)),
        _section("Models", own(ModelsScreen)),
    ]
    return "\n\n".join(parts)


class HelpScreen(VidsumModal[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "Esc closes"
            yield Markdown(help_markdown())

    def action_close(self) -> None:
        self.dismiss()
