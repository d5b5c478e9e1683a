"""SVG snapshots of every screen at 80x24 and 120x40 (pytest-textual-snapshot).

Deterministic by construction: fixed dates in the fake library, no clocks, cursors that do not
blink, long work held at a known point by a Gate, and every worker settled before the shot.
Update with ``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` after looking at the
SVG report of a failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.fake_data import served_copy
from tests.tui.fake_engine import FakeEngine, Gate, with_bundled_default
from tests.tui.tui_helpers import quiet_cursors, settle, wait_until
from tui.app import VidsumApp
from tui.screens.compare import CompareScreen
from tui.screens.run_on import RunOnScreen
from tui.screens.summarize import SummarizeScreen
from tui.screens.summary import SummaryScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
Before = Callable[[Pilot[Any]], Awaitable[None]]


def shoot(
    snap_compare: Callable[..., bool], app: VidsumApp, size: tuple[int, int], before: Before
) -> bool:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await before(pilot)
        await settle(pilot)
        quiet_cursors(pilot.app)  # type: ignore[arg-type]
        await pilot.pause()

    return snap_compare(app, terminal_size=size, run_before=run_before)


def make(tmp_path: Path, engine: FakeEngine | None = None) -> VidsumApp:
    return VidsumApp(engine or FakeEngine(), export_dir=tmp_path, start_dir=tmp_path)


async def nothing(pilot: Pilot[Any]) -> None:
    return None


@pytest.mark.parametrize("size", SIZES)
def test_library(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("j")

    assert shoot(snap_compare, make(tmp_path), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_library_search_and_filters(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"tree", "enter")
        await settle(pilot)
        await pilot.press("f")

    assert shoot(snap_compare, make(tmp_path), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_summary(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(SummaryScreen(1))
        await settle(pilot)
        await pilot.press("j")  # focus section 1

    assert shoot(snap_compare, make(tmp_path), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_transcript(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(SummaryScreen(1))
        await settle(pilot)
        await pilot.press("j", "j", "t")

    assert shoot(snap_compare, make(tmp_path), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_compare(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    fake = FakeEngine()

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(CompareScreen(fake.entries[4], fake.entries[1]))

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_server_and_local(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    """The same video and model, once on the local worker, once on a llama-server endpoint."""
    fake = FakeEngine()
    fake.entries[5] = served_copy(fake.entries[1], 5)

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(CompareScreen(fake.entries[5], fake.entries[1]))

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_summary_from_a_server(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    """The detail of a server's summary, scrolled to its end: the provenance line names the
    backend, endpoint, URL and build (the meta line at its top: tests/tui/test_tui_backend.py)."""
    fake = FakeEngine()
    fake.entries[5] = served_copy(fake.entries[1], 5)

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(SummaryScreen(5))
        await settle(pilot)
        await pilot.press("end")

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_confirm_delete(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(SummaryScreen(2))
        await settle(pilot)
        await pilot.press("d")

    assert shoot(snap_compare, make(tmp_path), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_summarize_queue(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    fake = FakeEngine()
    gate = fake.summarize_gate["04-running.srt"] = Gate()
    names = ["01-done.srt", "02-bad.srt", "03-cancelled.srt", "04-running.srt", "05-queued.srt"]
    for name in [*names, "06-joined.srt"]:
        (tmp_path / name).write_text("x")

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("2")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, SummarizeScreen)
        screen.add_paths([tmp_path / n for n in names])
        screen.queue.items[2].state = "cancelled"
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        await wait_until(pilot, lambda: screen.queue.items[3].stage == "prompt")
        screen.add_paths([tmp_path / "06-joined.srt"])  # while running: it joins the run
        await pilot.press("j")  # highlight the failed one: its error and r show below

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_models_downloading(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    fake = FakeEngine()
    gate = fake.pull_gate = Gate()

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("j", "p")
        await wait_until(pilot, gate.reached.is_set)
        await pilot.pause(0.1)

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


def server_fake() -> FakeEngine:
    fake = FakeEngine()
    fake.add_fake_server("gpu-box", "http://10.0.0.7:8080")
    fake.add_fake_server("laptop", "http://127.0.0.1:8081", grammar="ignored")
    fake.add_fake_server("old-box", "http://10.0.0.9:8080", grammar="unreachable")
    return fake


@pytest.mark.parametrize("size", SIZES)
def test_models_servers(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    fake = server_fake()

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("S")  # check all: ok, refused, unreachable
        await settle(pilot)
        pilot.app.screen.query_one("#servers").focus()
        await pilot.press("down", "down")  # the unreachable one: its reason shows below

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_summarize_on_servers(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    fake = server_fake()
    del fake.servers["old-box"], fake.servers["laptop"]
    fake.add_fake_server("laptop", "http://127.0.0.1:8081")
    gate = fake.summarize_gate["a-long-talk.srt"] = Gate()
    names = ["a-long-talk.srt", "b-short-talk.srt", "c-lightning.srt"]
    for name in names:
        (tmp_path / name).write_text("x")

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("2")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, SummarizeScreen)
        screen.set_run_on(("gpu-box", "laptop"))
        screen.add_paths([tmp_path / n for n in names])
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        items = screen.queue.items
        await wait_until(pilot, lambda: items[0].done == 2000 and items[1].endpoint == "laptop")

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_run_on_picker(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    fake = server_fake()
    (tmp_path / "talk.srt").write_text("x")

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("S")  # check all: the picker shows the same states
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, SummarizeScreen)
        screen.add_paths([tmp_path / "talk.srt"])
        screen.set_run_on(("gpu-box", "old-box"))
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunOnScreen))
        await pilot.press("down", "down")  # the highlight on laptop, not chosen

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_export_dialog(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    # A fixed folder (nothing is written): the dialog shows it, so it must not vary per run.
    app = VidsumApp(FakeEngine(), export_dir=Path("/home/ada/Downloads"), start_dir=tmp_path)

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(SummaryScreen(2))
        await settle(pilot)
        await pilot.press("m")

    assert shoot(snap_compare, app, size, before)


@pytest.mark.parametrize("size", SIZES)
def test_quit_while_summarizing(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    fake = FakeEngine()
    gate = fake.summarize_gate["talk.srt"] = Gate()
    (tmp_path / "talk.srt").write_text("x")
    (tmp_path / "next.srt").write_text("x")

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("2")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, SummarizeScreen)
        screen.add_paths([tmp_path / "talk.srt", tmp_path / "next.srt"])
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        await wait_until(pilot, lambda: screen.queue.items[0].stage == "prompt")
        await pilot.press("q")

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")

    assert shoot(snap_compare, make(tmp_path), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_quotes_and_abstractive(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    """Each side says its style: verbatim quotes on the left, the model's words on the right."""
    fake = FakeEngine()
    quoted = fake.entries[4]
    fake.entries[4] = replace(quoted, provenance=replace(quoted.provenance, style="quotes"))

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(CompareScreen(fake.entries[4], fake.entries[1]))

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_delete_the_bundled_default(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    """The dialog says it is the default, what it frees and that it comes back."""
    fake = FakeEngine()
    folder = tmp_path / "models"
    folder.mkdir()
    with_bundled_default(fake, folder, is_default=True)

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("G", "d")

    assert shoot(snap_compare, make(tmp_path, fake), size, before)


@pytest.mark.parametrize("size", SIZES)
def test_palette_on_a_summary(
    snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]
) -> None:
    """The command palette lists vidsum's actions only, by their full labels."""

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.app.push_screen(SummaryScreen(2))
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)

    assert shoot(snap_compare, make(tmp_path), size, before)


def test_every_screen_has_a_snapshot() -> None:
    """A new screen module without a snapshot test here fails this check."""
    screens = {p.stem for p in (Path(__file__).parents[2] / "tui" / "screens").glob("*.py")}
    covered = {
        "library",
        "summary",
        "transcript",
        "compare",
        "confirm",
        "export",
        "summarize",
        "models",
        "help",
        "run_on",
    }
    # Bases, not screens: run_on_choice is SummarizeScreen's "Run on" part, shot with it.
    assert screens - {"__init__", "base", "run_on_choice"} <= covered
