"""The library under real processes: kill -9 during writes, two writers, a held write lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import LibraryBusy
from engine.library.store import Library
from engine.schema import N_GENERAL_TOPICS, N_SECTION_BULLETS, N_SECTIONS, N_TOPICS
from tests.factories import make_entry

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# Children import the engine and the factories from this checkout.
PRELUDE = f"""
import os, sys, time
sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
from engine.library.store import Library
from tests.factories import make_entry
"""


def child(code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_complete(lib: Library) -> list[int]:
    """Every stored summary reads back whole; returns the stored entry numbers."""
    lib.integrity_check()
    numbers = []
    for row in lib.list(order="created_asc", limit=100_000):
        e = lib.get(row.id)
        s = e.summary
        assert len(s.sections) == N_SECTIONS
        assert all(len(sec.content) == N_SECTION_BULLETS for sec in s.sections)
        assert len(s.topics) == N_TOPICS and len(s.general_topics) == N_GENERAL_TOPICS
        assert e.transcript.text and e.coverage.fraction == 1.0
        numbers.append(int(e.transcript.video_id.removeprefix("vid")))  # type: ignore[union-attr]
    return numbers


def test_kill_9_during_a_write_loop(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite3"
    Library(path).close()
    proc = child(
        """
lib = Library(sys.argv[1])
for i in range(100_000):
    lib.add(make_entry(i, word="w" * (i % 50)))
    print(i, flush=True)
""",
        path,
    )
    assert proc.stdout is not None
    for _ in range(30):  # let it commit some, then kill it wherever it is
        assert proc.stdout.readline(), proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL

    with Library(path) as lib:
        stored = assert_complete(lib)
        # Each add is its own transaction: what survived is exactly a prefix of the loop.
        assert stored == list(range(len(stored))) and len(stored) >= 30
        first_ids = {row.id for row in lib.list(limit=100_000)}
        # The rerun adds only the missing ones and keeps the old ids.
        want = len(stored) + 10
        for i in range(want):
            lib.add(make_entry(i, word="w" * (i % 50)))
        assert lib.count() == want
        assert first_ids <= {row.id for row in lib.list(limit=100_000)}
        assert assert_complete(lib) == list(range(want))


def test_kill_9_inside_the_transaction(tmp_path: Path) -> None:
    """Die after the summary row, sections and topics are written but before the commit, with
    the uncommitted pages already spilled into the WAL file."""
    path = tmp_path / "lib.sqlite3"
    proc = child(
        """
from tests.factories import make_transcript_info
lib = Library(sys.argv[1])
for i in range(3):
    lib.add(make_entry(i))
conn = lib._conn
conn.execute("PRAGMA cache_size = 10")  # force the big transaction to spill into the WAL
def die(sql):
    if sql.startswith("INSERT INTO general_topics"):
        print("dying", os.path.getsize(sys.argv[1] + "-wal"), flush=True)
        os.kill(os.getpid(), 9)
conn.set_trace_callback(die)
big = make_transcript_info(3, text="long transcript words " * 100_000)
lib.add(make_entry(3, transcript=big))
print("survived", flush=True)
""",
        path,
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    wal_bytes = int(out.split()[1])
    assert wal_bytes > 1_000_000  # the half-written summary really reached the disk

    with Library(path) as lib:
        assert assert_complete(lib) == [0, 1, 2]
        assert lib.list(query="long transcript words") == []
        assert lib.add(make_entry(3)) and lib.count() == 4


def test_two_writers_both_succeed(tmp_path: Path) -> None:
    """Two processes open a new library and add at the same time (10 entries in common)."""
    path = tmp_path / "lib.sqlite3"
    go = tmp_path / "go"
    code = """
who, path, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
with Library(path) as lib:
    for i in range(40):
        lib.add(make_entry(i if i < 10 else who * 1000 + i))
print("done", flush=True)
"""
    procs = [child(code, who, path, go) for who in (1, 2)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out == "done\n"
    with Library(path) as lib:
        stored = assert_complete(lib)
        assert sorted(stored) == sorted([*range(10), *range(1010, 1040), *range(2010, 2040)])


def test_held_write_lock_gives_library_busy(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        lib.add(make_entry(0))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(60)
""",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with Library(path, busy_timeout=0.3) as lib:
            started = time.monotonic()
            with pytest.raises(LibraryBusy) as err:
                lib.add(make_entry(1))
            waited = time.monotonic() - started
            assert 0.25 <= waited < 10  # it waited for the timeout, then gave up
            assert str(err.value) == (
                f"The library at {path} is busy (another vidsum is writing); try again."
            )
            assert lib.count() == 1  # readers are not blocked by a writer (WAL)
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)
            lib.add(make_entry(1))
            assert lib.count() == 2
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


# A process that holds the write lock of a library file that is not yet in WAL mode: what a
# second vidsum meets while the first one is creating the library.
_HOLD_NEW_FILE = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def _hold_new_file(path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_NEW_FILE, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


def test_first_open_waits_for_a_held_lock(tmp_path: Path) -> None:
    """Creating the library, switching it to WAL and migrating wait within the busy timeout
    (SQLite alone refuses the switch to WAL at once: "database is locked")."""
    path = tmp_path / "lib.sqlite3"
    holder = _hold_new_file(path, 1.0)
    try:
        started = time.monotonic()
        with Library(path) as lib:
            waited = time.monotonic() - started
            lib.add(make_entry(0))
            assert lib.count() == 1
        assert waited >= 0.5  # it opened once the lock was released, not beside it
    finally:
        holder.kill()
        holder.wait()


def test_first_open_gives_library_busy_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite3"
    holder = _hold_new_file(path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(LibraryBusy) as err:
            Library(path, busy_timeout=0.3)
        assert time.monotonic() - started >= 0.25  # it waited for the timeout, then gave up
        assert str(err.value) == (
            f"The library at {path} is busy (another vidsum is writing); try again."
        )
    finally:
        holder.kill()
        holder.wait()
