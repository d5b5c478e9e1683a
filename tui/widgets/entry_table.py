"""A virtual table over the library: only the visible rows are rendered, pages load on demand.

DataTable keeps every row in memory and lays them all out; a 10,000-summary library would
stall the UI while it fills. This widget renders lines from a ``RowPager`` (Line API) and
asks its screen for missing pages with ``PageWanted`` messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui import format as fmt
from tui.paging import RowPager
from tui.widgets.gauge import gauge_text

if TYPE_CHECKING:
    from engine.library.records import EntryRow


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # 0: flexible (takes the rest)
    min_table_width: int  # shown only when the table is at least this wide
    cell: Callable[[Any], str]


def _topics(row: Any) -> str:
    ranked = sorted(row.general_topics, key=lambda tc: -tc[1])
    return ", ".join(fmt.short_field(t) for t, _ in ranked)


# Shown before the title of a summary that failed the quality check (not about its video).
FAILED_BADGE = "[FAILED] "


def _title(row: Any) -> str:
    return (FAILED_BADGE if getattr(row, "failed", None) else "") + row.title


COLUMNS: tuple[Column, ...] = (
    Column("title", "Title", 0, 0, _title),
    Column("channel", "Channel", 16, 110, lambda r: r.channel or ""),
    Column("date", "Date", 10, 0, lambda r: fmt.date(r.created_at)),
    Column("duration", "Length", 7, 100, lambda r: fmt.duration(r.duration)),
    Column("model", "Model", 18, 120, lambda r: r.model_id),
    Column("topics", "General topics", 20, 0, _topics),
    Column("complexity", "Complexity", 10, 0, lambda r: ""),  # drawn as a gauge
)
SORT_ARROW = 2  # " ▼" after the sorted column's label
GAUGE_CELLS = 5


class EntryTable(ScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("pagedown,ctrl+d", "page_down", "Page down", show=False),
        Binding("pageup,ctrl+u", "page_up", "Page up", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("enter", "open", "Open"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "entry-table--header",
        "entry-table--cursor",
        "entry-table--placeholder",
        "entry-table--empty",
        "entry-table--gauge-filled",
        "entry-table--gauge-empty",
        "entry-table--failed",
    }
    DEFAULT_CSS = """
    EntryTable {
        background: $surface;
        color: $foreground;
        & > .entry-table--header { text-style: bold; background: $panel; }
        & > .entry-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .entry-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .entry-table--placeholder { color: $text-disabled; }
        & > .entry-table--empty { color: $text-muted; text-style: italic; }
        & > .entry-table--gauge-filled { color: $accent; }
        & > .entry-table--gauge-empty { color: $foreground 25%; }
        & > .entry-table--failed { color: $error; text-style: bold; }
    }
    """

    cursor: reactive[int] = reactive(0)

    class PageWanted(Message):
        def __init__(self, generation: int, page: int) -> None:
            super().__init__()
            self.generation = generation
            self.page = page

    class Opened(Message):
        def __init__(self, row: EntryRow) -> None:
            super().__init__()
            self.row = row

    class Moved(Message):
        """The cursor moved (the screen shows the position)."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, pager: RowPager[EntryRow], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pager = pager
        self.empty_message = "Loading…"
        self.sort_key = "date"
        self.sort_descending = True

    # --- data --------------------------------------------------------------------------------

    def reload(self) -> None:
        """The pager was reset or filled: resize, clamp the cursor, redraw."""
        self.virtual_size = Size(self.size.width, self.pager.total + 1)
        if self.pager.total and self.cursor >= self.pager.total:
            self.cursor = self.pager.total - 1
        elif not self.pager.total:
            self.cursor = 0
        self.refresh()

    @property
    def current_row(self) -> EntryRow | None:
        return self.pager.get(self.cursor)

    # --- layout ------------------------------------------------------------------------------

    def _columns(self, width: int) -> list[tuple[Column, int]]:
        shown = [c for c in COLUMNS if width >= c.min_table_width]
        # The sorted column widens to hold its label and arrow: headers stay whole.
        widths = [
            max(c.width, len(c.label) + SORT_ARROW)
            if c.width and c.key == self.sort_key
            else c.width
            for c in shown
        ]
        fixed = sum(widths) + len(shown)  # one space before each column
        flex = max(8, width - fixed)
        return [(c, w or flex) for c, w in zip(shown, widths, strict=True)]

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self.pager.total + 1)

    # --- rendering ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            return self._header(width, base)
        index = int(self.scroll_offset.y) + y - 1
        if self.pager.total == 0:
            if y == 2:
                text = Text(
                    f" {self.empty_message}", self.get_component_rich_style("entry-table--empty")
                )
                return self._strip(text, width, base)
            return Strip.blank(width, base)
        if index >= self.pager.total:
            return Strip.blank(width, base)
        row = self.pager.get(index)
        if row is None:
            page = self.pager.want(index)
            if page is not None:
                self.post_message(self.PageWanted(self.pager.generation, page))
            style = self.get_component_rich_style("entry-table--placeholder")
            return self._strip(Text(" …", style), width, base)
        cursor = index == self.cursor
        return self._row(row, width, base, cursor)

    def _strip(self, text: Text, width: int, base: Style) -> Strip:
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = list(text.render(self.app.console, end=""))
        return Strip(Segment.apply_style(segments, base), width).crop(0, width)

    def _header(self, width: int, base: Style) -> Strip:
        style = self.get_component_rich_style("entry-table--header")
        text = Text(style=style)
        for column, w in self._columns(width):
            label = column.label
            if column.key == self.sort_key:
                label += " ▼" if self.sort_descending else " ▲"
            cell = Text(" " + label)
            cell.truncate(w + 1, overflow="ellipsis", pad=True)
            text.append_text(cell)
        return self._strip(text, width, base)

    def _row(self, row: EntryRow, width: int, base: Style, cursor: bool) -> Strip:
        text = Text()
        for column, w in self._columns(width):
            text.append(" ")
            if column.key == "complexity":
                text.append_text(
                    gauge_text(
                        row.max_complexity,
                        GAUGE_CELLS,
                        self.get_component_rich_style("entry-table--gauge-filled"),
                        self.get_component_rich_style("entry-table--gauge-empty"),
                    )
                )
                text.append(f" {row.max_complexity:.2f}".ljust(w - GAUGE_CELLS))
                continue
            cell = Text(column.cell(row))
            if column.key == "title" and row.failed:
                cell.stylize(
                    self.get_component_rich_style("entry-table--failed"), 0, len(FAILED_BADGE) - 1
                )
            cell.truncate(w, overflow="ellipsis", pad=True)
            text.append_text(cell)
        if cursor:
            text.stylize(self.get_component_rich_style("entry-table--cursor"))
        return self._strip(text, width, base)

    # --- movement ----------------------------------------------------------------------------

    @property
    def _visible_rows(self) -> int:
        return max(1, self.size.height - 1)

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + self._visible_rows:
            self.scroll_to(y=new - self._visible_rows + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Moved(new))

    def _move(self, delta: int) -> None:
        if self.pager.total:
            self.cursor = max(0, min(self.pager.total - 1, self.cursor + delta))

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_page_down(self) -> None:
        self._move(self._visible_rows)

    def action_page_up(self) -> None:
        self._move(-self._visible_rows)

    def action_first(self) -> None:
        self._move(-self.cursor)

    def action_last(self) -> None:
        self._move(self.pager.total)

    def action_open(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Opened(row))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            return
        index = int(self.scroll_offset.y) + event.y - 1
        if 0 <= index < self.pager.total:
            self.cursor = index
            if event.chain >= 2:
                self.action_open()
