"""Quote mode in the summary view: each quoted bullet shows where it is said."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from engine.schema import Section
from tui.widgets.summary_view import SectionView

pytestmark = pytest.mark.asyncio

BULLETS = ["First quoted sentence.", "Second one.", "Third one.", "Fourth one."]


class _One(App[None]):
    def __init__(self, section: Section) -> None:
        super().__init__()
        self.section = section

    def compose(self) -> ComposeResult:
        yield SectionView(1, self.section)


async def test_quoted_bullets_show_their_timestamps() -> None:
    timed = Section(
        title="Section 2: Timed",
        content=BULLETS,
        topics=["a", "b", "c"],
        start=600.0,
        end=1200.0,
        content_times=[600.0, 751.9, 900.0, 1199.0],
    )
    async with _One(timed).run_test() as pilot:
        await pilot.pause()
        stamps = [str(w.render()) for w in pilot.app.query(".bullet-time").results(Static)]
        assert stamps == ["[00:10:00]", "[00:12:31]", "[00:15:00]", "[00:19:59]"]


async def test_written_bullets_have_no_timestamps() -> None:
    plain = Section(title="Section 2: Plain", content=BULLETS, topics=["a", "b", "c"])
    async with _One(plain).run_test() as pilot:
        await pilot.pause()
        assert not list(pilot.app.query(".bullet-time"))
        assert len(list(pilot.app.query(".bullet-text"))) == 4
