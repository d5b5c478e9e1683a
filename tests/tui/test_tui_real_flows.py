"""The issue's "Done when" flows on the real engine: no fake anywhere.

Real ``engine.api.Engine``, a real SQLite library under ``VIDSUM_HOME``, the real llama.cpp
worker process (the tiny random-weight model, registered as a local model and picked in the
queue's model selector), and the real loopback hub server (``tests/hubserver.py``) behind
``HF_ENDPOINT`` for downloads.

The llama.cpp worker sizes its thread pool from the CPU affinity it inherits. On a shared,
oversubscribed test machine two spinning threads run the tiny model ~40x slower than one, so
these tests pin themselves (and so the worker) to one CPU, as ``taskset -c N vidsum`` would.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, ListView, ProgressBar, Select, Static

from engine.api import Engine
from engine.library.records import NewEntry
from engine.library.store import Library
from engine.modelstore import hubcache
from engine.modelstore.catalog import get_entry
from engine.schema import Summary
from tests.factories import make_entry, make_summary
from tests.hubserver import FakeHub, HubFile, add_catalog_file, start_hub
from tests.tui.tui_helpers import capture_notes, settle, wait_until
from tui.app import VidsumApp
from tui.screens.library import LibraryScreen
from tui.screens.models import ModelsScreen
from tui.screens.summarize import SummarizeScreen
from tui.screens.summary import SummaryScreen

pytestmark = pytest.mark.asyncio

WORKER_NAME = "vidsum-llama-worker"
HUB_MODEL = "mistral-7b-instruct-v0.2:Q4_K_M"
MB = 1024 * 1024

TALKS = {
    "hash-tables.txt": (
        "Welcome back. Today we build a hash table from scratch. We start with an array of "
        "buckets and a hash function, then look at what happens when two keys land in the "
        "same bucket. Chaining keeps a small list per bucket; open addressing probes the next "
        "free slot instead. We measure both as the table fills up and see why the load factor "
        "matters more than the hash function for most workloads."
    ),
    "garbage-collection.txt": (
        "In this talk we look at how a generational garbage collector decides what to free. "
        "Most objects die young, so the young generation is collected often and cheaply by "
        "copying the survivors out. Objects that survive a few collections are promoted to the "
        "old generation, which is marked and swept far less often. We end with write barriers "
        "and why they are the price of collecting one generation at a time."
    ),
}


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def one_cpu() -> Iterator[None]:
    """Pin this thread (and so the engine's threads and its worker process) to one CPU."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@pytest.fixture
def tiny_model(tiny_llama_path: Path) -> str:
    """The tiny model registered as a local model (``vidsum models add``): its catalog id."""
    return Engine().add_model(tiny_llama_path, name="tiny-llama").id


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    h = start_hub(monkeypatch)
    yield h
    h.stop()


# --- helpers -------------------------------------------------------------------------------------


def write_talks(folder: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = folder / name
        path.write_text(TALKS.get(name, TALKS["hash-tables.txt"]), encoding="utf-8")
        paths.append(path)
    return paths


def workers() -> list[multiprocessing.process.BaseProcess]:
    """The llama.cpp worker processes this test process has running."""
    return [p for p in multiprocessing.active_children() if p.name == WORKER_NAME]


def states(screen: SummarizeScreen) -> list[str]:
    return [i.state for i in screen.queue.items]


def library_snapshot() -> tuple[int, list[int]]:
    with Library() as lib:
        lib.integrity_check()
        return lib.count(), [r.id for r in lib.list(limit=1000)]


async def open_queue(app: VidsumApp, pilot: Pilot[Any]) -> SummarizeScreen:
    await pilot.press("2")
    await settle(pilot)
    assert isinstance(app.screen, SummarizeScreen)
    return app.screen


async def add_by_path(pilot: Pilot[Any], screen: SummarizeScreen, name: str) -> None:
    """Type a file name into the path input and press Enter, as a user does."""
    path_input = screen.query_one("#path", Input)
    if pilot.app.focused is not path_input:
        await pilot.press("a")
    assert pilot.app.focused is path_input
    await pilot.press(*name, "enter")
    await settle(pilot)


async def choose_model(pilot: Pilot[Any], screen: SummarizeScreen, model_id: str) -> None:
    """Pick the model in the queue's model selector with the keyboard."""
    select: Select[str] = screen.query_one("#model", Select)
    await wait_until(pilot, lambda: model_id in [v for _, v in select._options])
    select.focus()
    await pilot.press("enter")  # open the list
    await settle(pilot)
    for _ in range(len(select._options) + 1):
        if select.selection == model_id:
            break
        await pilot.press("down")
    await pilot.press("enter")
    await settle(pilot)
    assert select.value == model_id


async def start_queue(
    pilot: Pilot[Any], screen: SummarizeScreen, model_id: str, *names: str
) -> None:
    for name in names:
        await add_by_path(pilot, screen, name)
    assert [i.name for i in screen.queue.items] == list(names)
    await choose_model(pilot, screen, model_id)
    await pilot.press("escape", "s")  # back to the queue, start


# --- summarize -----------------------------------------------------------------------------------


async def test_summarize_two_files_then_open_the_summary(
    make_app: Callable[..., VidsumApp], tiny_model: str, one_cpu: None, tmp_path: Path
) -> None:
    names = list(TALKS)
    write_talks(tmp_path, *names)
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await start_queue(pilot, screen, tiny_model, *names)
        seen_running: set[str] = set()

        def finished() -> bool:
            seen_running.update(i.stage for i in screen.queue.items if i.state == "running")
            return all(i.final for i in screen.queue.items) and screen.running is None

        await wait_until(pilot, finished, timeout=90)
        assert states(screen) == ["done", "done"], [i.error for i in screen.queue.items]
        assert {"prompt", "generate"} <= seen_running  # live progress was streamed
        ids = [i.entry_id for i in screen.queue.items]
        with Library() as lib:
            assert lib.count() == 2
            assert sorted(r.id for r in lib.list()) == sorted(ids)  # type: ignore[type-var]
            assert {lib.get(i).provenance.model_id for i in ids if i} == {tiny_model}
        assert not workers()  # the batch closed its model worker

        view = screen.query_one("#queue", ListView)
        view.focus()
        view.index = 1
        await settle(pilot)
        assert "Enter opens the summary." in str(screen.query_one("#detail", Static).render())
        await pilot.press("enter")
        await settle(pilot)
        summary = app.screen
        assert isinstance(summary, SummaryScreen) and summary.entry_id == ids[1]
        await wait_until(pilot, lambda: summary.entry is not None)
        assert len(summary.sections) == 5
        assert summary.entry is not None
        assert summary.entry.transcript.source_path == str(tmp_path / names[1])


async def test_summarize_cancelled_half_way_leaves_the_library_as_it_was(
    make_app: Callable[..., VidsumApp], tiny_model: str, one_cpu: None, tmp_path: Path
) -> None:
    with Library() as lib:
        lib.add(make_entry(0))  # something to keep
    before = library_snapshot()
    write_talks(tmp_path, "hash-tables.txt")
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await start_queue(pilot, screen, tiny_model, "hash-tables.txt")
        item = screen.queue.items[0]
        # Half-way: tokens are being generated by the worker.
        await wait_until(
            pilot, lambda: item.state == "running" and item.stage == "generate", timeout=60
        )
        running = workers()
        assert len(running) == 1 and running[0].is_alive()
        await pilot.press("x")
        await wait_until(pilot, lambda: item.final and screen.running is None, timeout=30)
        assert item.state == "cancelled" and item.entry_id is None
        assert item.status() == "cancelled"
        assert not running[0].is_alive()  # the runner's child exited
        assert not workers()
    assert library_snapshot() == before


async def test_cancel_a_waiting_item_while_another_runs(
    make_app: Callable[..., VidsumApp], tiny_model: str, one_cpu: None, tmp_path: Path
) -> None:
    names = list(TALKS)
    paths = write_talks(tmp_path, *names)
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await start_queue(pilot, screen, tiny_model, *names)
        first, second = screen.queue.items
        await wait_until(pilot, lambda: first.state == "running", timeout=60)
        screen.query_one("#queue", ListView).index = 1
        await pilot.press("x")  # the second file waits in the running batch
        assert second.cancel_requested
        await wait_until(
            pilot, lambda: first.final and second.final and screen.running is None, timeout=90
        )
        assert states(screen) == ["done", "cancelled"], [i.error for i in screen.queue.items]
        assert not workers()
    with Library() as lib:
        assert [lib.get(r.id).transcript.source_path for r in lib.list()] == [str(paths[0])]


async def test_a_broken_transcript_is_shown_and_the_next_file_completes(
    make_app: Callable[..., VidsumApp], tiny_model: str, one_cpu: None, tmp_path: Path
) -> None:
    (tmp_path / "broken.srt").write_bytes(b"\x00\x01\x02garbage")
    write_talks(tmp_path, "hash-tables.txt")
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_queue(app, pilot)
        await start_queue(pilot, screen, tiny_model, "broken.srt", "hash-tables.txt")
        await wait_until(
            pilot,
            lambda: all(i.final for i in screen.queue.items) and screen.running is None,
            timeout=90,
        )
        assert states(screen) == ["failed", "done"]
        assert not workers()
        bad = screen.queue.items[0]
        assert bad.error is not None and str(tmp_path / "broken.srt") in bad.error
        assert bad.status() == f"failed: {bad.error}"
        screen.query_one("#queue", ListView).index = 0
        await settle(pilot)
        assert bad.error in str(screen.query_one("#detail", Static).render())
        assert not [n for n in notes if n.severity == "error"]  # per item, not a batch failure
    with Library() as lib:
        assert lib.count() == 1


# --- model text is text, never markup ------------------------------------------------------------


def bracketed_entry() -> NewEntry:
    """A stored summary whose model output is full of brackets, as random weights write it."""
    base = make_summary(
        intro="Indexing: a[ i ] and [ x ] cost the same.",
        topics=("p[", "x= y", "[b]not bold[/b]", "Arrays", "Hashing"),
    )
    data = base.model_dump()
    first = data["sections"][0]
    first["title"] = "Section 1: Slices [ 1 ]"
    first["content"][0] = "a[ i = 2 ] · complexity"
    first["topics"] = ["p[", "q= r", "t"]
    return make_entry(0, summary=Summary.model_validate(data), title="Talk [ one ]")


def rendered(screen: Screen[Any]) -> str:
    return "\n".join(str(w.render()) for w in screen.query(Static))


async def test_model_text_with_brackets_is_shown_verbatim(
    make_app: Callable[..., VidsumApp],
) -> None:
    with Library() as lib:
        entry_id = lib.add(bracketed_entry())
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        await pilot.press("enter")
        await settle(pilot)
        summary = app.screen
        assert isinstance(summary, SummaryScreen) and summary.entry_id == entry_id
        await wait_until(pilot, lambda: len(summary.sections) == 5)
        text = rendered(summary)
        for shown in (
            "Indexing: a[ i ] and [ x ] cost the same.",
            "p[ · x= y · [b]not bold[/b] · Arrays · Hashing",
            "Section 1: Slices [ 1 ]",
            "a[ i = 2 ] · complexity",
            "Topics: p[ · q= r · t",
        ):
            assert shown in text, shown
        await pilot.press("d")  # the confirmation names the title, brackets and all
        await settle(pilot)
        assert "“Talk [ one ]”" in rendered(app.screen)
        await pilot.press("n", "escape")
        await settle(pilot)
        # A search typed with brackets is echoed in the status line, not parsed.
        await pilot.press("slash", *"[ x= y")
        status = app.screen.query_one("#status", Static)
        await wait_until(pilot, lambda: "“[ x= y”" in str(status.render()))


# --- download ------------------------------------------------------------------------------------


async def open_models_at(app: VidsumApp, pilot: Pilot[Any], model_id: str) -> ModelsScreen:
    await pilot.press("3")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, ModelsScreen)
    await wait_until(pilot, lambda: model_id in screen.models)
    table: DataTable[str] = screen.query_one(DataTable)
    for _ in range(table.row_count):
        if screen._selected_id() == model_id:
            break
        await pilot.press("j")
    assert screen._selected_id() == model_id
    return screen


def state_cell(screen: ModelsScreen, model_id: str) -> str:
    return str(screen.query_one(DataTable).get_row(model_id)[2])


def cache_state(f: HubFile) -> tuple[Path | None, bool, bool]:
    """(installed file, verified, finished blob present) for the hub model."""
    entry = get_entry(HUB_MODEL)
    assert entry.repo
    blobs = hubcache.hub_cache_dir() / ("models--" + entry.repo.replace("/", "--")) / "blobs"
    return (
        hubcache.installed(HUB_MODEL),
        hubcache.is_verified(HUB_MODEL),
        (blobs / f.sha256).exists(),
    )


async def test_download_from_the_hub_with_progress(
    make_app: Callable[..., VidsumApp], hub: FakeHub
) -> None:
    f = add_catalog_file(hub, HUB_MODEL, 4 * MB)
    hub.fault(f.repo, f.name, rate=4 * MB)  # about a second: progress is visible
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_models_at(app, pilot, HUB_MODEL)
        assert state_cell(screen, HUB_MODEL) == "—"
        await pilot.press("p")
        bar = screen.query_one("#download-bar", ProgressBar)
        label = screen.query_one("#download-label", Static)
        await wait_until(pilot, lambda: 0 < (bar.progress or 0) < len(f.data))
        assert bar.total == len(f.data)
        assert f"Downloading {HUB_MODEL}" in str(label.render())
        await wait_until(pilot, lambda: state_cell(screen, HUB_MODEL) == "installed", timeout=30)
        assert screen.downloading is None
        assert any("downloaded and verified" in n.message for n in notes)
    path, verified, blob = cache_state(f)
    assert path is not None and path.read_bytes() == f.data and verified and blob


async def test_download_cancelled_half_way_then_resumed(
    make_app: Callable[..., VidsumApp], hub: FakeHub
) -> None:
    f = add_catalog_file(hub, HUB_MODEL, 4 * MB)
    hub.fault(f.repo, f.name, rate=1 * MB)  # slow drip: the cancel lands mid-transfer
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        screen = await open_models_at(app, pilot, HUB_MODEL)
        await pilot.press("p")
        bar = screen.query_one("#download-bar", ProgressBar)
        await wait_until(pilot, lambda: (bar.progress or 0) >= MB)
        await pilot.press("c")
        await wait_until(pilot, lambda: screen.downloading is None)
        await wait_until(pilot, lambda: state_cell(screen, HUB_MODEL).startswith("partial"))
        assert any(n.title == "Download cancelled" for n in notes)
        # The cache is as it was: nothing installed or verified, only the resumable partial.
        assert cache_state(f) == (None, False, False)
        kept = hubcache.partial_bytes(HUB_MODEL)
        assert MB <= kept < len(f.data)
        assert state_cell(screen, HUB_MODEL) == f"partial {kept / get_entry(HUB_MODEL).size:.0%}"  # type: ignore[operator]

        # Pulling again resumes from the partial: only the rest crosses the wire.
        hub.wait_idle()
        served = f.served
        hub.fault(f.repo, f.name)
        await pilot.press("p")
        await wait_until(pilot, lambda: state_cell(screen, HUB_MODEL) == "installed", timeout=30)
        assert f.served - served == len(f.data) - kept
        ranges = [r["range"] for r in hub.requests if r["role"] == "cdn" and r["method"] == "GET"]
        assert ranges == [None, f"bytes={kept}-"]
    path, verified, blob = cache_state(f)
    assert path is not None and path.read_bytes() == f.data and verified and blob
    assert hubcache.partial_bytes(HUB_MODEL) == 0


# --- removing the default model ------------------------------------------------------------------


async def test_delete_the_default_then_summarize_falls_back_and_says_so(
    make_app: Callable[..., VidsumApp], tiny_llama_path: Path, one_cpu: None, tmp_path: Path
) -> None:
    """Issue 10: the default model deleted in the Models screen is cleared there (the same code
    as `vidsum models rm`), and the next queue run on "Default model" uses the next installed
    model and says so in a toast."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.modelstore.test_catalog import fake_install

    data = tiny_llama_path.read_bytes()
    fake_install("mistral-7b-instruct-v0.1:Q8_0", data)
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", data)
    engine = Engine()
    engine.set_default_model("mistral-7b-instruct-v0.2:Q4_K_M")
    write_talks(tmp_path, "hash-tables.txt")
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        notes = capture_notes(app)
        models = await open_models_at(app, pilot, "mistral-7b-instruct-v0.2:Q4_K_M")
        assert isinstance(models, ModelsScreen)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await wait_until(pilot, lambda: any(n.title == "Model deleted" for n in notes))
        assert engine.default_model() is None

        screen = await open_queue(app, pilot)
        await add_by_path(pilot, screen, "hash-tables.txt")
        await pilot.press("escape", "s")  # "Default model" stays selected: start
        await wait_until(
            pilot,
            lambda: all(i.final for i in screen.queue.items) and screen.running is None,
            timeout=90,
        )
        assert states(screen) == ["done"], [i.error for i in screen.queue.items]
        said = [n.message for n in notes if n.title == "Summarize"]
        assert said == [
            "The default model mistral-7b-instruct-v0.2:Q4_K_M was removed; using "
            "mistral-7b-instruct-v0.1:Q8_0 instead (the default is now automatic; choose one "
            "with `vidsum models use ID`)."
        ]
    with Library() as lib:
        assert [lib.get(r.id).provenance.model_id for r in lib.list()] == [
            "mistral-7b-instruct-v0.1:Q8_0"
        ]
