"""Help: every key of every screen, generated from the bindings so it cannot drift."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.widgets import Static

from tui.screens.base import VidsumModal

INTRO = (
    "vidsum keeps structured summaries of technical videos. [b]1[/b] Library · "
    "[b]2[/b] Summarize · [b]3[/b] Models. [b]^p[/b] opens the command palette: every action "
    "below is in it."
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
        "down": "↓",
        "up": "↑",
        "home": "Home",
        "end": "End",
        "backspace": "Backspace",
        "tilde": "~",
    }
    return " ".join(names.get(k, k.replace("ctrl+", "^")) for k in binding.key.split(","))


def _section(title: str, bindings: list[Any]) -> str:
    lines = [f"[b $text-accent]{title}[/]"]
    for b in bindings:
        if b.description:
            lines.append(f"  [b]{escape(_key(b)):<12}[/b] {escape(b.description)}")
    return "\n".join(lines)


def help_text() -> str:
    """Markup for every screen's keys, straight from the classes' BINDINGS."""
    from tui.app import VidsumApp
    from tui.screens.compare import CompareScreen
    from tui.screens.library import LibraryScreen
    from tui.screens.models import ModelsScreen
    from tui.screens.summarize import SummarizeScreen
    from tui.screens.summary import SummaryScreen
    from tui.screens.transcript import TranscriptScreen
    from tui.widgets.entry_table import EntryTable
    from tui.widgets.path_input import TranscriptTree

    def own(cls: Any) -> list[Any]:
        return [b for b in cls.BINDINGS if isinstance(b, Binding)]

    parts = [
        INTRO,
        _section("Everywhere", own(VidsumApp)),
        _section("Library", own(LibraryScreen) + own(EntryTable)),
        _section("Summary", own(SummaryScreen)),
        _section("Transcript", own(TranscriptScreen)),
        _section("Compare", own(CompareScreen)),
        _section("Summarize", own(SummarizeScreen) + own(TranscriptTree)),
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
            yield Static(help_text())

    def action_close(self) -> None:
        self.dismiss()
