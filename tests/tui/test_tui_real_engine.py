"""The TUI on the real Engine: a real SQLite library in VIDSUM_HOME, seeded through
``engine.library.store``, searched with FTS5, opened, exported, compared and quit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.api import Engine
from engine.library.store import Library
from tests.tui.seed import TITLES, seed_library
from tests.tui.tui_helpers import settle, wait_until
from tui.app import VidsumApp
from tui.screens.compare import CompareScreen
from tui.screens.library import LibraryScreen
from tui.screens.summary import SummaryScreen
from tui.widgets.entry_table import EntryTable

pytestmark = pytest.mark.asyncio


@pytest.fixture
def seeded() -> dict[str, int]:
    return seed_library()


def rows(app: VidsumApp) -> list[str]:
    table = app.screen.query_one(EntryTable)
    found = [table.pager.get(i) for i in range(table.pager.total)]
    return [r.title for r in found if r is not None]


async def test_real_library_search_open_export_compare_quit(
    seeded: dict[str, int], tmp_path: Path, make_app: Callable[..., VidsumApp]
) -> None:
    engine = Engine()
    app = make_app(engine, export_dir=tmp_path / "exports")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        assert rows(app) == [
            TITLES["btree"],
            TITLES["cpu-caches"],
            TITLES["webassembly"],
            TITLES["btree"],
        ]
        # FTS5 over the transcripts and summaries, as you type.
        await pilot.press("slash", *"webassem")
        await wait_until(pilot, lambda: rows(app) == [TITLES["webassembly"]])
        await pilot.press("enter", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SummaryScreen) and screen.entry is not None
        assert screen.entry.title == TITLES["webassembly"]
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("enter")  # the export dialog: the folder given, prefilled
        await settle(pilot)
        exported = tmp_path / "exports" / f"webassembly-outside-the-browser-{screen.entry_id}.json"
        assert json.loads(exported.read_text())["summary"]["introduction"]
        await pilot.press("escape", "escape", "escape")  # back, out of the table, clear search
        await wait_until(pilot, lambda: len(rows(app)) == 4)
        # The newest is the Mixtral B-tree summary; compare finds the Mistral one.
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.right.id == seeded["btree/mistral-7b-instruct-v0.2:Q4_K_M"]
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_real_library_delete(
    seeded: dict[str, int], make_app: Callable[..., VidsumApp]
) -> None:
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        assert len(rows(app)) == 3
    with Library() as lib:
        assert lib.count() == 3
