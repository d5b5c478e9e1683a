"""The Summarize screen's "Run on" picker (o): this machine or any set of server profiles, by
keyboard only, remembered for the session (the fake engine's servers, a UI fake)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Select, SelectionList, Static

from engine.api import Local, Servers
from tests.tui.fake_engine import FakeEngine, Gate
from tests.tui.test_tui_servers import open_summarize, two_servers
from tests.tui.tui_helpers import capture_notes, settle, wait_until
from tui.app import VidsumApp
from tui.screens.run_on import EMPTY, HINT, LOCAL, RunOnScreen
from tui.screens.summarize import SummarizeScreen
from tui.widgets.queue_row import QueueRow

pytestmark = pytest.mark.asyncio

NAMES = ["a.srt", "b.srt", "c.srt"]


def three_servers() -> FakeEngine:
    fake = two_servers()
    fake.server_checks["laptop"] = "ignored"
    fake.add_fake_server("old-box", "http://10.0.0.9:8080")
    return fake


async def open_picker(app: VidsumApp, pilot: object) -> RunOnScreen:
    await pilot.press("o")  # type: ignore[attr-defined]
    await wait_until(pilot, lambda: isinstance(app.screen, RunOnScreen))  # type: ignore[arg-type]
    assert isinstance(app.screen, RunOnScreen)
    return app.screen


def checked(picker: RunOnScreen) -> list[str]:
    return list(picker.query_one(SelectionList).selected)


def shown(screen: SummarizeScreen) -> str:
    return str(screen.query_one("#runs-on", Static).render())


def note(picker: RunOnScreen) -> str:
    return str(picker.query_one("#run-on-note", Static).render())


async def test_pick_two_of_three_and_run(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    fake = three_servers()
    gate = fake.summarize_gate["a.srt"] = Gate()
    for n in NAMES:
        (tmp_path / n).write_text("x")
    app = make_app(fake)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_summarize(app, pilot)
        assert shown(screen) == "Run on (o): this machine"
        picker = await open_picker(app, pilot)
        assert checked(picker) == [LOCAL]
        assert note(picker) == HINT
        # This machine, gpu-box, laptop, old-box: check gpu-box (this machine is unchecked
        # with it: the two do not mix), then old-box.
        await pilot.press("down", "space")
        assert checked(picker) == ["gpu-box"]
        await pilot.press("down", "down", "space", "enter")
        await settle(pilot)
        assert app.screen is screen
        assert app.run_on == ("gpu-box", "old-box")
        assert shown(screen) == "Run on (o): gpu-box, old-box"
        assert screen.query_one("#model", Select).disabled  # a server runs its own model
        screen.add_paths([tmp_path / n for n in NAMES])
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        await wait_until(pilot, lambda: screen.queue.items[1].endpoint == "old-box")
        assert "· on gpu-box, old-box" in str(screen.query_one("#detail", Static).render())
        gate.release.set()
        await wait_until(pilot, lambda: screen.running is None)
        assert ("summarize", (NAMES, Servers(("gpu-box", "old-box")))) in fake.calls
        assert not any(c[0] == "summarize" and c[1][1] == Local() for c in fake.calls)
        items = screen.queue.items
        assert [i.state for i in items] == ["done", "done", "done"]
        assert [i.endpoint for i in items] == ["gpu-box", "old-box", "gpu-box"]
        rows = [row.plain for row in screen.query(QueueRow)]
        for row, endpoint in zip(rows, ["gpu-box", "old-box", "gpu-box"], strict=True):
            assert f"(on {endpoint})" in row
        assert not any("laptop" in row for row in rows)
        assert app.run_on == ("gpu-box", "old-box")  # still the choice for the next batch


async def test_empty_choice_is_refused(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app(three_servers())
    async with app.run_test(size=(120, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_summarize(app, pilot)
        picker = await open_picker(app, pilot)
        await pilot.press("space")  # unchecks this machine: nothing is chosen
        assert checked(picker) == []
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is picker  # refused: the dialog stays, saying why
        assert note(picker) == EMPTY
        assert picker.query_one("#run-on-note", Static).has_class("-error")
        assert app.run_on == ()
        await pilot.press("down", "down", "space")  # laptop
        assert note(picker) == HINT  # the complaint goes once something is chosen
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and app.run_on == ("laptop",)
        assert not any(n.severity == "error" for n in notes)


async def test_escape_keeps_the_previous_choice(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app(three_servers())
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_summarize(app, pilot)
        screen.set_run_on(("laptop",))
        picker = await open_picker(app, pilot)
        assert checked(picker) == ["laptop"]  # it opens on the current choice
        await pilot.press("space")  # this machine instead of laptop...
        assert checked(picker) == [LOCAL]
        await pilot.press("escape")  # ...but not confirmed
        await settle(pilot)
        assert app.screen is screen
        assert app.run_on == ("laptop",) and shown(screen) == "Run on (o): laptop"
        # Remembered for the session: another mode and back, it is still the choice.
        await pilot.press("1")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert shown(screen) == "Run on (o): laptop"
        picker = await open_picker(app, pilot)
        assert checked(picker) == ["laptop"]
        await pilot.press("space", "enter")  # back to this machine
        await settle(pilot)
        assert app.run_on == () and shown(screen) == "Run on (o): this machine"
        assert not screen.query_one("#model", Select).disabled


async def test_picker_lines_show_url_and_check_state(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app(three_servers())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("S")  # the Models screen checks every server
        await wait_until(pilot, lambda: not app.server_states.checking)
        await open_summarize(app, pilot)
        picker = await open_picker(app, pilot)
        picks = picker.query_one(SelectionList)
        prompts = [str(picks.get_option_at_index(i).prompt) for i in range(picks.option_count)]
        assert prompts[0] == "This machine"
        assert prompts[1].split() == [
            "gpu-box",
            "http://10.0.0.7:8080",
            "ok:",
            "grammar",
            "honoured",
        ]
        assert prompts[2].split()[:3] == ["laptop", "http://127.0.0.1:8081", "refused:"]
        assert "ignores grammars" in prompts[2]
        assert prompts[3].startswith("old-box  http://10.0.0.9:8080 ")


async def test_a_server_added_meanwhile_is_offered_and_one_removed_is_dropped(
    make_app: Callable[..., VidsumApp],
) -> None:
    fake = three_servers()
    app = make_app(fake)
    async with app.run_test(size=(120, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_summarize(app, pilot)
        screen.set_run_on(("gpu-box", "old-box"))
        del fake.servers["old-box"]  # `vidsum servers rm old-box` in another terminal
        fake.add_fake_server("new-box", "http://10.0.0.8:8080")  # and `servers add`
        picker = await open_picker(app, pilot)
        values = [picker.query_one(SelectionList).get_option_at_index(i).value for i in range(4)]
        assert values == [LOCAL, "gpu-box", "laptop", "new-box"]
        assert checked(picker) == ["gpu-box"]
        assert app.run_on == ("gpu-box",)
        assert any("old-box" in n.message and n.severity == "warning" for n in notes)
        await pilot.press("escape")
        await settle(pilot)
        assert shown(screen) == "Run on (o): gpu-box"
