"""Issue 20, finding 6: nothing is cut at 80x24, and the palette lists only vidsum's actions.

Cut means: a footer key past the palette key, a select or input whose label or placeholder is
wider than the room it gets, a table wider than its screen, a detail line with more lines than
its height. Each check measures the laid-out widgets, so a longer label added later fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Select, Static
from textual.widgets._footer import FooterKey

from engine.schema import GENERAL_FIELDS
from tests.tui.fake_engine import FakeEngine, with_bundled_default
from tests.tui.tui_helpers import settle, wait_until
from tui.app import VidsumApp, help_sections, palette_label
from tui.screens.compare import CompareScreen
from tui.screens.export import ExportScreen
from tui.screens.library import LibraryScreen
from tui.screens.models import ModelsScreen
from tui.screens.summarize import SummarizeScreen
from tui.screens.summary import SummaryScreen
from tui.screens.transcript import TranscriptScreen
from tui.widgets.queue_row import QueueRow

pytestmark = pytest.mark.asyncio
SMALL = (80, 24)


def footer_keys(app: VidsumApp) -> list[FooterKey]:
    """The footer's keys, after checking that every one ends before the palette key."""
    footer = app.screen.query_one(Footer)
    keys = list(footer.query(FooterKey))
    palette = [k for k in keys if k.has_class("-command-palette")]
    limit = palette[0].region.x if palette else footer.region.right
    for key in keys:
        if key not in palette:
            assert key.region.right <= limit, f"{key.description!r} is cut on {app.screen}"
    return keys


def fits_one_line(widget: Widget, text: str) -> bool:
    return cell_len(text) <= widget.content_size.width


def not_clipped(static: Static) -> bool:
    """All of a wrapped line's rows are on screen (none hidden by a max-height)."""
    size = static.content_size
    return static.get_content_height(size, static.app.size, size.width) <= size.height


async def screens_at_80(pilot: Pilot[Any], fake: FakeEngine, tmp_path: Path) -> list[str]:
    """Visit every full screen at 80x24; check its footer; return what each footer says."""
    app: VidsumApp = pilot.app  # type: ignore[assignment]
    said = []

    async def check() -> None:
        await settle(pilot)
        said.append(" ".join(f"{k.key_display} {k.description}" for k in footer_keys(app)))

    await check()  # Library
    await app.push_screen(SummaryScreen(1))
    await check()
    await pilot.press("t")
    assert isinstance(app.screen, TranscriptScreen)
    await check()
    await pilot.press("escape")
    await app.push_screen(CompareScreen(fake.entries[4], fake.entries[1]))
    await check()
    await pilot.press("2")
    await check()
    await pilot.press("3")
    await check()
    return said


async def test_every_footer_fits_80_columns_with_quit(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    fake = FakeEngine()
    app = make_app(fake)
    async with app.run_test(size=SMALL) as pilot:
        said = await screens_at_80(pilot, fake, tmp_path)
    assert len(said) == 6
    for footer in said:
        assert "q Quit" in footer, footer
    summarize = said[4]
    assert "r Retry" in summarize and "x Cancel" in summarize and "s Start" in summarize


async def test_library_filters_show_every_label_whole_at_80(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LibraryScreen)
        await pilot.press("f")
        models = ["mixtral-8x7b-instruct-v0.1:Q4_K_M", "server:gemma-3-270m-it-Q8_0.gguf"]
        screen._set_filter_options((list(GENERAL_FIELDS), models))
        await settle(pilot)
        selects = {s.id: s for s in screen.query_one("#filters").query(Select)}

        def label_fits(select: Select[Any]) -> bool:
            label = select.query_one("#label", Static)
            return fits_one_line(label, str(label.render()))

        for select in selects.values():  # the prompts: "Any general topic", "≥ 0.0", ...
            assert label_fits(select), select.id
        for value in (*GENERAL_FIELDS, *models):  # every field name and model id, chosen
            select = selects["topic" if value in GENERAL_FIELDS else "model"]
            select.value = value
            await pilot.pause()
            assert label_fits(select), value
        for order in ("created_asc", "complexity_desc", "relevance"):
            selects["order"].value = order
            await pilot.pause()
            assert label_fits(selects["order"]), order


async def test_summarize_placeholder_and_model_fit_at_80(
    make_app: Callable[..., VidsumApp],
) -> None:
    fake = FakeEngine()
    fake.add_fake_server("gpu-box", "http://10.0.0.7:8080")  # "Run on" takes room too
    app = make_app(fake)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2")
        await settle(pilot)
        path = app.screen.query_one("#path", Input)
        assert fits_one_line(path, path.placeholder)
        assert not app.screen.query_one("#runs-on").has_class("-hidden")
        model = app.screen.query_one("#model", Select)
        label = model.query_one("#label", Static)
        assert fits_one_line(label, "mixtral-8x7b-instruct-v0.1:Q4_K_M")


async def test_a_long_queue_status_wraps_instead_of_being_cut_at_80(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    (tmp_path / "a-bad-file-with-a-long-name.srt").write_text("x")
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SummarizeScreen)
        screen.add_paths([tmp_path / "a-bad-file-with-a-long-name.srt"])
        await pilot.press("s")
        await wait_until(pilot, lambda: screen.queue.items[0].state == "failed")
        await settle(pilot)
        row = screen.query_one(QueueRow)
        assert len(row.plain) > row.size.width  # the status needs more than one line...
        assert row.size.height >= 2  # ...and gets it
        shown = " ".join(
            "".join(seg.text for seg in row.render_line(y)).strip() for y in range(row.size.height)
        )
        assert shown.endswith("a cue has no end time.")


async def test_models_table_and_lines_fit_at_80_with_the_widest_catalog_values(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    fake = FakeEngine()
    with_bundled_default(fake, None, is_default=False)  # ☆, and the longest detail line
    fake.models[3] = replace(fake.models[3], verified=False, installed=Path("/hf/x.gguf"))
    fake.add_fake_server("old-box", "http://10.0.0.9:8080", grammar="unreachable")
    app = make_app(fake)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        catalog = screen.query_one("#catalog", DataTable)
        assert catalog.virtual_size.width <= catalog.scrollable_content_region.width
        await pilot.press("G")  # the bundled default: the longest detail line
        await settle(pilot)
        detail = screen.query_one("#fit-detail", Static)
        assert "☆ It is used by default" in str(detail.render())
        assert not_clipped(detail)
        servers = screen.query_one("#servers", DataTable)
        assert servers.virtual_size.width <= servers.scrollable_content_region.width
        said = screen.query_one("#servers-detail", Static)
        # What the narrow table leaves out is said under it, whole.
        assert "http://10.0.0.9:8080" in str(said.render())
        assert not_clipped(said)


# --- the palette ---------------------------------------------------------------------------


def vidsum_labels() -> set[str]:
    """Every label vidsum's own bindings give the palette."""
    return {
        palette_label(b)
        for _, bindings in help_sections()
        for b in bindings
        if hasattr(b, "description") and b.description
    }


def titles(app: VidsumApp) -> set[str]:
    return {c.title for c in app.get_system_commands(app.screen)}


def only_vidsum(found: set[str]) -> None:
    own = vidsum_labels()
    for title in found:
        where, _, bare = title.partition(": ")
        if where not in {"Library", "Summarize", "Models"}:
            bare = title
        assert bare in own or bare.startswith("Go to ") or bare == "Keys and help", title
    for motion in ("Down", "Up", "First", "Last", "Page down"):
        assert motion not in found


async def test_palette_lists_only_vidsum_actions_with_full_labels(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    (tmp_path / "talk.srt").write_text("x")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        library = titles(app)
        only_vidsum(library)
        for internal in ("Bottom", "Cursor left", "Copy selected text", "Theme", "Screenshot"):
            assert internal not in library
        assert {"Export summary as JSON", "Export summary as Markdown"} <= library
        await pilot.press("slash")  # the search box focused: its editing keys stay out
        only_vidsum(titles(app))
        await pilot.press("escape")
        await app.push_screen(SummaryScreen(2))
        await settle(pilot)
        summary = titles(app)
        only_vidsum(summary)
        assert {"Export summary as JSON", "Export summary as Markdown"} <= summary
        assert {"Copy summary as Markdown", "Delete summary"} <= summary
        assert not {"JSON", "MD"} & summary
        await pilot.press("3")
        await settle(pilot)
        models = titles(app)
        only_vidsum(models)
        assert not any("Export" in t for t in models)  # no summary highlighted here
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SummarizeScreen)
        screen.add_paths([tmp_path / "talk.srt"])
        await settle(pilot)
        assert "Export summary as JSON" not in titles(app)  # queued: no summary yet
        await pilot.press("s")
        await wait_until(pilot, lambda: screen.queue.items[0].state == "done")
        assert "Export summary as JSON" in titles(app)


async def test_palette_finds_export_in_the_library_list(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    app = make_app(export_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("j")  # the second newest: "CPU Caches and the Code You Write"
        await pilot.press("ctrl+p")
        await pilot.press(*"export")
        await settle(pilot)
        await pilot.press("down", "enter")  # the first hit is JSON; the second Markdown
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportScreen)
        chosen = dialog.query_one("#export-path", Input).value
        assert chosen == str(tmp_path / "cpu-caches-and-the-code-you-write-3.md")
        await pilot.press("enter")
        await settle(pilot)
        assert (tmp_path / "cpu-caches-and-the-code-you-write-3.md").is_file()
