"""A summary that failed the quality check is marked in the library table and explained in
the summary view; a bundled-model summary says what that model is; grounding is shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from textual.widgets import Static

from engine.modelstore.catalog import demo_model_notice
from engine.schema import Grounding
from tests.tui.fake_data import example_summaries, make_entry, sample_entries
from tests.tui.fake_engine import FakeEngine
from tests.tui.tui_helpers import settle
from tui.app import VidsumApp
from tui.screens.library import LibraryScreen
from tui.screens.summary import SummaryScreen
from tui.widgets.entry_table import EntryTable

pytestmark = pytest.mark.asyncio

REASON = "ungrounded: 87% of its words come from a few-shot example's video, not this transcript"


def engine_with_a_failed_entry() -> FakeEngine:
    # What the bundled model did: the WebAssembly example's answer, stored for the B-tree talk.
    copied = make_entry(
        5,
        "btree",
        example_summaries()["webassembly"],
        title="Hash tables, copied",
        model_id="gemma-3-270m:Q4_K_M",
        created_at="2024-05-05T08:00:00",
    )
    copied = replace(copied, failed=REASON, grounding=Grounding(0.13, 0.87, 165))
    good = replace(sample_entries()[0], grounding=Grounding(0.62, 0.01, 150))
    return FakeEngine([good, *sample_entries()[1:], copied])


def row_text(table: EntryTable, index: int) -> str:
    strip = table.render_line(index + 1 - int(table.scroll_offset.y))
    return "".join(seg.text for seg in strip)


def statics(screen: SummaryScreen) -> dict[str, str]:
    return {
        cls: str(w.render())
        for w in screen.query(Static)
        for cls in w.classes
        if cls in ("failed-banner", "demo-notice", "grounding", "meta")
    }


async def test_failed_summary_is_marked_in_the_table_and_explained_in_the_view(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app(engine_with_a_failed_entry())
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        table = app.screen.query_one(EntryTable)
        rows = [table.pager.get(i) for i in range(table.pager.total)]
        index = next(i for i, r in enumerate(rows) if r is not None and r.id == 5)
        assert "[FAILED] Hash tables, copied" in row_text(table, index)
        others = [i for i, r in enumerate(rows) if r is not None and r.id != 5]
        assert all("FAILED" not in row_text(table, i) for i in others)

        table.cursor = index
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SummaryScreen) and screen.entry_id == 5
        shown = statics(screen)
        banner = shown["failed-banner"]
        assert banner.startswith("This summary failed the quality check (ungrounded: 87%")
        assert "--style quotes" in banner
        assert "vidsum models pull mistral-7b-instruct-v0.2:Q4_K_M" in banner
        assert shown["demo-notice"] == demo_model_notice()
        assert shown["grounding"].startswith("Grounding: 13% of its words occur in the transcript")


async def test_good_summary_has_no_banner_and_shows_its_grounding(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app(engine_with_a_failed_entry())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = SummaryScreen(1)
        await app.push_screen(screen)
        await settle(pilot)
        shown = statics(screen)
        assert "failed-banner" not in shown and "demo-notice" not in shown
        assert shown["grounding"] == (
            "Grounding: 62% of its words occur in the transcript, "
            "1% come from a few-shot example's video"
        )
