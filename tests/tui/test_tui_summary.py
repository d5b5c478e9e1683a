"""Summary screen flows: sections, export, copy, transcript, compare, delete."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Static, TextArea

from tests.tui.fake_engine import FakeEngine
from tests.tui.tui_helpers import capture_notes, settle
from tui.app import VidsumApp
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.export import ExportScreen
from tui.screens.library import LibraryScreen
from tui.screens.summary import SummaryScreen
from tui.screens.transcript import TranscriptScreen
from tui.widgets.gauge import ComplexityGauge
from tui.widgets.summary_view import SectionView

pytestmark = pytest.mark.asyncio


async def open_summary(app: VidsumApp, pilot: object, entry_id: int) -> SummaryScreen:
    screen = SummaryScreen(entry_id)
    await app.push_screen(screen)
    await settle(pilot)  # type: ignore[arg-type]
    assert screen.entry is not None
    return screen


async def test_shows_sections_with_time_ranges_and_gauges(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        screen = await open_summary(app, pilot, 1)
        sections = screen.query(SectionView)
        assert len(sections) == 5
        head = str(sections.first().query_one(".section-head", Static).render())
        assert head.startswith("Section 1: ") and "00:00:00–00:09:05" in head
        gauges = list(screen.query(ComplexityGauge))
        assert [g.topic.topic for g in gauges] == [
            "Database Systems and Management",
            "Algorithms and Data Structures",
            "Computer Architecture",
        ]
        rendered = str(gauges[0].render())
        assert "━" in rendered and f"{gauges[0].topic.complexity:.2f}" in rendered
        await pilot.press("j", "j")
        assert screen.current_section == 1
        await pilot.press("k")
        assert screen.current_section == 0


async def test_untimed_summary_has_no_time_ranges(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_summary(app, pilot, 3)  # the CPU-caches entry has no timings
        head = str(screen.query(SectionView).first().query_one(".section-head", Static).render())
        assert "–" not in head


@pytest.mark.parametrize("key, ext", [("e", "json"), ("m", "md")])
async def test_export_writes_a_file_and_says_where(
    make_app: Callable[..., VidsumApp], tmp_path: Path, key: str, ext: str
) -> None:
    app = make_app(export_dir=tmp_path / "out")
    async with app.run_test(size=(100, 40)) as pilot:
        notes = capture_notes(app)
        await open_summary(app, pilot, 2)
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)  # asks where, prefilled
        path = tmp_path / "out" / f"webassembly-outside-the-browser-2.{ext}"
        assert app.screen.query_one("#export-path", Input).value == str(path)
        await pilot.press("enter")
        await settle(pilot)
        assert path.is_file()
        text = path.read_text()
        if ext == "json":
            assert json.loads(text)["summary"]["introduction"]
        else:
            assert text.startswith("# WebAssembly Outside the Browser")
        assert any(str(path) in n.message for n in notes)


async def test_copy_puts_markdown_on_the_clipboard(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_summary(app, pilot, 2)
        await pilot.press("c")
        await settle(pilot)
        assert app.clipboard.startswith("# WebAssembly Outside the Browser")


async def test_transcript_opens_at_the_focused_section(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_summary(app, pilot, 1)
        await pilot.press("j", "j", "j")  # section 3
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TranscriptScreen)
        where = str(app.screen.query_one("#where", Static).render())
        assert where.startswith("Section 3: ") and "00:18:10–00:27:14" in where
        area = app.screen.query_one(TextArea)
        first_row = area.selection.end[0]
        line = area.document.get_line(first_row)
        # The selection starts at the caption playing when the section starts (18:10 = 1090 s).
        assert line[:8] <= "00:18:10" < area.document.get_line(first_row + 1)[:8]
        await pilot.press("n")
        assert "Section 4: " in str(app.screen.query_one("#where", Static).render())
        await pilot.press("escape")
        assert app.screen is screen


async def test_compare_shows_two_models_side_by_side(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_summary(app, pilot, 1)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        titles = [str(s.render()) for s in app.screen.query(".pane-title").results(Static)]
        assert titles[0].startswith("#1 · abstractive (model's words)\nmistral")
        assert titles[1].startswith("#4 · abstractive (model's words)\nmixtral")
        await pilot.press("x")
        await settle(pilot)
        titles = [str(s.render()) for s in app.screen.query(".pane-title").results(Static)]
        assert titles[0].startswith("#4")


async def test_compare_without_a_second_summary_explains(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        notes = capture_notes(app)
        screen = await open_summary(app, pilot, 2)
        await pilot.press("v")
        await settle(pilot)
        assert app.screen is screen
        assert any("No other summary of this video" in n.message for n in notes)


async def test_delete_asks_first(make_app: Callable[..., VidsumApp], fake: FakeEngine) -> None:
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # newest: #4
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # focus is on Cancel: Enter is safe
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen) and 4 in fake.entries
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert 4 not in fake.entries
        assert isinstance(app.screen, LibraryScreen)
        assert app.screen.pager.total == 3  # the list was reloaded


async def test_missing_entry_is_an_error_not_a_crash(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        screen = SummaryScreen(99)
        await app.push_screen(screen)
        await settle(pilot)
        assert any(n.severity == "error" and "#99" in n.message for n in notes)
        assert "could not be loaded" in str(screen.query_one("#loading", Static).render())
        await pilot.press("e")  # disabled until an entry is loaded: nothing happens
        await settle(pilot)
        assert app.screen is screen
