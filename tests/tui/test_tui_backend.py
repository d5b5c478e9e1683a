"""Where a summary ran, in the TUI: the detail view names a server summary's backend and
endpoint, and compare tells a server's and the local worker's summary of one video apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from tests.tui.fake_data import served_copy
from tests.tui.fake_engine import FakeEngine
from tests.tui.tui_helpers import settle
from tui.app import VidsumApp
from tui.screens.compare import CompareScreen, PickScreen
from tui.screens.summary import SummaryScreen

pytestmark = pytest.mark.asyncio


def with_server_summary() -> FakeEngine:
    fake = FakeEngine()
    fake.entries[5] = served_copy(fake.entries[1], 5)
    return fake


def texts(screen: object, selector: str) -> list[str]:
    return [str(w.render()) for w in screen.query(selector).results(Static)]  # type: ignore[attr-defined]


async def meta_and_provenance(app: VidsumApp, pilot: Pilot[Any], entry_id: int) -> list[str]:
    """The detail view's meta line (under the title) and provenance line (at the end)."""
    screen = SummaryScreen(entry_id)
    await app.push_screen(screen)
    await settle(pilot)
    return [*texts(screen, ".meta"), *texts(screen, ".provenance")]


async def test_detail_names_backend_and_endpoint(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app(with_server_summary())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        meta, prov = await meta_and_provenance(app, pilot, 5)
        assert meta.endswith("server:mistral-7b-instruct-v0.2:Q4_K_M.gguf on llama-server gpu-box")
        assert prov.endswith(
            "backend: llama-server endpoint gpu-box at http://10.0.0.7:8080, build b6123-abc1234"
        )
        assert "None" not in prov  # a server summary has no quant
        await pilot.press("escape")
        meta, prov = await meta_and_provenance(app, pilot, 1)
        assert meta.endswith(" · mistral-7b-instruct-v0.2:Q4_K_M")
        assert "Q4_K_M, prompt " in prov
        assert prov.endswith("backend: local (vidsum's own llama.cpp worker)")


async def test_compare_puts_server_and_local_side_by_side(
    make_app: Callable[..., VidsumApp],
) -> None:
    app = make_app(with_server_summary())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.push_screen(SummaryScreen(1))
        await settle(pilot)
        await pilot.press("v")  # two others: the Mixtral one and the server's
        await settle(pilot)
        pick = app.screen
        assert isinstance(pick, PickScreen)
        options = pick.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels == [
            "#5  server:mistral-7b-instruct-v0.2:Q4_K_M.gguf  llama-server gpu-box  2024-05-05",
            "#4  mixtral-8x7b-instruct-v0.1:Q4_K_M  local  2024-05-04",
        ]
        await pilot.press("enter")  # the highlighted first: the server's
        await settle(pilot)
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        assert texts(compare, ".pane-title") == [
            "#1 · abstractive (model's words)\nmistral-7b-instruct-v0.2:Q4_K_M\nlocal · 2024-05-01",
            "#5 · abstractive (model's words)\nserver:mistral-7b-instruct-v0.2:Q4_K_M.gguf\n"
            "llama-server gpu-box · 2024-05-05",
        ]
