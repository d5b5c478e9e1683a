"""What a new user tripped over (issue 13): focus after adding, browsing up, exports that ask
where, the Models screen's keys and messages, the library's labels, headers and Esc; and the
default model removed from the TUI (issue 10)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from tests.tui.fake_engine import FakeEngine
from tests.tui.tui_helpers import capture_notes, settle, wait_until
from tui.app import VidsumApp
from tui.screens.export import ExportScreen
from tui.screens.library import LibraryScreen
from tui.screens.models import ModelsScreen
from tui.screens.summarize import SummarizeScreen
from tui.screens.summary import SummaryScreen
from tui.widgets.entry_table import EntryTable
from tui.widgets.path_input import TranscriptTree

pytestmark = pytest.mark.asyncio

SRT = "1\n00:00:01,000 --> 00:00:02,000\nhello\n"


# --- 1. focus after adding --------------------------------------------------------------------


async def test_after_adding_a_file_the_queue_has_focus_and_a_opens_the_input_again(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    (tmp_path / "one.srt").write_text(SRT)
    (tmp_path / "two.srt").write_text(SRT)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SummarizeScreen)
        path_input = screen.query_one("#path", Input)
        await pilot.press("a", *"one.srt", "enter")
        await settle(pilot)
        assert [i.name for i in screen.queue.items] == ["one.srt"]
        assert app.focused is screen.query_one("#queue")
        await pilot.press("a")  # the screen's key again, not a letter in the path
        assert app.focused is path_input and path_input.value == ""
        await pilot.press(*"two.srt", "enter")
        await settle(pilot)
        assert [i.name for i in screen.queue.items] == ["one.srt", "two.srt"]
        assert app.focused is screen.query_one("#queue")


# --- 2. browse up -----------------------------------------------------------------------------


async def test_browse_goes_up_and_home_and_starts_at_the_last_folder(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    start = tmp_path / "checkout"
    start.mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "talk.srt").write_text(SRT)
    app = make_app(start_dir=start)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SummarizeScreen)
        await pilot.press("b")
        tree = screen.query_one(TranscriptTree)
        assert app.focused is tree and Path(tree.path) == start
        await pilot.press("backspace")  # up a folder: ../shared is reachable
        await pilot.pause()
        assert Path(tree.path) == tmp_path and tree.border_title == str(tmp_path)
        assert app.browse_dir == tmp_path
        await pilot.press("b")  # hide, and again: the tree starts where it was left
        await pilot.press("b")
        assert Path(tree.path) == tmp_path
        await wait_until(pilot, lambda: tree.root.children != [])
        shared = next(n for n in tree.root.children if str(n.label) == "shared")
        tree.move_cursor(shared)
        await pilot.press("enter")  # open the folder
        await wait_until(pilot, lambda: shared.children != [])
        tree.move_cursor(shared.children[0])
        await pilot.press("enter")  # pick the file
        await settle(pilot)
        assert [i.path for i in screen.queue.items] == [tmp_path / "shared" / "talk.srt"]
        assert app.browse_dir == tmp_path / "shared"
        await pilot.press("b", "b", "tilde")  # hide, show (focus), home
        await pilot.pause()
        assert Path(tree.path) == Path.home()


# --- 3. exports ask where ---------------------------------------------------------------------


async def test_export_asks_where_remembers_a_new_folder_and_says_the_full_path(
    make_app: Callable[..., VidsumApp], fake: FakeEngine, tmp_path: Path
) -> None:
    fake.home = tmp_path / "home"
    app = make_app(fake, export_dir=None)  # the engine chooses the folder
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        await settle(pilot)
        await app.push_screen(SummaryScreen(2))
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportScreen)
        path_input = dialog.query_one("#export-path", Input)
        default = tmp_path / "home" / "Downloads" / "webassembly-outside-the-browser-2.json"
        assert path_input.value == str(default)  # Downloads, not the working directory
        chosen = tmp_path / "elsewhere" / "wasm.json"
        path_input.value = str(chosen)
        await pilot.press("enter")
        await settle(pilot)
        assert json.loads(chosen.read_text())["summary"]["introduction"]
        assert any(n.message == f"Exported to {chosen}" for n in notes)
        assert ("set_export_dir", (chosen.parent,)) in fake.calls
        assert not default.exists()
        await pilot.press("m")  # the next export starts in the folder chosen last
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)
        value = app.screen.query_one("#export-path", Input).value
        assert value == str(chosen.parent / "webassembly-outside-the-browser-2.md")
        await pilot.press("escape")  # cancel: nothing written
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        assert not (chosen.parent / "webassembly-outside-the-browser-2.md").exists()


# --- 6. the Models screen ---------------------------------------------------------------------


async def test_models_use_on_an_uninstalled_model_warns_and_keys_move(
    make_app: Callable[..., VidsumApp], fake: FakeEngine
) -> None:
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        table = screen.query_one(DataTable)
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("u")  # installed: no warning
        await settle(pilot)
        assert notes[-1].severity == "information"
        await pilot.press("end", "u")  # Mixtral, not installed
        await settle(pilot)
        warning = notes[-1]
        assert warning.severity == "warning"
        assert "mixtral-8x7b-instruct-v0.1:Q4_K_M is now the default model" in warning.message
        assert "not installed yet" in warning.message
        assert "vidsum models pull mixtral-8x7b-instruct-v0.1:Q4_K_M" in warning.message
        cells = [str(c) for c in table.get_row("mixtral-8x7b-instruct-v0.1:Q4_K_M")]
        assert cells[0][0] == "★"


async def test_models_star_the_automatic_choice_and_the_fit_line_is_readable(
    make_app: Callable[..., VidsumApp], fake: FakeEngine
) -> None:
    from dataclasses import replace

    default = fake.models[0].entry.id
    fake.models = [replace(m, is_default=False) for m in fake.models]  # automatic default
    fake.models[1] = replace(
        fake.models[1],
        fit="unknown",
        fit_detail="Unknown model shape 'x' (known: mistral-7b, mixtral-8x7b)",
    )
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        table = screen.query_one(DataTable)
        assert str(table.get_row(default)[0]).startswith("☆ ")  # the automatic choice
        detail = screen.query_one("#fit-detail", Static)
        assert "It is used by default (automatic" in str(detail.render())
        await pilot.press("j")
        line = str(detail.render())
        assert "Unknown model shape" not in line
        assert "worked out once the model is downloaded" in line


async def test_deleting_the_default_in_the_tui_clears_it_and_says_what_is_used_next(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    """Issue 10 from the TUI face, on the real Engine and a real VIDSUM_HOME."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from engine.api import Engine
    from engine.modelstore.manager import resolve_model, set_default_model
    from engine.settings import get_default_model
    from tests.modelstore.test_catalog import fake_install, tiny_gguf

    data = tiny_gguf(tmp_path / "tiny.gguf").read_bytes()
    fake_install("mistral-7b-instruct-v0.1:Q8_0", data + b"\0")
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", data)
    set_default_model("mistral-7b-instruct-v0.2:Q4_K_M")
    engine = Engine(tmp_path / "lib.db")
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count > 0)
        table.move_cursor(row=table.get_row_index("mistral-7b-instruct-v0.2:Q4_K_M"))
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        await wait_until(pilot, lambda: any(n.title == "Model deleted" for n in notes))
        said = next(n.message for n in notes if n.title == "Model deleted")
        assert "the default is now automatic" in said
        assert "vidsum will use mistral-7b-instruct-v0.1:Q8_0" in said
        await settle(pilot)
        assert str(table.get_row("mistral-7b-instruct-v0.1:Q8_0")[0]).startswith("☆ ")
    assert get_default_model() is None
    assert resolve_model(None).id == "mistral-7b-instruct-v0.1:Q8_0"


# --- 9. the library list ----------------------------------------------------------------------


async def test_library_short_labels_whole_headers_and_one_escape_clears(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LibraryScreen)
        table = screen.query_one(EntryTable)
        header = table.render_line(0).text
        assert "Complexity" in header and "Date ▼" in header and "…" not in header
        first = table.render_line(1).text
        assert "DB, Algo, Arch" in first and "…" not in first.split("  ")[-1]
        await pilot.press("s", "s", "s")  # most complex first
        await settle(pilot)
        assert "Complexity ▼" in table.render_line(0).text
        await pilot.press("slash", *"caches", "enter")
        await wait_until(pilot, lambda: screen.pager.total == 1)
        await pilot.press("f")  # the filter bar opens with the focus in it
        assert not screen.query_one("#filters").has_class("-hidden")
        await pilot.press("escape")  # one Esc clears the search
        await wait_until(pilot, lambda: screen.pager.total == 4)
        assert screen.query_one("#search", Input).value == ""
        assert app.focused is table
