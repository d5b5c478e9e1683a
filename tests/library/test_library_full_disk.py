"""A full library disk keeps the generated summary (a pending file) and the batch goes on; the
next run stores it first. Real llama.cpp (tiny GGUF), real SQLite; the full disk is a real
small tmpfs where mounting is allowed, and SQLite's own page limit everywhere."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.batch.run import run
from engine.errors import ConfigError
from engine.library.store import Library
from engine.progress import Progress
from engine.runs import Local, SummarizeOptions

OPTIONS = SummarizeOptions(n_ctx=4096, n_threads=1)


def _talks(folder: Path, n: int) -> list[Path]:
    topics = ["hash tables", "garbage collection", "query plans"]
    out = []
    for i in range(n):
        p = folder / f"talk{i}.txt"
        p.write_text(
            f"Welcome to talk {i}. Today we look at {topics[i % 3]}, from the basic idea to the "
            "trade-offs you should know before using it in production. ",
            encoding="utf-8",
        )
        out.append(p)
    return out


def test_disk_full_while_storing_keeps_the_summary_and_the_next_run_stores_it(
    tmp_path: Path, tiny_llama_path: Path
) -> None:
    talks = _talks(tmp_path, 2)
    lib_path = tmp_path / "lib" / "library.sqlite3"
    with Library(lib_path) as lib:
        # SQLite's own limit: the file may not grow by one page, so every store fails with
        # SQLITE_FULL ("database or disk is full") exactly as on a full disk.
        pages = lib._db().execute("PRAGMA page_count").fetchone()[0]
        lib._db().execute(f"PRAGMA max_page_count = {pages}")
        results = list(run(talks, Local(str(tiny_llama_path)), library=lib, options=OPTIONS))
        assert lib.count() == 0
    assert len(results) == 2  # the batch went on after the first failure
    pending = sorted((lib_path.parent / "pending").glob("*.json"))
    assert len(pending) == 2
    for res in results:
        assert res.error is not None and res.summary is not None  # generated, not stored
        assert "database or disk is full" in res.error
        assert "The generated summary was kept in" in res.error
        assert "free space on the disk that holds" in res.error
    kept = {json.loads(p.read_text(encoding="utf-8"))["transcript"]["source_path"] for p in pending}
    assert kept == {str(t) for t in talks}
    assert {str(p) for p in pending} == {
        r.error.split("kept in ")[1].split(";")[0] for r in results if r.error
    }

    # The next run (room again) stores the kept summaries first and generates nothing twice.
    notices: list[Progress] = []
    with Library(lib_path) as lib:
        again = list(
            run(
                talks[:1],
                Local(str(tiny_llama_path)),
                library=lib,
                options=OPTIONS,
                progress=lambda ev: notices.append(ev) if ev.stage == "notice" else None,
            )
        )
        assert again[0].skipped and again[0].error is None
        assert lib.count() == 2
        stored = {lib.get(r.id).transcript.source_path for r in lib.list()}
        assert stored == {str(t) for t in talks}
        assert lib.get(again[0].id).summary == results[0].summary  # the very same summary
        lib.integrity_check()
    assert not list((lib_path.parent / "pending").glob("*.json"))
    stored_note = "Stored 2 summaries that an earlier run generated but could not store: #1, #2."
    assert stored_note in [n.message for n in notices]


def test_a_damaged_pending_file_is_a_clear_error(tmp_path: Path) -> None:
    lib_path = tmp_path / "library.sqlite3"
    bad = lib_path.parent / "pending" / "abc.json"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b'{"transcript": {}}')
    with Library(lib_path) as lib, pytest.raises(ConfigError) as exc:
        lib.store_pending()
    assert str(exc.value).startswith(f"{bad}: the pending summary is not a complete summary")
    assert str(exc.value).endswith("fix or delete the file.")


# --- a real full file system ------------------------------------------------------------------


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()}); the page-limit test ran")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_real_full_file_system(tmp_path: Path, tiny_llama_path: Path) -> None:
    talks = _talks(tmp_path, 1)
    with _tmpfs(tmp_path / "small", "1m") as disk:
        lib_path = disk / "library.sqlite3"
        with Library(lib_path) as lib:
            filler = _fill(disk)  # the disk fills up while the summary is being generated
            [res] = run(talks, Local(str(tiny_llama_path)), library=lib, options=OPTIONS)
        assert res.error is not None and "disk is full" in res.error, res.error
        # Beside the library there is no room either: it was kept in vidsum's cache instead.
        kept = Path(res.error.split("kept in ")[1].split(";")[0])
        assert kept.is_file() and disk not in kept.parents
        filler.unlink()
        with Library(lib_path) as lib:
            [again] = run(talks, Local(str(tiny_llama_path)), library=lib, options=OPTIONS)
            assert again.skipped and lib.get(again.id).summary == res.summary
        assert not kept.exists()
