"""The one-line bar on every screen: the three modes as tabs, where you are, and the help key.

Replaces Textual's Header so the modes (1/2/3) stay visible without costing footer space.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.widget import Widget

MODES = (("library", "1", "Library"), ("summarize", "2", "Summarize"), ("models", "3", "Models"))
HINT = " ? help "


class TopBar(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "top-bar--app",
        "top-bar--tab",
        "top-bar--current",
        "top-bar--hint",
    }
    DEFAULT_CSS = """
    TopBar {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
        & > .top-bar--app { text-style: bold; color: $text-accent; }
        & > .top-bar--tab { color: $text-muted; }
        & > .top-bar--current { background: $accent; color: $text; text-style: bold; }
        & > .top-bar--hint { color: $text-muted; }
    }
    """

    def on_mount(self) -> None:
        self.watch(self.screen, "sub_title", self._retitled, init=False)

    def _retitled(self, _: object) -> None:
        self.refresh()

    def _tabs(self) -> list[tuple[str, int, int]]:
        """(mode, start x, end x) of each tab, for clicks."""
        x = len(" vidsum ")
        spans = []
        for mode, key, label in MODES:
            width = len(f" {key} {label} ")
            spans.append((mode, x, x + width))
            x += width
        return spans

    def render(self) -> RenderResult:
        current = self.app.current_mode
        text = Text(" vidsum ", self.get_component_rich_style("top-bar--app"))
        for mode, key, label in MODES:
            style = "top-bar--current" if mode == current else "top-bar--tab"
            text.append(f" {key} {label} ", self.get_component_rich_style(style))
        where = self.screen.sub_title or ""
        room = self.size.width - cell_len(text.plain) - len(HINT) - 2
        if where and room > 3:
            place = Text(f"  {where}")
            place.truncate(room, overflow="ellipsis")
            text.append_text(place)
        hint = Text(HINT, self.get_component_rich_style("top-bar--hint"))
        gap = self.size.width - cell_len(text.plain) - len(HINT)
        if gap > 0:
            text.append(" " * gap)
            text.append_text(hint)
        return text

    def on_click(self, event: events.Click) -> None:
        for mode, start, end in self._tabs():
            if start <= event.x < end:
                self.app.switch_mode(mode)
                return
        if event.x >= self.size.width - len(HINT):
            self.app.action_help()  # type: ignore[attr-defined]
