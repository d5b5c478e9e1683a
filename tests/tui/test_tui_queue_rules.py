"""Issue 20, finding 6: the summarize queue's rules.

- A failed (or cancelled) file can be retried with r (shown in the footer).
- Files added while a run is active join it, and their row says so; files added while nothing
  runs wait for s, and their row says that.
- A waiting file that is cancelled shows "cancelled" at once, not "cancelling…" until the
  running one ends.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import ListView

from tests.tui.fake_engine import FakeEngine, Gate
from tests.tui.test_tui_summarize import files, open_queue
from tests.tui.tui_helpers import capture_notes, settle, wait_until
from tui.app import VidsumApp
from tui.screens.summarize import SummarizeScreen
from tui.widgets.queue_row import QueueRow

pytestmark = pytest.mark.asyncio


async def start_held(
    app: VidsumApp, pilot: Pilot[Any], fake: FakeEngine, paths: list[Path]
) -> tuple[SummarizeScreen, Gate]:
    """The queue of ``paths`` started, its first file held half-way by a gate."""
    gate = fake.summarize_gate[paths[0].name] = Gate()
    screen = await open_queue(app, pilot)
    screen.add_paths(paths)
    await pilot.press("s")
    await wait_until(pilot, gate.reached.is_set)
    return screen, gate


def batches(fake: FakeEngine) -> list[list[str]]:
    return [args[0] for name, args in fake.calls if name == "summarize"]


def row_text(screen: SummarizeScreen, index: int) -> str:
    return screen.query(QueueRow)[index].plain


async def test_a_failed_file_is_retried_with_r(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    paths = files(tmp_path, "bad.srt", "good.srt")
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_queue(app, pilot)
        screen.add_paths(paths)
        await pilot.press("s")
        await wait_until(pilot, lambda: all(i.final for i in screen.queue.items))
        bad = screen.queue.items[0]
        assert bad.state == "failed"
        screen.query_one("#queue", ListView).index = 0
        await settle(pilot)
        assert "r retries it." in str(screen.query_one("#detail").render())
        await pilot.press("s")  # as before: nothing is waiting
        assert notes[-1].message.startswith("Nothing is queued")
        await pilot.press("r")  # starts at once: nothing else runs
        await wait_until(pilot, lambda: len(batches(fake)) == 2)
        await wait_until(pilot, lambda: bad.final)
        assert batches(fake) == [["bad.srt", "good.srt"], ["bad.srt"]]
        assert bad.state == "failed"  # the fake fails it again; what counts is the new try
        screen.query_one("#queue", ListView).index = 1
        await pilot.press("r")  # a done file is not retried
        await settle(pilot)
        assert "Only a failed or cancelled file can be retried" in notes[-1].message
        assert len(batches(fake)) == 2


async def test_a_cancelled_file_is_retried_into_the_active_run(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        paths = files(tmp_path, "first.srt", "second.srt", "third.srt")
        screen, gate = await start_held(app, pilot, fake, paths)
        view = screen.query_one("#queue", ListView)
        view.index = 2
        await pilot.press("x")
        third = screen.queue.items[2]
        assert third.state == "cancelled"
        await pilot.press("r")  # still in the running batch: it runs there again
        assert third.state == "queued" and third.status() == "queued"
        gate.release.set()
        await wait_until(pilot, lambda: all(i.final for i in screen.queue.items))
        assert [i.state for i in screen.queue.items] == ["done", "done", "done"]
        assert batches(fake) == [["first.srt", "second.srt", "third.srt"]]


async def test_added_while_running_joins_the_run_added_while_idle_waits_for_s(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    first, joined, later = files(tmp_path, "first.srt", "joined.srt", "later.srt")
    gate = fake.summarize_gate["first.srt"] = Gate()
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        screen.add_paths([first])
        await settle(pilot)
        assert screen.queue.items[0].status() == "queued · s starts it"
        assert "s starts it" in row_text(screen, 0)
        assert batches(fake) == []  # nothing starts by itself
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        screen.add_paths([joined])
        await settle(pilot)
        assert "joins this run" in row_text(screen, 1)
        gate.release.set()
        await wait_until(pilot, lambda: all(i.final for i in screen.queue.items))
        assert batches(fake) == [["first.srt"], ["joined.srt"]]  # joined without s
        assert screen.running is None
        screen.add_paths([later])  # idle again: it waits
        await settle(pilot)
        assert screen.queue.items[2].status() == "queued · s starts it"
        assert len(batches(fake)) == 2
        await pilot.press("s")
        await wait_until(pilot, lambda: screen.queue.items[2].state == "done")


async def test_a_waiting_file_that_is_cancelled_says_cancelled_at_once(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        paths = files(tmp_path, "first.srt", "second.srt")
        screen, gate = await start_held(app, pilot, fake, paths)
        screen.query_one("#queue", ListView).index = 1
        await pilot.press("x")
        await pilot.pause()
        second = screen.queue.items[1]
        # The running one is still held at the gate: the waiting one is cancelled already.
        assert screen.queue.items[0].state == "running"
        assert second.state == "cancelled" and second.status() == "cancelled"
        assert "cancelled" in row_text(screen, 1) and "cancelling" not in row_text(screen, 1)
        gate.release.set()
        await wait_until(pilot, lambda: screen.running is None)
        assert [i.state for i in screen.queue.items] == ["done", "cancelled"]
        sources = {e.transcript.source_path for e in fake.entries.values()}
        assert str(paths[1]) not in sources
