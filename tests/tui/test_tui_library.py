"""Library screen flows: search, filter, sort, open, back, paging, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Input, Select

from engine.errors import LibraryError
from tests.tui.fake_data import many_entries
from tests.tui.fake_engine import FakeEngine
from tests.tui.tui_helpers import capture_notes, settle, wait_until
from tui.app import VidsumApp
from tui.screens.library import PAGE_SIZE, LibraryScreen
from tui.screens.summary import SummaryScreen
from tui.widgets.entry_table import EntryTable

pytestmark = pytest.mark.asyncio


def titles(app: VidsumApp) -> list[str]:
    table = app.screen.query_one(EntryTable)
    rows = [table.pager.get(i) for i in range(table.pager.total)]
    return [r.title for r in rows if r is not None]


async def test_lists_newest_first_and_moves_with_j_k(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        assert titles(app) == [
            "B-Trees: Why Every Database Index Looks the Same",
            "CPU Caches and the Code You Write",
            "WebAssembly Outside the Browser",
            "B-Trees: Why Every Database Index Looks the Same",
        ]
        table = app.screen.query_one(EntryTable)
        assert app.focused is table
        await pilot.press("j", "j", "down", "k")
        assert table.cursor == 2
        await pilot.press("G")
        assert table.cursor == 3
        await pilot.press("g")
        assert table.cursor == 0


async def test_search_narrows_as_you_type(
    make_app: Callable[..., VidsumApp], fake: FakeEngine
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"caches")  # "cache" alone: the B-tree talks' page cache too
        # Debounced: one query after the pause, not one per key.
        await wait_until(pilot, lambda: titles(app) == ["CPU Caches and the Code You Write"])
        queries = [args[0] for name, args in fake.calls if name == "count_entries"]
        assert queries[-1] == "caches"
        assert "c" not in queries and "ca" not in queries
        status = str(app.screen.query_one("#status").render())
        assert "1 of 1" in status and "“caches”" in status
        await pilot.press("escape")  # leaves the search box
        assert isinstance(app.focused, EntryTable)
        await pilot.press("escape")  # clears the search
        await wait_until(pilot, lambda: len(titles(app)) == 4)
        assert app.screen.query_one("#search", Input).value == ""


async def test_search_ranks_best_match_first_until_cleared(
    make_app: Callable[..., VidsumApp], fake: FakeEngine
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LibraryScreen)
        await pilot.press("slash", *"tree", "enter")
        await settle(pilot)
        assert screen.filters.order == "relevance"
        assert screen.query_one("#order", Select).value == "relevance"
        assert [a for n, a in fake.calls if n == "list_entries"][-1][4] == "relevance"
        assert "best match" in str(screen.query_one("#status").render())
        await pilot.press("escape")  # clears the search: back to newest first
        await settle(pilot)
        assert screen.filters.order == "created_desc"
        assert screen.query_one("#order", Select).value == "created_desc"
        # An order the user picked stays through a search and after it.
        await pilot.press("s")  # oldest first
        await pilot.press("slash", *"tree", "enter")
        await settle(pilot)
        assert screen.filters.order == "created_asc"
        await pilot.press("escape")
        await settle(pilot)
        assert screen.filters.order == "created_asc"


async def test_search_with_no_match_says_so(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zebra", "enter")
        await settle(pilot)
        table = app.screen.query_one(EntryTable)
        assert table.pager.total == 0
        assert "No summary matches" in table.empty_message


async def test_filters_by_topic_complexity_and_model(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        screen = app.screen
        topic = screen.query_one("#topic", Select)
        assert app.focused is topic
        topic.value = "Web Development and Internet Technologies"
        await settle(pilot)
        assert titles(app) == ["WebAssembly Outside the Browser"]
        topic.clear()
        screen.query_one("#model", Select).value = "mixtral-8x7b-instruct-v0.1:Q4_K_M"
        await settle(pilot)
        assert len(titles(app)) == 1
        screen.query_one("#model", Select).clear()
        screen.query_one("#low", Select).value = 0.5
        await settle(pilot)
        # Max complexity per video: B-trees 0.48 drop out; caches 0.55 and wasm 0.57 stay.
        assert sorted(titles(app)) == [
            "CPU Caches and the Code You Write",
            "WebAssembly Outside the Browser",
        ]


async def test_sort_cycles_with_s(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")  # oldest first
        await settle(pilot)
        assert app.screen.filters.order == "created_asc"  # type: ignore[attr-defined]
        assert app.screen.query_one(EntryTable).current_row.id == 1  # type: ignore[union-attr]
        await pilot.press("s")  # title
        await settle(pilot)
        assert titles(app)[0].startswith("B-Trees")
        assert titles(app)[-1] == "WebAssembly Outside the Browser"


async def test_enter_opens_the_summary_and_escape_returns(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("j", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        assert app.screen.entry is not None
        assert app.screen.entry.title == "CPU Caches and the Code You Write"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        assert app.screen.query_one(EntryTable).cursor == 1  # where the user was


async def test_ten_thousand_rows_load_only_the_pages_looked_at(
    make_app: Callable[..., VidsumApp],
) -> None:
    fake = FakeEngine(many_entries(10_000))
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(EntryTable)
        assert table.pager.total == 10_000
        assert table.pager.loaded_pages == [0]
        status = str(app.screen.query_one("#status").render())
        assert "1 of 10,000" in status
        await pilot.press("G")  # the very last row: one page fetched, not 100
        await settle(pilot)
        assert table.cursor == 9_999
        assert table.pager.loaded_pages == [0, (10_000 - 1) // PAGE_SIZE]
        fetched = [a for n, a in fake.calls if n == "list_entries"]
        assert all(a[-1] == PAGE_SIZE for a in fetched)  # every fetch is one page
        last = fake.list_entries(offset=9_999, limit=1)[0]
        assert table.current_row == last
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen) and app.screen.entry_id == last.id


async def test_library_error_is_shown(make_app: Callable[..., VidsumApp]) -> None:
    fake = FakeEngine()
    fake.fail["count_entries"] = LibraryError(
        "The library at /x/library.sqlite3 is damaged: database disk image is malformed."
    )
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert any(n.severity == "error" and "is damaged" in n.message for n in notes)
        table = app.screen.query_one(EntryTable)
        assert "could not be read" in table.empty_message
