"""A library that cannot be written is opened read-only: listing, showing, searching and exports
work; every write is refused with a sentence that says the library is read-only and why.

Tests run as root, where chmod does not stop writes, so the real case uses a read-only bind
mount (skipped where mounting is not allowed); the explicit ``read_only=True`` flag is tested
everywhere."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.errors import LibraryReadOnly
from engine.library.store import Library
from engine.paths import get_paths
from tests.factories import make_entry


def _seed(path: Path, n: int = 3) -> None:
    with Library(path) as lib:
        lib.add_many([make_entry(i, word="quasar" if i == 1 else "") for i in range(n)])


def test_explicit_read_only_reads_everything_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    _seed(path)
    with Library(path, read_only=True) as lib:
        assert lib.read_only and lib.count() == 3
        assert [r.id for r in lib.list(query="quasar")] == [2]
        assert lib.get(2).summary.introduction.endswith("quasar")
        with pytest.raises(LibraryReadOnly) as exc:
            lib.add(make_entry(9))
        assert str(exc.value).startswith(
            f"The library {path} is read-only (opened read-only); vidsum can list, show and "
            "export its summaries, but it cannot store the summary."
        )
        with pytest.raises(LibraryReadOnly, match="cannot delete the summary"):
            lib.delete(1)
    with Library(path) as lib:  # nothing changed, and it is writable again
        assert not lib.read_only and lib.count() == 3


def test_read_only_needs_an_existing_library(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite3"
    with pytest.raises(Exception, match=r"There is no library at .*nope.sqlite3"):
        Library(missing, read_only=True)
    assert not missing.exists()


@contextlib.contextmanager
def _read_only_mount(folder: Path) -> Iterator[None]:
    res = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot bind-mount here ({res.stderr.decode().strip()})")
    try:
        subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True
        )
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
def test_a_library_on_a_read_only_mount_can_be_listed_and_exported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = get_paths().library_db
    _seed(path)
    assert not Path(f"{path}-wal").exists()  # closed cleanly: SQLite must read WAL without -shm
    talk = tmp_path / "talk.txt"
    talk.write_text("Today we look at hash tables.", encoding="utf-8")
    with _read_only_mount(path.parent):
        with pytest.raises(OSError):
            (path.parent / "probe").write_text("x")  # really read-only, even for root
        with Library(path) as lib:
            assert lib.read_only and lib.read_only_reason == "it is on a read-only file system"
            assert lib.count() == 3

        assert main(["library", "list", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == 3
        assert main(["library", "search", "quasar"]) == 0
        assert capsys.readouterr().out.startswith("#2 ")
        assert main(["library", "export", "2", "--format", "md"]) == 0
        assert "quasar" in capsys.readouterr().out

        assert main(["library", "delete", "2"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"vidsum: The library {path} is read-only (it is on a read-only file")
        assert "cannot delete the summary" in err
        # summarize refuses before any model is loaded or any transcript read.
        assert main(["summarize", str(talk), "--model", "/no/such.gguf"]) == 1
        err = capsys.readouterr().err
        assert "is read-only" in err and "cannot store new summaries" in err
    with Library(path) as lib:
        assert not lib.read_only and lib.count() == 3


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
def test_unmerged_wal_on_a_read_only_mount_is_explained(tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "src" / "library.sqlite3"
    _seed(src)
    with Library(src) as lib:
        lib.add(make_entry(7))
        ro = tmp_path / "ro"
        ro.mkdir()
        for suffix in ("", "-wal"):  # a copy taken while the -wal still holds commits
            shutil.copy(f"{src}{suffix}", ro / f"library.sqlite3{suffix}")
    assert (ro / "library.sqlite3-wal").stat().st_size > 0
    with _read_only_mount(ro), pytest.raises(Exception) as exc:
        Library(ro / "library.sqlite3")
    assert str(exc.value).startswith(
        f"The library {ro / 'library.sqlite3'} is read-only (it is on a read-only file system) "
        f"and {ro / 'library.sqlite3-wal'} holds recent changes"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")
def test_no_library_yet_in_a_read_only_folder_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    with _read_only_mount(folder), pytest.raises(LibraryReadOnly) as exc:
        Library(folder / "library.sqlite3")
    assert str(exc.value).startswith(
        f"There is no library at {folder / 'library.sqlite3'} yet, and it cannot be created"
    )
    assert "(it is on a read-only file system); make that folder writable" in str(exc.value)
