"""A batch killed with kill -9 continues where it stopped when run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from engine.library.store import Library


def _talks(tmp_path: Path, n: int) -> list[Path]:
    topics = ["hash tables", "garbage collection", "TCP congestion control", "SQL query plans"]
    paths = []
    for i in range(n):
        p = tmp_path / f"talk{i}.txt"
        p.write_text(
            f"Welcome to talk number {i}. Today we look at {topics[i % len(topics)]}. "
            "We start with the basic idea, then walk through an example, and end with the "
            "trade-offs you should know before using it in production. " * 3,
            encoding="utf-8",
        )
        paths.append(p)
    return paths


def test_kill9_mid_batch_then_rerun_finishes_without_redoing(
    isolated_home: Path, tmp_path: Path, tiny_llama_path: Path
) -> None:
    files = _talks(tmp_path, 2)
    env = {**os.environ, "VIDSUM_HOME": str(isolated_home)}
    cmd = [
        sys.executable,
        "-m",
        "tui.launcher",
        "summarize",
        "--json",
        "-q",
        "--model",
        str(tiny_llama_path),
        # One thread: two busy-waiting threads on a loaded 2-core machine crawl (issue 13).
        "--threads",
        "1",
        *map(str, files),
    ]
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())  # the first summary is stored...
    assert "id" in first, first
    os.killpg(proc.pid, signal.SIGKILL)  # ...then the whole batch dies, worker included
    proc.wait(timeout=30)

    with Library() as lib:
        lib.integrity_check()
        stored_before = lib.count()
    assert stored_before == 1

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    results = [json.loads(line) for line in rerun.stdout.splitlines()]
    # The random-weight model's gibberish fails the quality check (stored, marked failed):
    # the exit status says so; nothing else about the resume changes.
    assert all("error" not in r for r in results), results
    want = 1 if any(r["failed"] for r in results) else 0
    assert rerun.returncode == want, rerun.stderr[-2000:]
    assert [r["file"] for r in results] == [str(f) for f in files]
    assert results[0]["skipped"] is True and results[0]["id"] == first["id"]
    assert sum(r["skipped"] for r in results) == stored_before
    with Library() as lib:
        assert lib.count() == 2
        lib.integrity_check()
