"""App-wide behaviour: quitting, modes, help, the command palette."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tests.tui.fake_engine import FakeEngine, Gate
from tests.tui.tui_helpers import settle, wait_until
from tui.app import VidsumApp, help_sections
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen, help_text
from tui.screens.library import LibraryScreen
from tui.screens.models import ModelsScreen
from tui.screens.summarize import SummarizeScreen
from tui.screens.summary import SummaryScreen
from tui.widgets.top_bar import TopBar

pytestmark = pytest.mark.asyncio


async def test_q_quits_with_status_0_and_closes_the_engine(
    make_app: Callable[..., VidsumApp], fake: FakeEngine
) -> None:
    app = make_app(fake)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("q")  # nothing runs: no question
        await pilot.pause()
    assert app.return_code == 0
    assert fake.closed


async def test_q_in_the_search_box_is_just_a_letter(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("slash", "q")
        assert app.is_running
        assert app.screen.query_one("#search", Input).value == "q"


async def test_number_keys_and_tabs_switch_modes_and_keep_their_state(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        await pilot.press("2")
        assert isinstance(app.screen, SummarizeScreen)
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, ModelsScreen)
        await pilot.click(TopBar, offset=(10, 0))  # the "1 Library" tab
        assert isinstance(app.screen, SummaryScreen)  # the library mode kept its stack
        await pilot.press("escape")
        assert isinstance(app.screen, LibraryScreen)


async def test_help_lists_every_screens_keys(make_app: Callable[..., VidsumApp]) -> None:
    text = help_text(help_sections())
    for needle in (
        "Library",
        "Search",
        "Summary",
        "Transcript",
        "Compare",
        "Cancel all",
        "Download",
        "Use as default",
    ):
        assert needle in text
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, LibraryScreen)


async def test_palette_offers_the_screens_actions(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {
            "Search",
            "Filters",
            "Sort",
            "Open",
            "Go to Summarize files",
            "Go to Models and hardware",
            "Keys and help",
        } <= titles
        await pilot.press("ctrl+p")
        await pilot.press(*"Filters")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await wait_until(pilot, lambda: not app.screen.query_one("#filters").has_class("-hidden"))


async def test_palette_finds_and_runs_another_screens_action(
    make_app: Callable[..., VidsumApp], fake: FakeEngine
) -> None:
    """From the Summarize screen, "download" finds the Models screen's action and runs it."""
    fake.pull_gate = Gate()
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("j")  # a model that is not installed
        await pilot.press("2")
        assert isinstance(app.screen, SummarizeScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Models: Download", "Library: Search", "Models: Use as default"} <= titles
        await pilot.press("ctrl+p")
        await pilot.press(*"download")
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, fake.pull_gate.reached.is_set)
        assert isinstance(app.screen, ModelsScreen)
        assert ("pull_model", ("mistral-7b-instruct-v0.3:Q5_K_M",)) in fake.calls
        fake.pull_gate.release.set()


async def test_quitting_mid_work_cancels_it(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    """q during a summary and a download: both get their cancel signal; nothing is stored."""
    (tmp_path / "talk.srt").write_text("x")
    summarizing = fake.summarize_gate["talk.srt"] = Gate()
    downloading = fake.pull_gate = Gate()
    before = dict(fake.entries)
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        queue = app.screen
        assert isinstance(queue, SummarizeScreen)
        queue.add_paths([tmp_path / "talk.srt"])
        await pilot.press("s")
        await wait_until(pilot, summarizing.reached.is_set)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("j", "p")
        await wait_until(pilot, downloading.reached.is_set)
        tokens = [queue.token, app.screen.token]  # type: ignore[attr-defined]
        await pilot.press("q")
        await pilot.pause()
        # Work is running: q asks first and says what would be lost.
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.query_one("#question", Static).render())
        assert "1 summary in progress will be lost" in question
        assert "download of mistral-7b-instruct-v0.3:Q5_K_M will stop" in question
        await pilot.press("n")  # no: everything goes on
        await pilot.pause()
        assert app.is_running and not any(t is not None and t.cancelled for t in tokens)
        assert isinstance(app.screen, ModelsScreen)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0
    assert all(t is not None and t.cancelled for t in tokens)
    assert fake.entries == before
