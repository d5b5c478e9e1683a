"""Models screen flows: catalog, download with progress and cancel, default, delete, hardware."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import DataTable, ProgressBar, Static

from engine.errors import DownloadError
from tests.tui.fake_data import hardware_fixture
from tests.tui.fake_engine import FakeEngine, Gate
from tests.tui.tui_helpers import capture_notes, settle, wait_until
from tui.app import VidsumApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.models import ModelsScreen

pytestmark = pytest.mark.asyncio

PARTIAL = "mistral-7b-instruct-v0.3:Q5_K_M"


async def open_models(app: VidsumApp, pilot: object) -> ModelsScreen:
    await pilot.press("3")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    assert isinstance(app.screen, ModelsScreen)
    return app.screen


def row(screen: ModelsScreen, model_id: str) -> list[str]:
    return [str(c) for c in screen.query_one(DataTable).get_row(model_id)]


async def test_catalog_shows_install_and_fit(make_app: Callable[..., VidsumApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_models(app, pilot)
        assert row(screen, "mistral-7b-instruct-v0.2:Q4_K_M") == [
            "★ mistral-7b-instruct-v0.2:Q4_K_M",  # ★: the default
            "4.07 GiB",
            "installed",
            "full",
        ]
        assert row(screen, PARTIAL)[2] == "partial 25%"
        assert row(screen, "mixtral-8x7b-instruct-v0.1:Q4_K_M")[3] == "too big"
        detail = str(screen.query_one("#fit-detail", Static).render())
        assert "33/33 layers on the GPU" in detail
        hw = str(screen.query_one("#hardware", Static).render())
        assert (
            "NVIDIA GeForce RTX 3070" in hw and "8.00 GiB VRAM" in hw and "GPU offload: yes" in hw
        )


async def test_cpu_only_build_shows_the_rebuild_hint(make_app: Callable[..., VidsumApp]) -> None:
    fake = FakeEngine()
    fake.hw = hardware_fixture(offload=False)
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_models(app, pilot)
        hw = screen.query_one("#hardware", Static)
        assert "GPU offload: no" in str(hw.render())
        assert "Rebuild it with" in str(hw.render())
        assert hw.has_class("-warning")


async def test_download_shows_progress_and_cancel_keeps_the_part(
    make_app: Callable[..., VidsumApp], fake: FakeEngine
) -> None:
    gate = fake.pull_gate = Gate()
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_models(app, pilot)
        await pilot.press("j")  # the partial Q5_K_M
        await pilot.press("p")
        await wait_until(pilot, gate.reached.is_set)
        await wait_until(
            pilot, lambda: screen.query_one(ProgressBar).percentage == pytest.approx(0.4, abs=0.001)
        )
        label = str(screen.query_one("#download-label", Static).render())
        assert label.startswith(f"Downloading {PARTIAL}: 1.91 GiB of 4.78 GiB")
        assert "12.5 MiB/s" in label and "ETA" in label
        assert not screen.query_one("#download").has_class("-hidden")
        await pilot.press("c")
        await wait_until(pilot, lambda: screen.downloading is None)
        await settle(pilot)
        assert screen.query_one("#download").has_class("-hidden")
        assert any(n.title == "Download cancelled" and "resume" in n.message for n in notes)
        assert row(screen, PARTIAL)[2] == "partial 40%"  # the part stays for a resume
        # Pulling again resumes and finishes.
        fake.pull_gate = None
        await pilot.press("p")
        await wait_until(pilot, lambda: screen.downloading is None)
        await settle(pilot)
        assert row(screen, PARTIAL)[2] == "installed"


async def test_download_error_is_shown(
    make_app: Callable[..., VidsumApp], fake: FakeEngine
) -> None:
    fake.fail["pull_model"] = DownloadError(
        "Cannot download mistral-7b-instruct-v0.3:Q8_0: the hub is unreachable."
    )
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        await open_models(app, pilot)
        await pilot.press("j", "j", "p")
        await wait_until(pilot, lambda: any(n.severity == "error" for n in notes))
        assert any("unreachable" in n.message for n in notes if n.severity == "error")


async def test_set_default_and_delete(make_app: Callable[..., VidsumApp], fake: FakeEngine) -> None:
    app = make_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_models(app, pilot)
        await pilot.press("j", "u")
        await settle(pilot)
        assert row(screen, PARTIAL)[0] == f"★ {PARTIAL}"
        assert row(screen, "mistral-7b-instruct-v0.2:Q4_K_M")[0][0] == " "
        await pilot.press("k", "d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert ("remove_model", ("mistral-7b-instruct-v0.2:Q4_K_M",)) in fake.calls
        assert row(screen, "mistral-7b-instruct-v0.2:Q4_K_M")[2] == "—"
