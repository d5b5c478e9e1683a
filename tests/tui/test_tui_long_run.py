"""A long run in the TUI (issue 20, finding 2) on the real engine: the queue row shows the
estimate, a dialog asks before a big batch starts, declining leaves nothing queued or stored,
and a cancel while the long text is being counted ends the item at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from engine.api import Engine
from engine.pipeline.parts.chunking import LONG_TEXT
from tests.tui.test_tui_real_flows import (  # noqa: F401 (fixtures)
    library_snapshot,
    one_cpu,
    open_queue,
    start_queue,
    tiny_model,
    workers,
)
from tests.tui.tui_helpers import settle, wait_until
from tui.app import VidsumApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.summarize import SummarizeScreen

# one_cpu pins the worker to one CPU, as the other real-engine flows do; tiny_model registers
# the tiny model (before the app lists the models) as TINY_MODEL.
pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("one_cpu", "tiny_model")]
TINY_MODEL = "local:tiny-llama"

SENTENCE = "We measure the hash table as it fills up and see why the load factor matters. "


def _long_talk(folder: Path) -> str:
    """Over 200k estimated tokens and LONG_TEXT characters: a big run with a tokenize stage."""
    (folder / "long.txt").write_text(SENTENCE * (LONG_TEXT // len(SENTENCE) + 100))
    return "long.txt"


async def _start_long_run(pilot: Pilot[Any], name: str) -> SummarizeScreen:
    """Queue ``name`` on the tiny model, start, wait for the dialog."""
    app = pilot.app
    screen = await open_queue(app, pilot)
    await start_queue(pilot, screen, TINY_MODEL, name)
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60)
    return screen


@pytest.mark.parametrize("answer", ["n", "y"], ids=["declined", "cancelled-while-counting"])
async def test_a_big_run_is_estimated_and_stopping_it_stores_nothing(
    make_app: Callable[..., VidsumApp], tmp_path: Path, answer: str
) -> None:
    """Declining the dialog starts nothing; accepting, then a cancel while the long text is
    being counted ends the item within two seconds."""
    before = library_snapshot()
    name = _long_talk(tmp_path)
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _start_long_run(pilot, name)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question.startswith(f"Estimate for {name}: ~")
        assert "That is a long run. Start it?" in dialog.question
        item = screen.queue.items[0]
        assert item.estimate.startswith("~") and "passes" in item.estimate
        assert item.status() == f"queued · {item.estimate}"
        await pilot.press(answer)
        if answer == "y":
            await wait_until(pilot, lambda: item.stage == "tokenize", timeout=60)
            assert item.status().startswith("counting tokens")
            t0 = time.monotonic()
            await pilot.press("x")
        await wait_until(pilot, lambda: item.final and screen.running is None, timeout=10)
        if answer == "y":
            assert time.monotonic() - t0 < 2.0
        await settle(pilot)
        assert item.state == "cancelled" and screen.running is None  # not requeued
        assert not workers()
    assert library_snapshot() == before
