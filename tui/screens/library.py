"""Library screen: every stored summary in a virtual table, searched and filtered as you type.

Counting and fetching run in thread workers; the table only ever holds the pages the user
has looked at, so a 10,000-summary library opens as fast as a 10-summary one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Footer, Input, Select, Static

from engine.api import Order
from tui.paging import RowPager
from tui.screens.export import EXPORT_KEYS_UNSHOWN, EntryScreen
from tui.widgets.entry_table import EntryTable
from tui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from engine.library.records import EntryRow

SEARCH_DEBOUNCE_S = 0.25
PAGE_SIZE = 100

ORDER_LABELS: dict[str, str] = {
    "created_desc": "Newest first",
    "created_asc": "Oldest first",
    "title": "Title A–Z",
    "complexity_desc": "Most complex",
    "duration_desc": "Longest",
    "relevance": "Best match",  # search hits ranked; newest first without a search
}
# The table column each order sorts by, and whether it descends (header arrow).
ORDER_COLUMN: dict[str, tuple[str, bool]] = {
    "created_desc": ("date", True),
    "created_asc": ("date", False),
    "title": ("title", False),
    "complexity_desc": ("complexity", True),
    "duration_desc": ("duration", True),
    "relevance": ("", True),
}
BOUNDS = [round(x / 10, 1) for x in range(1, 10)]


@dataclass(frozen=True)
class Filters:
    query: str | None = None
    general_topic: str | None = None
    low: float = 0.0
    high: float = 1.0
    model: str | None = None
    order: Order = "created_desc"

    def where(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "general_topic": self.general_topic,
            "complexity": (self.low, self.high),
            "model": self.model,
        }

    @property
    def active(self) -> bool:
        return bool(self.query or self.general_topic or self.model or self.low > 0 or self.high < 1)

    def describe(self) -> str:
        parts = []
        if self.query:
            parts.append(f"“{self.query.strip()}”")
        if self.general_topic:
            parts.append(self.general_topic)
        if self.low > 0 or self.high < 1:
            parts.append(f"complexity {self.low:.2f}–{self.high:.2f}")
        if self.model:
            parts.append(self.model)
        return " · ".join(parts)


class LibraryScreen(EntryScreen):
    SUB_TITLE = "Library"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search"),
        Binding("f", "toggle_filters", "Filters"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("r", "reload", "Reload", show=False),
        Binding("escape", "back", "Clear search", show=False),
        *EXPORT_KEYS_UNSHOWN,  # the highlighted summary
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pager: RowPager[EntryRow] = RowPager(PAGE_SIZE)
        self.filters = Filters()
        self._debounce: Timer | None = None
        self._serial = 0  # bumps on every query; late answers for older ones are dropped
        self._auto_relevance = False  # a search switched "newest first" to "best match"
        self._loading = False

    def compose(self) -> ComposeResult:
        yield TopBar()
        yield Input(
            placeholder="/ Search titles, summaries, topics and transcripts",
            id="search",
            compact=True,
        )
        # Two rows, so that the longest field name (49 characters) and model id fit at 80
        # columns: the field and the order, then the model and the complexity range.
        with Vertical(id="filters", classes="-hidden"):
            with Horizontal(classes="filter-row"):
                yield Select[str]([], prompt="Any general topic", id="topic", compact=True)
                yield Select[str](
                    [(label, key) for key, label in ORDER_LABELS.items()],
                    allow_blank=False,
                    value="created_desc",
                    id="order",
                    compact=True,
                )
            with Horizontal(classes="filter-row"):
                yield Select[str]([], prompt="Any model", id="model", compact=True)
                yield Select[float](
                    [(f"≥ {b:.1f}", b) for b in BOUNDS], prompt="≥ 0.0", id="low", compact=True
                )
                yield Select[float](
                    [(f"≤ {b:.1f}", b) for b in BOUNDS], prompt="≤ 1.0", id="high", compact=True
                )
        yield EntryTable(self.pager, id="entries")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(EntryTable).focus()
        self.call_engine(self.engine.filter_options, self._set_filter_options, group="filters")
        self.run_query()

    def on_screen_resume(self) -> None:
        # Back from a summary (maybe deleted) or the queue (maybe added): counts may differ.
        if self.is_mounted and self.pager.generation:
            self.run_query()

    # --- querying ---------------------------------------------------------------------------

    def run_query(self) -> None:
        self._serial += 1
        serial, filters = self._serial, self.filters
        self._loading = True
        self._show_status()

        def count_and_first_page() -> tuple[int, list[EntryRow]]:
            total = self.engine.count_entries(**filters.where())
            first = self.table.cursor // PAGE_SIZE * PAGE_SIZE
            first = min(first, max(0, total - 1) // PAGE_SIZE * PAGE_SIZE)
            rows = self.engine.list_entries(
                **filters.where(), order=filters.order, offset=first, limit=PAGE_SIZE
            )
            return total, rows

        self.call_engine(
            count_and_first_page,
            lambda result: self._counted(serial, filters, *result),
            group="library-query",
            exclusive=True,
            on_error=lambda exc: self._query_failed(serial, exc),
        )

    def _counted(self, serial: int, filters: Filters, total: int, rows: list[EntryRow]) -> None:
        if serial != self._serial:
            return
        self._loading = False
        generation = self.pager.reset(total)
        if total:
            cursor = min(self.table.cursor, total - 1)
            self.pager.store(generation, cursor // PAGE_SIZE, rows)
        self.table.empty_message = (
            "No summary matches. Esc clears the search and filters."
            if filters.active
            else "The library is empty. Press 2 to summarize transcripts."
        )
        column, descending = ORDER_COLUMN[filters.order]
        self.table.sort_key, self.table.sort_descending = column, descending
        self.table.reload()
        self._show_status()

    def _query_failed(self, serial: int, exc: Exception) -> None:
        if serial == self._serial:
            self._loading = False
            self.table.empty_message = "The library could not be read (see the error)."
            self.table.reload()
            self._show_status()
        self.vidsum.report_error(exc)

    @on(EntryTable.PageWanted)
    def _fetch_page(self, event: EntryTable.PageWanted) -> None:
        generation, page, filters = event.generation, event.page, self.filters

        def fetch() -> list[EntryRow]:
            return self.engine.list_entries(
                **filters.where(),
                order=filters.order,
                offset=page * PAGE_SIZE,
                limit=PAGE_SIZE,
            )

        def store(rows: list[EntryRow]) -> None:
            if self.pager.store(generation, page, rows):
                self.table.refresh()

        def failed(exc: Exception) -> None:
            self.pager.failed(generation, page)
            self.vidsum.report_error(exc)

        self.call_engine(fetch, store, group="library-pages", on_error=failed)

    def _set_filter_options(self, options: tuple[list[str], list[str]]) -> None:
        topics, models = options
        self.query_one("#topic", Select).set_options([(t, t) for t in topics])
        self.query_one("#model", Select).set_options([(m, m) for m in models])

    # --- events -----------------------------------------------------------------------------

    @property
    def table(self) -> EntryTable:
        return self.query_one(EntryTable)

    def current_entry(self) -> tuple[int, str] | None:
        row = self.table.current_row if self.pager.total else None
        return (row.id, row.title) if row is not None else None

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        # Debounced: one query per pause in typing, not one per key.
        if self._debounce is not None:
            self._debounce.stop()
        # Unstripped: the library reads a trailing space as "that word is complete".
        query = event.value if event.value.strip() else None
        self._debounce = self.set_timer(SEARCH_DEBOUNCE_S, lambda: self._set_query(query))

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._set_query(event.value if event.value.strip() else None)
        self.table.focus()

    def _set_query(self, query: str | None) -> None:
        if query != self.filters.query:
            self.table.cursor = 0
            self.filters = replace(self.filters, query=query, order=self._order_for(query))
            self.run_query()

    def _order_for(self, query: str | None) -> Order:
        """A search ranks its hits best match first unless the user chose another order;
        clearing it goes back to newest first."""
        order = self.filters.order
        if query and order == "created_desc":
            self._auto_relevance, order = True, "relevance"
        elif not query and self._auto_relevance and order == "relevance":
            self._auto_relevance, order = False, "created_desc"
        if order != self.filters.order:
            select = self.query_one("#order", Select)
            with select.prevent(Select.Changed):
                select.value = order
        return order

    @on(Select.Changed)
    def _filter_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        key = event.select.id
        if key == "topic":
            new = replace(self.filters, general_topic=cast("str | None", value))
        elif key == "model":
            new = replace(self.filters, model=cast("str | None", value))
        elif key == "low":
            new = replace(self.filters, low=float(cast(float, value or 0.0)))
        elif key == "high":
            new = replace(self.filters, high=float(cast(float, value or 1.0)))
        elif key == "order":
            self._auto_relevance = False
            new = replace(self.filters, order=cast(Order, value))
        else:
            return
        if new != self.filters:
            self.filters = new
            self.table.cursor = 0
            self.run_query()

    @on(EntryTable.Opened)
    def _open(self, event: EntryTable.Opened) -> None:
        from tui.screens.summary import SummaryScreen

        self.app.push_screen(SummaryScreen(event.row.id, title=event.row.title))

    @on(EntryTable.Moved)
    def _moved(self) -> None:
        self._show_status()

    def _show_status(self) -> None:
        total = self.pager.total
        if self._loading and not total:
            text = "Loading…"
        elif total:
            text = f"{self.table.cursor + 1:,} of {total:,}"
        else:
            text = "0 summaries"
        if self.filters.active:
            text += f" · {self.filters.describe()}"
        text += f" · {ORDER_LABELS[self.filters.order].lower()}"
        if self._loading and total:
            text += " · searching…"
        self.query_one("#status", Static).update(Content(text))  # the query is not markup

    # --- actions ----------------------------------------------------------------------------

    def action_focus_search(self) -> None:
        # Focus now, not after a refresh: keys typed right after "/" belong in the box.
        self.set_focus(self.query_one("#search", Input))

    def action_toggle_filters(self) -> None:
        bar = self.query_one("#filters")
        bar.toggle_class("-hidden")
        if not bar.has_class("-hidden"):
            self.query_one("#topic", Select).focus()
        else:
            self.table.focus()

    def action_cycle_sort(self) -> None:
        orders = list(ORDER_LABELS)
        following = orders[(orders.index(self.filters.order) + 1) % len(orders)]
        self.query_one("#order", Select).value = following

    def action_reload(self) -> None:
        self.call_engine(self.engine.filter_options, self._set_filter_options, group="filters")
        self.run_query()

    def action_back(self) -> None:
        """Esc: clear the search and filters at once (wherever the focus is: the search box,
        the filter bar or the table) and go back to the table; with nothing to clear, just
        return to the table."""
        if not self.filters.active and not self.query_one("#search", Input).value:
            if self.focused is not self.table:
                self.table.focus()
            return
        if self._debounce is not None:
            self._debounce.stop()
        search = self.query_one("#search", Input)
        with search.prevent(Input.Changed):
            search.value = ""
        for select_id in ("#topic", "#model", "#low", "#high"):
            select = self.query_one(select_id, Select)
            with select.prevent(Select.Changed):
                select.clear()
        self.filters = Filters(order=self._order_for(None))
        self.table.cursor = 0
        self.table.focus()
        self.run_query()
