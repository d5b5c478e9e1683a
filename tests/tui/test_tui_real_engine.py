"""The TUI on the real Engine: a real SQLite library in VIDSUM_HOME, seeded through
``engine.library``, searched with FTS5, opened, exported, compared and quit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import settle, wait_until
from fake_engine import example_summaries, example_text, timed

from engine.api import Engine
from engine.library import Coverage, Library, NewEntry, Provenance, TranscriptInfo, dedupe_key
from tui.app import VidsumApp
from tui.screens.compare import CompareScreen
from tui.screens.library import LibraryScreen
from tui.screens.summary import SummaryScreen
from tui.widgets.entry_table import EntryTable

pytestmark = pytest.mark.asyncio

TITLES = {
    "btree": "B-Trees: Why Every Database Index Looks the Same",
    "cpu-caches": "CPU Caches and the Code You Write",
    "webassembly": "WebAssembly Outside the Browser",
}


def new_entry(name: str, model_id: str, sha: str) -> NewEntry:
    text = example_text(name)
    info = TranscriptInfo(
        source_path=f"/talks/{name}.srt",
        format="srt",
        title=TITLES[name],
        channel="Systems Talks",
        url=None,
        video_id=None,
        duration=1800.0,
        content_hash=content_hash(text),
        text=text,
    )
    prov = Provenance(
        model_id=model_id,
        model_path=f"/m/{model_id}.gguf",
        model_sha256=sha,
        quant="Q4_K_M",
        prompt_version="p" * 12,
        grammar_version="g" * 12,
        sampling={"temperature": 0.3},
        n_ctx=8192,
        prompt_tokens=3000,
        prompt_seconds=2.0,
        generated_tokens=600,
        generation_seconds=20.0,
        vidsum_version="0.1.0",
    )
    return NewEntry(
        transcript=info,
        summary=timed(example_summaries()[name], 1800.0),
        provenance=prov,
        coverage=Coverage(1.0, 1, [{"start_char": 0, "end_char": len(text)}], truncated=False),
        flags=[],
        dedupe_key=dedupe_key(info.content_hash, sha, prov.prompt_version, prov.grammar_version),
    )


def Transcript_hash(text: str) -> str:

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture
def seeded() -> dict[str, int]:
    """Four summaries in the real library at VIDSUM_HOME (set per test by tests/conftest.py)."""
    ids = {}
    with Library() as lib:
        for day, (name, model, sha) in enumerate(
            [
                ("btree", "mistral-7b-instruct-v0.2:Q4_K_M", "a" * 64),
                ("webassembly", "mistral-7b-instruct-v0.2:Q4_K_M", "a" * 64),
                ("cpu-caches", "mistral-7b-instruct-v0.2:Q4_K_M", "a" * 64),
                ("btree", "mixtral-8x7b-instruct-v0.1:Q4_K_M", "b" * 64),
            ],
            start=1,
        ):
            stamp = datetime(2024, 5, day, 12, tzinfo=timezone.utc)
            ids[f"{name}/{model}"] = lib.add(new_entry(name, model, sha), created_at=stamp)
    return ids


def rows(app: VidsumApp) -> list[str]:
    table = app.screen.query_one(EntryTable)
    found = [table.pager.get(i) for i in range(table.pager.total)]
    return [r.title for r in found if r is not None]


async def test_real_library_search_open_export_compare_quit(
    seeded: dict[str, int], tmp_path: Path, make_app: Callable[..., VidsumApp]
) -> None:
    engine = Engine()
    app = make_app(engine, export_dir=tmp_path / "exports")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        assert rows(app) == [
            TITLES["btree"],
            TITLES["cpu-caches"],
            TITLES["webassembly"],
            TITLES["btree"],
        ]
        # FTS5 over the transcripts and summaries, as you type.
        await pilot.press("slash", *"webassem")
        await wait_until(pilot, lambda: rows(app) == [TITLES["webassembly"]])
        await pilot.press("enter", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SummaryScreen) and screen.entry is not None
        assert screen.entry.title == TITLES["webassembly"]
        await pilot.press("e")
        await settle(pilot)
        exported = tmp_path / "exports" / f"webassembly-outside-the-browser-{screen.entry_id}.json"
        assert json.loads(exported.read_text())["summary"]["introduction"]
        await pilot.press("escape", "escape", "escape")  # back, out of the table, clear search
        await wait_until(pilot, lambda: len(rows(app)) == 4)
        # The newest is the Mixtral B-tree summary; compare finds the Mistral one.
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.right.id == seeded["btree/mistral-7b-instruct-v0.2:Q4_K_M"]
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_real_library_delete(
    seeded: dict[str, int], make_app: Callable[..., VidsumApp]
) -> None:
    app = make_app(Engine())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, LibraryScreen)
        assert len(rows(app)) == 3
    with Library() as lib:
        assert lib.count() == 3
