"""Progress messages coalesce: a burst of events about one job reaches the screen as a few
updates (Textual's ``Message.can_replace``), ending on the latest state, so a fast download or
decode cannot flood the message queue. Notices and other items are never merged away."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.progress import Progress
from tests.tui.tui_helpers import settle
from tui.app import VidsumApp
from tui.queue import Batch, QueueItem
from tui.screens.models import ModelsScreen
from tui.screens.summarize import SummarizeScreen

BURST = 500


def test_only_a_newer_event_of_the_same_job_supersedes() -> None:
    batch = Batch(
        [QueueItem(key=1, path=Path("/x/a.srt")), QueueItem(key=2, path=Path("/x/b.srt"))]
    )

    def item(name: str, stage: str = "generate", of: Batch = batch) -> SummarizeScreen.ItemProgress:
        return SummarizeScreen.ItemProgress(of, Progress(stage, 1, 2, item=name))  # type: ignore[arg-type]

    assert item("a.srt").can_replace(item("a.srt"))
    assert item("a.srt", "prompt").can_replace(item("a.srt", "generate"))
    assert not item("a.srt").can_replace(item("b.srt"))
    assert not item("a.srt").can_replace(item("a.srt", of=Batch([])))
    assert not item("a.srt", "notice").can_replace(item("a.srt"))
    assert not item("a.srt").can_replace(item("a.srt", "notice"))

    def download(model_id: str) -> ModelsScreen.DownloadProgress:
        return ModelsScreen.DownloadProgress(model_id, Progress("download", 1, 2, item=model_id))

    assert download("m1").can_replace(download("m1"))
    assert not download("m1").can_replace(download("m2"))


@pytest.mark.asyncio
async def test_a_decode_burst_coalesces(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SummarizeScreen)
        item = QueueItem(key=1, path=Path("/x/talk.srt"), state="running")
        batch = Batch([item])
        shown: list[float] = []
        screen._redraw = lambda it: shown.append(it.done)  # type: ignore[method-assign]
        for n in range(1, BURST + 1):  # queued back to back, as a fast engine thread does
            event = Progress("generate", n, BURST, unit="tok", item="talk.srt")
            screen.post_message(SummarizeScreen.ItemProgress(batch, event))
        await settle(pilot)
        assert shown and shown[-1] == BURST and item.done == BURST
        assert len(shown) < BURST // 10, f"{len(shown)} redraws for {BURST} events"


@pytest.mark.asyncio
async def test_a_download_burst_coalesces(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        screen.downloading = "m1"
        shown: list[float] = []
        screen._show_download = lambda ev: shown.append(ev.done)  # type: ignore[method-assign]
        for n in range(1, BURST + 1):
            event = Progress("download", n, BURST, unit="B", item="m1")
            screen.post_message(ModelsScreen.DownloadProgress("m1", event))
        await settle(pilot)
        assert shown and shown[-1] == BURST
        assert len(shown) < BURST // 10, f"{len(shown)} updates for {BURST} events"
