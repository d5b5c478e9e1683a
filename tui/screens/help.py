"""Help: every key of every screen, generated from the bindings so it cannot drift.

May import: textual and ``tui.screens.base``; the app hands the sections in.
"""

from __future__ import annotations

from collections.abc import Sequence
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
            # The full label where the footer's word is short ("JSON": Export summary as JSON).
            label = b.tooltip or b.description
            lines.append(f"  [b]{escape(_key(b)):<12}[/b] {escape(label)}")
    return "\n".join(lines)


HelpSections = Sequence[tuple[str, Sequence[BindingType]]]


def help_text(sections: HelpSections) -> str:
    """Markup for every screen's keys, from (title, bindings) pairs the app hands in (it knows
    its screens; this module imports none of them, so there is no import circle)."""

    def own(bindings: Sequence[BindingType]) -> list[Binding]:
        return [b for b in bindings if isinstance(b, Binding)]

    return "\n\n".join([INTRO, *(_section(title, own(keys)) for title, keys in sections)])


class HelpScreen(VidsumModal[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close"),
    ]

    def __init__(self, sections: HelpSections) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "Esc closes"
            yield Static(help_text(self.sections))

    def action_close(self) -> None:
        self.dismiss()
