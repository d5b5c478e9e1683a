"""One row of the summarize queue: state mark, file name, progress gauge, status words (which
wrap onto a second line rather than being cut on a narrow terminal)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget
from textual.widgets import ListItem

from tui.queue import QueueItem
from tui.widgets.gauge import gauge_text

MARK = {
    "queued": "·",
    "running": "▶",
    "done": "✓",
    "skipped": "=",
    "failed": "✗",
    "cancelled": "–",
}
NAME_WIDTH = 24
GAUGE_WIDTH = 10


class QueueRow(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "queue-row--failed",
        "queue-row--done",
        "queue-row--muted",
        "queue-row--gauge-filled",
        "queue-row--gauge-empty",
    }
    DEFAULT_CSS = """
    QueueRow {
        height: auto;
        & > .queue-row--failed { color: $text-error; }
        & > .queue-row--done { color: $text-success; }
        & > .queue-row--muted { color: $text-muted; }
        & > .queue-row--gauge-filled { color: $accent; }
        & > .queue-row--gauge-empty { color: $foreground 25%; }
    }
    """

    def __init__(self, item: QueueItem) -> None:
        super().__init__()
        self.item = item

    @property
    def plain(self) -> str:
        """The row's words on one line (as a screen reader or a test reads it)."""
        return f"{MARK[self.item.state]} {self.item.name} {self.item.status()}"

    def render(self) -> RenderResult:
        """Mark, name and gauge in a fixed column; the status words beside them wrap under
        each other when the row is narrower than they are (never cut off)."""
        item = self.item
        style = {
            "failed": "queue-row--failed",
            "done": "queue-row--done",
            "skipped": "queue-row--done",
            "cancelled": "queue-row--muted",
            "queued": "queue-row--muted",
        }.get(item.state)
        rich_style = self.get_component_rich_style(style) if style else None
        name = Text(item.name)
        name.truncate(NAME_WIDTH, overflow="ellipsis", pad=True)
        head = Text.assemble(f"{MARK[item.state]} ", name, " ")
        status = Text()
        fraction = item.fraction
        if item.state == "running" and item.stage == "prompt" and fraction is not None:
            status.append_text(
                gauge_text(
                    fraction,
                    GAUGE_WIDTH,
                    self.get_component_rich_style("queue-row--gauge-filled"),
                    self.get_component_rich_style("queue-row--gauge-empty"),
                )
            )
            status.append(" ")
        status.append(item.status(), rich_style or "")
        grid = Table.grid()
        grid.add_column(width=head.cell_len, no_wrap=True)
        grid.add_column(ratio=1)
        grid.add_row(head, status)
        return grid


class QueueListItem(ListItem):
    def __init__(self, item: QueueItem) -> None:
        super().__init__(QueueRow(item), id=f"q{item.key}")
        self.item = item

    def redraw(self) -> None:
        self.query_one(QueueRow).refresh()
