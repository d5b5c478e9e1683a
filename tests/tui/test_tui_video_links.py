"""The summary screen links its highlighted line to the video: `l` copies the link, `o` opens
it (through the real ``webbrowser`` module, with a recording command as the browser: no
browser runs here), `[` / `]` move the highlight; an export never replaces a file unasked."""

from __future__ import annotations

import sys
import webbrowser
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.tui.fake_engine import FakeEngine
from tests.tui.tui_helpers import capture_notes, settle
from tui.app import VidsumApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.summary import SummaryScreen
from tui.widgets.summary_view import SectionView

pytestmark = pytest.mark.asyncio

VIDEO = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def _quoted(fake: FakeEngine, entry_id: int, url: str | None) -> None:
    """Give an entry a video page and quote-mode bullet times (section start + 7, 14, 21 s)."""
    e = fake.entries[entry_id]
    sections = [
        sec.model_copy(update={"content_times": [sec.start + 7.9 * k for k in range(4)]})
        for sec in e.summary.sections
    ]
    fake.entries[entry_id] = replace(
        e,
        transcript=replace(e.transcript, url=url),
        summary=e.summary.model_copy(update={"sections": sections}),
    )


async def _open(app: VidsumApp, pilot: object, entry_id: int) -> SummaryScreen:
    screen = SummaryScreen(entry_id)
    await app.push_screen(screen)
    await settle(pilot)  # type: ignore[arg-type]
    return screen


async def test_l_copies_and_o_opens_the_highlighted_line(
    make_app: Callable[..., VidsumApp],
    fake: FakeEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(
        f"import sys\nopen({str(opened)!r}, 'a').write(sys.argv[1] + '\\n')\n", encoding="utf-8"
    )
    monkeypatch.setenv("BROWSER", f"{sys.executable} {browser} %s")
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # read $BROWSER afresh
    _quoted(fake, 1, VIDEO)
    app = make_app(fake)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await _open(app, pilot, 1)
        second = screen.entry.summary.sections[1]  # type: ignore[union-attr]
        assert second.start is not None and second.content_times is not None
        await pilot.press("j", "j")  # section 2, its heading highlighted
        await pilot.press("l")
        assert app.clipboard == f"{VIDEO}&t={int(second.start)}s"
        await pilot.press("]", "]", "]", "[")  # bullet 2 of section 2
        focused = app.focused
        assert isinstance(focused, SectionView) and focused.highlighted == 1
        assert [w.has_class("-highlighted") for w in focused.query(".bullet")] == [
            False, True, False, False,
        ]  # fmt: skip
        await pilot.press("l")
        bullet = f"{VIDEO}&t={int(second.content_times[1])}s"
        assert app.clipboard == bullet
        await pilot.press("o")
        await settle(pilot)
        assert opened.read_text(encoding="utf-8") == bullet + "\n"


async def test_link_keys_only_where_the_video_is_known(
    make_app: Callable[..., VidsumApp], fake: FakeEngine
) -> None:
    _quoted(fake, 1, None)  # timed, but no video
    fake.entries[3] = replace(
        fake.entries[3], transcript=replace(fake.entries[3].transcript, url=VIDEO)
    )  # a video, but untimed (its sections have no times)
    app = make_app(fake)
    notes = capture_notes(app)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await _open(app, pilot, 1)
        assert screen.check_action("copy_link", ()) is False  # no footer key, no action
        await pilot.press("l")
        await settle(pilot)
        assert app.clipboard == "" and not notes
        screen.dismiss()
        await settle(pilot)
        screen = await _open(app, pilot, 3)
        assert screen.check_action("copy_link", ()) is True
        await pilot.press("l")
        await settle(pilot)
        assert app.clipboard == ""
        assert [(n.severity, n.message) for n in notes] == [
            ("warning", "No link to the video: this summary has no times (its transcript is "
             "untimed)."),
        ]  # fmt: skip


async def test_export_asks_before_replacing_a_file(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    app = make_app(fake)
    target = tmp_path / "mine.md"
    target.write_text("keep me\n", encoding="utf-8")
    async with app.run_test(size=(100, 40)) as pilot:
        await _open(app, pilot, 1)
        for answer, expect in (("n", "keep me\n"), ("y", "# B-Trees")):
            await pilot.press("m")
            await settle(pilot)
            app.screen.query_one("#export-path", Input).value = str(target)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press(answer)
            await settle(pilot)
            assert target.read_text(encoding="utf-8").startswith(expect)
