"""Field-report flows on the real Engine: `q` while a summary is in prompt processing ends
vidsum within seconds, with no worker process left and nothing stored (real Gemma 270M, a
1-hour talk); a model whose chat template never finishes rendering fails its item within
seconds with a clear error."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.batch.store import FileResult
from engine.library.store import Library
from tests.conftest import TALKS, require_shared
from tests.tui.test_tui_real_flows import open_queue, start_queue, workers
from tests.tui.tui_helpers import wait_until
from tui.app import VidsumApp
from tui.screens.confirm import ConfirmScreen

pytestmark = pytest.mark.asyncio

TALK = "talkpython_512_jit_compiler_for_cpython.youtube.vtt"


class WatchedEngine(Engine):
    """The real Engine; records when a summarize job's thread is done with it."""

    def __init__(self) -> None:
        super().__init__()
        self.job_done = threading.Event()

    def summarize(self, *args: Any, **kwargs: Any) -> Iterator[FileResult]:
        inner = super().summarize(*args, **kwargs)

        def watched() -> Iterator[FileResult]:
            try:
                yield from inner
            finally:
                self.job_done.set()

        return watched()


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_quit_during_prompt_processing_ends_within_seconds(
    make_app: Callable[..., VidsumApp], gemma_path: Path, tmp_path: Path
) -> None:
    require_shared()
    (tmp_path / TALK).symlink_to(TALKS / TALK)
    model = Engine().add_model(gemma_path, name="gemma").id
    engine = WatchedEngine()
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await start_queue(pilot, screen, model, TALK)
        item = screen.queue.items[0]
        await wait_until(
            pilot, lambda: item.state == "running" and item.stage == "prompt", timeout=240
        )
        await asyncio.sleep(1.0)  # deep in llama_decode
        running = workers()
        assert len(running) == 1 and running[0].is_alive()
        await pilot.press("q")  # a job runs: the app asks first
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=10)
        t0 = time.monotonic()  # from the user's "yes"
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, timeout=10)
    assert engine.job_done.wait(max(0.0, t0 + 5 - time.monotonic()))
    elapsed = time.monotonic() - t0
    print(f"\nq during prompt processing: app closed and the job ended in {elapsed:.2f} s")
    assert elapsed < 5
    assert not running[0].is_alive() and not workers()
    with Library() as lib:
        assert lib.count() == 0


LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


@pytest.mark.timeout(120)
async def test_a_looping_chat_template_fails_the_item_within_seconds(
    make_app: Callable[..., VidsumApp], tmp_path: Path
) -> None:
    from dataclasses import replace

    from bench.synthetic_gguf import TINY_LLAMA, write_gguf
    from engine.modelstore import local

    path = write_gguf(tmp_path / "loop.gguf", replace(TINY_LLAMA, n_layer=1), chat_template=LOOP)
    # Registered before `models add` checked templates: written to the registry as it was then.
    entry = Engine().add_model(path, chat_format="mistral-instruct")
    data = local._load_registry()
    data["models"][0]["chat_format"] = "gguf-template"
    local._save_registry(data)
    (tmp_path / "talk.txt").write_text("We build a hash table. " * 40, encoding="utf-8")
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await start_queue(pilot, screen, entry.id, "talk.txt")
        item = screen.queue.items[0]
        t0 = time.monotonic()
        await wait_until(pilot, lambda: item.final and screen.running is None, timeout=60)
        assert time.monotonic() - t0 < 30
        assert item.state == "failed"
        assert item.error is not None and "chat template did not finish rendering" in item.error
    with Library() as lib:
        assert lib.count() == 0
