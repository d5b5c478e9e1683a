"""Summarize screen flows: adding files, a running queue, per-item errors, cancelling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, ListView

from engine.errors import ModelNotFound
from tests.tui.fake_engine import FakeEngine, Gate
from tests.tui.tui_helpers import capture_notes, settle, wait_until
from tui.app import VidsumApp
from tui.screens.summarize import SummarizeScreen
from tui.screens.summary import SummaryScreen

pytestmark = pytest.mark.asyncio


def files(tmp_path: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = tmp_path / name
        path.write_text("1\n00:00:01,000 --> 00:00:02,000\nhello\n")
        paths.append(path)
    return paths


async def open_queue(app: VidsumApp, pilot: object) -> SummarizeScreen:
    await pilot.press("2")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    assert isinstance(app.screen, SummarizeScreen)
    return app.screen


def states(screen: SummarizeScreen) -> list[str]:
    return [i.state for i in screen.queue.items]


async def test_add_with_completion_run_and_open(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    files(tmp_path, "rust-ownership.srt")
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await pilot.press("a")
        path_input = screen.query_one("#path", Input)
        assert app.focused is path_input
        await pilot.press(*"rust")
        await wait_until(pilot, lambda: path_input._suggestion == "rust-ownership.srt")
        await pilot.press("right", "enter")  # accept the completion, add
        await settle(pilot)
        assert [i.name for i in screen.queue.items] == ["rust-ownership.srt"]
        assert states(screen) == ["queued"]
        await pilot.press("escape", "s")
        await wait_until(pilot, lambda: states(screen) == ["done"])
        item = screen.queue.items[0]
        assert item.entry_id in fake.entries
        assert item.status() == f"done → #{item.entry_id}"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen) and app.screen.entry_id == item.entry_id


async def test_a_folder_adds_its_transcripts(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    folder = tmp_path / "talks"
    folder.mkdir()
    files(folder, "a.srt", "b.vtt")
    (folder / "slides.pdf").write_text("x")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await pilot.press("a", *"talks", "enter")
        await settle(pilot)
        assert [i.name for i in screen.queue.items] == ["a.srt", "b.vtt"]


async def test_missing_path_is_reported(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_queue(app, pilot)
        await pilot.press("a", *"nope.srt", "enter")
        await settle(pilot)
        assert not screen.queue.items
        assert any(n.severity == "error" and "no such file" in n.message for n in notes)


async def test_directory_picker_adds_a_file(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    files(tmp_path, "talk.srt")
    (tmp_path / "photo.png").write_text("x")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await pilot.press("b")
        tree = screen.query_one("#tree")
        assert app.focused is tree
        await wait_until(pilot, lambda: len(tree.root.children) == 1)  # type: ignore[attr-defined]
        await pilot.press("down", "enter")
        await settle(pilot)
        assert [i.name for i in screen.queue.items] == ["talk.srt"]


async def test_a_failed_file_does_not_stop_the_queue(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    paths = files(tmp_path, "one.srt", "bad.srt", "three.srt")
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        screen.add_paths(paths)
        await pilot.press("s")
        await wait_until(pilot, lambda: all(i.final for i in screen.queue.items))
        assert states(screen) == ["done", "failed", "done"]
        bad = screen.queue.items[1]
        assert bad.error is not None and "a cue has no end time" in bad.error
        screen.query_one("#queue", ListView).index = 1
        await settle(pilot)
        assert "a cue has no end time" in str(screen.query_one("#detail").render())


async def test_cancel_the_running_item_requeues_the_rest(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    paths = files(tmp_path, "first.srt", "second.srt")
    gate = fake.summarize_gate["first.srt"] = Gate()
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        screen.add_paths(paths)
        before = set(fake.entries)
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        first = screen.queue.items[0]
        await wait_until(pilot, lambda: first.state == "running" and first.stage == "prompt")
        assert first.status().startswith("prompt 50%")
        assert "800 tok/s" in first.status() and "ETA" in first.status()
        screen.query_one("#queue", ListView).index = 0
        await pilot.press("x")
        await wait_until(pilot, lambda: states(screen) == ["cancelled", "done"])
        # The cancelled file left nothing behind; the other one went on in a new batch.
        added = set(fake.entries) - before
        assert len(added) == 1
        assert fake.entries[added.pop()].transcript.source_path == str(paths[1])
        batches = [args[0] for name, args in fake.calls if name == "summarize"]
        assert batches == [["first.srt", "second.srt"], ["second.srt"]]


async def test_cancel_all_stops_everything(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    paths = files(tmp_path, "first.srt", "second.srt")
    gate = fake.summarize_gate["first.srt"] = Gate()
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        screen.add_paths(paths)
        before = dict(fake.entries)
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        await pilot.press("X")
        await wait_until(pilot, lambda: states(screen) == ["cancelled", "cancelled"])
        await settle(pilot)
        assert fake.entries == before
        assert screen.running is None


async def test_cancel_a_waiting_item(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    paths = files(tmp_path, "first.srt", "second.srt", "third.srt")
    gate = fake.summarize_gate["first.srt"] = Gate()
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        screen.add_paths(paths)
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        screen.query_one("#queue", ListView).index = 1
        await pilot.press("x")  # second is waiting in the running batch
        gate.release.set()
        await wait_until(pilot, lambda: all(i.final for i in screen.queue.items))
        assert states(screen) == ["done", "cancelled", "done"]
        sources = {e.transcript.source_path for e in fake.entries.values()}
        assert str(paths[1]) not in sources


async def test_an_engine_error_fails_the_batch_and_is_shown(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    fake.fail["summarize"] = ModelNotFound(
        "No model is installed. Run `vidsum models pull mistral-7b-instruct-v0.3` first."
    )
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_queue(app, pilot)
        screen.add_paths(files(tmp_path, "a.srt"))
        await pilot.press("s")
        await wait_until(pilot, lambda: states(screen) == ["failed"])
        assert "No model is installed" in (screen.queue.items[0].error or "")
        assert any(n.severity == "error" and "No model is installed" in n.message for n in notes)
