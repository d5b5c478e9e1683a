"""One line of the summarize queue: state mark, file name, progress gauge, status words."""

from __future__ import annotations

from typing import ClassVar

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
        height: 1;
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

    def render(self) -> RenderResult:
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
        text = Text.assemble(f"{MARK[item.state]} ", name, " ")
        fraction = item.fraction
        if item.state == "running" and item.stage == "prompt" and fraction is not None:
            text.append_text(
                gauge_text(
                    fraction,
                    GAUGE_WIDTH,
                    self.get_component_rich_style("queue-row--gauge-filled"),
                    self.get_component_rich_style("queue-row--gauge-empty"),
                )
            )
            text.append(" ")
        text.append(item.status(), rich_style or "")
        text.truncate(self.size.width or 80, overflow="ellipsis")
        return text


class QueueListItem(ListItem):
    def __init__(self, item: QueueItem) -> None:
        super().__init__(QueueRow(item), id=f"q{item.key}")
        self.item = item

    def redraw(self) -> None:
        self.query_one(QueueRow).refresh()
