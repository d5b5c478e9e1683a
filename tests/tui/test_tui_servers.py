"""Inference servers in the TUI: the Models screen's server table and its checks, and the
Summarize queue run on server profiles (the fake engine's servers, a UI fake)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Select, Static

from engine.api import Local, Servers
from engine.errors import VidsumError
from tests.tui.fake_engine import FakeEngine, Gate
from tests.tui.tui_helpers import capture_notes, settle, wait_until
from tui.app import VidsumApp
from tui.screens.models import ModelsScreen
from tui.screens.summarize import SummarizeScreen
from tui.widgets.queue_row import QueueRow
from tui.widgets.server_table import NO_SERVERS, ServerTable

pytestmark = pytest.mark.asyncio


def two_servers(fake: FakeEngine | None = None) -> FakeEngine:
    fake = fake or FakeEngine()
    fake.add_fake_server("gpu-box", "http://10.0.0.7:8080")
    fake.add_fake_server("laptop", "http://127.0.0.1:8081")
    return fake


async def open_models(app: VidsumApp, pilot: object) -> ModelsScreen:
    await pilot.press("3")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    assert isinstance(app.screen, ModelsScreen)
    return app.screen


def server_row(screen: ModelsScreen, name: str) -> list[str]:
    return [str(c) for c in screen.query_one("#servers", DataTable).get_row(name)]


def state(screen: ModelsScreen, name: str) -> str:
    return server_row(screen, name)[1]


async def test_no_servers_says_how_to_add_one(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_models(app, pilot)
        assert str(screen.query_one("#servers-detail", Static).render()) == NO_SERVERS
        assert screen.query_one("#servers", DataTable).has_class("-hidden")


async def test_servers_table_lists_profiles(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app(two_servers())
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_models(app, pilot)
        assert server_row(screen, "gpu-box") == [
            "gpu-box",
            "not checked",
            "2",
            "llama-server",
            "—",
            "http://10.0.0.7:8080",
        ]
        assert state(screen, "laptop") == "not checked"


@pytest.mark.parametrize(
    ("grammar", "label"),
    [
        ("honoured", "ok: grammar honoured"),
        ("schema-only", "schema-only"),
        ("ignored", "refused: ignores grammars"),
        ("unreachable", "unreachable: Server gpu-box (http:/…"),
    ],
)
async def test_check_updates_the_state(
    make_app: Callable[..., VidsumApp], grammar: str, label: str
) -> None:
    fake = two_servers()
    fake.server_checks["gpu-box"] = grammar
    gate = fake.check_gate = Gate()
    app = make_app(fake)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_models(app, pilot)
        screen.query_one("#servers", DataTable).focus()
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        assert state(screen, "gpu-box") == "checking…"  # the UI goes on meanwhile
        gate.release.set()
        await wait_until(pilot, lambda: state(screen, "gpu-box") != "checking…")
        assert state(screen, "gpu-box") == label
        assert state(screen, "laptop") == "not checked"
        if grammar in ("honoured", "schema-only"):
            assert server_row(screen, "gpu-box")[4] == "gemma-3-270m-it-Q8_0.gguf"
        if grammar == "unreachable":  # the whole reason is in the line under the table
            detail = str(screen.query_one("#servers-detail", Static).render())
            assert "connection refused" in detail


async def test_check_all_and_cancel_on_quit(make_app: Callable[..., VidsumApp]) -> None:
    fake = two_servers()
    fake.server_checks["laptop"] = "ignored"
    app = make_app(fake)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_models(app, pilot)
        await pilot.press("S")
        await wait_until(pilot, lambda: not screen.check_tokens)
        assert state(screen, "gpu-box") == "ok: grammar honoured"
        assert state(screen, "laptop") == "refused: ignores grammars"
        gate = fake.check_gate = Gate()
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        token = next(iter(screen.check_tokens.values()))
        screen.cancel_all_work()
        assert token.cancelled
        await wait_until(pilot, lambda: not screen.check_tokens)
        assert "checking…" not in (state(screen, "gpu-box"), state(screen, "laptop"))


async def open_summarize(app: VidsumApp, pilot: object) -> SummarizeScreen:
    await pilot.press("2")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    assert isinstance(app.screen, SummarizeScreen)
    return app.screen


def queue_texts(screen: SummarizeScreen) -> list[str]:
    return [row.plain for row in screen.query(QueueRow)]


async def test_queue_on_two_servers(make_app: Callable[..., VidsumApp], tmp_path: Path) -> None:
    fake = two_servers()
    gate = fake.summarize_gate["a.srt"] = Gate()
    names = ["a.srt", "b.srt", "c.srt"]
    for n in names:
        (tmp_path / n).write_text("x")
    app = make_app(fake)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_summarize(app, pilot)
        runs_on = screen.query_one("#runs-on", Static)
        assert not runs_on.has_class("-hidden")
        assert str(runs_on.render()) == "Run on (o): this machine"
        screen.set_run_on(("gpu-box", "laptop"))
        await pilot.pause()
        assert str(runs_on.render()) == "Run on (o): gpu-box, laptop"
        assert screen.query_one("#model", Select).disabled
        screen.add_paths([tmp_path / n for n in names])
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        await wait_until(pilot, lambda: screen.queue.items[1].endpoint == "laptop")
        items = screen.queue.items
        assert [i.state for i in items[:2]] == ["running", "running"]  # two in flight
        assert (items[0].endpoint, items[1].endpoint) == ("gpu-box", "laptop")
        texts = queue_texts(screen)
        assert "on gpu-box" in texts[0] and "on laptop" in texts[1]
        gate.release.set()
        await wait_until(pilot, lambda: screen.running is None)
        assert [i.state for i in items] == ["done", "done", "done"]
        assert items[2].endpoint == "gpu-box"
        assert "(on gpu-box)" in queue_texts(screen)[2]
        assert ("summarize", (names, Servers(("gpu-box", "laptop")))) in fake.calls
        assert not any(c[0] == "summarize" and c[1][1] == Local() for c in fake.calls)


async def test_cancel_a_server_queue(make_app: Callable[..., VidsumApp], tmp_path: Path) -> None:
    fake = two_servers()
    gate = fake.summarize_gate["a.srt"] = Gate()
    (tmp_path / "a.srt").write_text("x")
    app = make_app(fake)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_summarize(app, pilot)
        screen.set_run_on(("laptop",))
        await pilot.pause()
        screen.add_paths([tmp_path / "a.srt"])
        await pilot.press("s")
        await wait_until(pilot, gate.reached.is_set)
        assert screen.work_in_progress()
        await pilot.press("x")
        await wait_until(pilot, lambda: screen.running is None)
        assert screen.queue.items[0].state == "cancelled"


async def test_server_error_is_shown(make_app: Callable[..., VidsumApp], tmp_path: Path) -> None:
    fake = two_servers()
    message = "Server gpu-box answered outside the grammar: it ignores grammars; not used."
    fake.fail["summarize"] = VidsumError(message)
    (tmp_path / "a.srt").write_text("x")
    app = make_app(fake)
    async with app.run_test(size=(120, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_summarize(app, pilot)
        screen.set_run_on(("gpu-box",))
        await pilot.pause()
        screen.add_paths([tmp_path / "a.srt"])
        await pilot.press("s")
        await wait_until(pilot, lambda: screen.running is None)
        item = screen.queue.items[0]
        assert item.state == "failed" and item.error == message
        assert any(n.message == message and n.severity == "error" for n in notes)
        assert message in queue_texts(screen)[0]


async def test_run_on_key_without_servers(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_summarize(app, pilot)
        assert screen.query_one("#runs-on", Static).has_class("-hidden")
        await pilot.press("o")
        await pilot.pause()
        assert any("vidsum servers add" in n.message for n in notes)
        assert screen.chosen_servers() == []


async def test_server_table_labels() -> None:
    from tests.tui.fake_servers import check_result

    profile = two_servers().servers["gpu-box"]
    from tui.widgets.server_table import check_label

    assert check_label(check_result(profile, "unreachable", "down")) == "unreachable: down"
    assert check_label(check_result(profile, "unknown", "bad canary")) == (
        "check failed: bad canary"
    )
    assert isinstance(ServerTable(), ServerTable)
