"""Where a summary ran, as library columns (migration 5): backend kind, endpoint, URL, build.

Real SQLite throughout: an old (version 4) library with summaries from the local worker and
from servers is opened and upgraded, including by a process killed inside the upgrade.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.library import migrations, writes
from engine.library.export import entry_to_json, entry_to_markdown, row_to_json
from engine.library.records import NewEntry, Provenance
from engine.library.store import Library
from tests.factories import make_entry, make_provenance, make_transcript_info

REPO = Path(__file__).resolve().parents[2]
NEW_COLUMNS = ("backend", "endpoint", "endpoint_url", "server_build")

# The sampling record a server summary carried before migration 5 (engine.batch.servers).
LLAMA_SERVER = {
    "kind": "llama-server",
    "endpoint": "gpu-box",
    "url": "http://10.0.0.7:8080",
    "model": "gemma",
    "model_path": "/srv/models/gemma-3-270m-it-Q4_K_M.gguf",
    "build": "b6123-abc1234",
    "schema_only": False,
}
VLLM_NO_BUILD = {**LLAMA_SERVER, "kind": "vllm", "endpoint": "v1", "url": "http://h:8000"}
VLLM_NO_BUILD["build"] = ""  # vLLM without /version: nothing reported


def server_provenance(record: dict[str, object], **fields: object) -> Provenance:
    identity = "server:gemma-3-270m-it-Q4_K_M.gguf"
    return make_provenance(
        model_id=identity,
        model_sha256=identity,
        model_path=str(record["model_path"]),
        quant=None,
        sampling={"temperature": 0.3, "seed": 0, "backend": record},
        **fields,
    )


def old_entries() -> list[NewEntry]:
    """Four summaries a version-4 vidsum stored: local, two servers, one odd sampling record."""
    local = make_entry(1)
    odd = make_entry(4, provenance=make_provenance("other", sampling={"backend": "gpu-box"}))
    return [
        local,
        make_entry(2, provenance=server_provenance(LLAMA_SERVER)),
        make_entry(3, provenance=server_provenance(VLLM_NO_BUILD)),
        odd,
    ]


def write_v4_library(path: Path, entries: list[NewEntry]) -> None:
    """A library exactly as a version-4 vidsum left it: migrations 1-4 (append-only, so these
    are the released ones) and rows without the new columns."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(migrations._MIGRATIONS_TABLE)
    for version, name, apply in migrations.MIGRATIONS[:4]:
        apply(conn)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, '2025-06-01T00:00:00+00:00')",
            (version, name),
        )
    for e in entries:
        conn.execute(
            "INSERT OR IGNORE INTO transcripts(content_hash, text) VALUES (?, ?)",
            (e.transcript.content_hash, e.transcript.text),
        )
        (tid,) = conn.execute(
            "SELECT id FROM transcripts WHERE content_hash = ?", (e.transcript.content_hash,)
        ).fetchone()
        row = writes._summary_row(e, tid, "2025-06-01T00:00:00+00:00")
        for column in NEW_COLUMNS:
            del row[column]
        cur = conn.execute(
            f"INSERT INTO summaries({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})",
            row,
        )
        assert cur.lastrowid is not None
        writes._insert_children(conn, cur.lastrowid, e.summary)
    conn.execute("COMMIT")
    conn.close()


def columns(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[1] for r in conn.execute("PRAGMA table_info(summaries)")}
    finally:
        conn.close()


def versions(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    finally:
        conn.close()


def test_old_library_is_upgraded_and_backfilled_from_the_sampling_record(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite3"
    write_v4_library(path, old_entries())
    assert not set(NEW_COLUMNS) & columns(path)
    with Library(path) as lib:
        assert lib._version() == migrations.SCHEMA_VERSION == 5
        local, llama, vllm, odd = (lib.get(i).provenance for i in (1, 2, 3, 4))
        assert (local.backend, local.endpoint, local.endpoint_url, local.server_build) == (
            "local",
            None,
            None,
            None,
        )
        assert local.is_local
        assert (llama.backend, llama.endpoint, llama.endpoint_url, llama.server_build) == (
            "llama-server",
            "gpu-box",
            "http://10.0.0.7:8080",
            "b6123-abc1234",
        )
        assert not llama.is_local
        # An empty build ("not reported") is NULL, not "".
        assert (vllm.backend, vllm.endpoint, vllm.server_build) == ("vllm", "v1", None)
        # A "backend" that is not a server record is no server summary.
        assert odd.backend == "local" and odd.sampling == {"backend": "gpu-box"}
        # The sampling record is kept as it was.
        assert llama.sampling["backend"] == LLAMA_SERVER
        rows = {r.id: r for r in lib.list()}
        assert (rows[2].backend, rows[2].endpoint) == ("llama-server", "gpu-box")
        assert (rows[1].backend, rows[1].endpoint) == ("local", None)
        assert [r.id for r in lib.list(backend="local", order="created_asc")] == [1, 4]
        assert [r.id for r in lib.list(endpoint="v1")] == [3]
        assert lib.count(backend="llama-server", endpoint="gpu-box") == 1
        assert lib.count(backend="vllm", endpoint="gpu-box") == 0
        lib.integrity_check()
        # The upgraded library takes new summaries of both kinds.
        new = make_entry(5, provenance=server_provenance(LLAMA_SERVER, backend="llama-server"))
        assert lib.get(lib.add(new)).provenance.backend == "llama-server"
    with Library(path) as lib:  # reopening migrates nothing again
        assert lib.count() == 5 and versions(path) == [1, 2, 3, 4, 5]


def test_a_process_killed_inside_the_upgrade_leaves_the_old_library(tmp_path: Path) -> None:
    """kill -9 after migration 5 has altered the table and backfilled, before its COMMIT: the
    file is the version-4 library it was, and the next open upgrades it whole."""
    path = tmp_path / "v4.sqlite3"
    write_v4_library(path, old_entries())
    code = f"""
import os, signal, sys
sys.path[:0] = [{str(REPO)!r}]
from engine.library import migrations
from engine.library.store import Library

version, name, apply = migrations.MIGRATIONS[4]

def apply_then_die(conn):
    apply(conn)
    assert conn.execute("SELECT count(*) FROM summaries WHERE backend != 'local'").fetchone()[0]
    os.kill(os.getpid(), signal.SIGKILL)

migrations.MIGRATIONS = (*migrations.MIGRATIONS[:4], (version, name, apply_then_die))
Library(sys.argv[1])
"""
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert versions(path) == [1, 2, 3, 4]
    assert not set(NEW_COLUMNS) & columns(path)
    with Library(path) as lib:
        assert lib._version() == 5
        assert [lib.get(i).provenance.backend for i in (1, 2, 3, 4)] == [
            "local",
            "llama-server",
            "vllm",
            "local",
        ]
        lib.integrity_check()


def test_a_failed_upgrade_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v4.sqlite3"
    write_v4_library(path, old_entries())
    version, name, apply = migrations.MIGRATIONS[4]

    def apply_then_fail(conn: sqlite3.Connection) -> None:
        apply(conn)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(
        migrations, "MIGRATIONS", (*migrations.MIGRATIONS[:4], (version, name, apply_then_fail))
    )
    from engine.errors import LibraryError

    with pytest.raises(LibraryError, match="could not be opened"):
        Library(path)
    assert versions(path) == [1, 2, 3, 4] and not set(NEW_COLUMNS) & columns(path)


def test_server_provenance_round_trips_and_shows_in_every_export(tmp_path: Path) -> None:
    text = "One transcript, summarized here and on a server."
    info = make_transcript_info(7, text=text)
    local = make_entry(7, transcript=info)
    served = make_entry(
        7,
        transcript=info,
        provenance=server_provenance(
            LLAMA_SERVER,
            backend="llama-server",
            endpoint="gpu-box",
            endpoint_url="http://10.0.0.7:8080",
            server_build="b6123-abc1234",
        ),
    )
    with Library(tmp_path / "lib.sqlite3") as lib:
        a, b = lib.add(local), lib.add(served)
        assert a != b and lib.count() == 2  # the same transcript: two entries
        assert [r.id for r in lib.same_video(a)] == [b]
        la, sb = lib.get(a), lib.get(b)
        assert sb.provenance == served.provenance and la.provenance == local.provenance
        row = {r.id: r for r in lib.list()}[b]
        assert (row_to_json(row)["backend"], row_to_json(row)["endpoint"]) == (
            "llama-server",
            "gpu-box",
        )
        doc = entry_to_json(sb)["provenance"]
        assert (doc["backend"], doc["endpoint"], doc["endpoint_url"], doc["server_build"]) == (
            "llama-server",
            "gpu-box",
            "http://10.0.0.7:8080",
            "b6123-abc1234",
        )
        assert entry_to_json(la)["provenance"]["backend"] == "local"
        assert (
            "- Backend: llama-server endpoint gpu-box at http://10.0.0.7:8080, build b6123-abc1234"
            in entry_to_markdown(sb).splitlines()
        )
        assert "- Backend: local (vidsum's own llama.cpp worker)" in entry_to_markdown(la)

        # A summary kept pending (library busy, disk full) keeps where it ran.
        lib.delete(b)
        pending = lib.keep_pending(served)
        assert json.loads(pending.read_text())["provenance"]["endpoint"] == "gpu-box"
        (again,) = lib.store_pending()
        assert lib.get(again).provenance == served.provenance


def test_a_pending_file_from_before_the_backend_fields_reads_as_local(tmp_path: Path) -> None:
    with Library(tmp_path / "lib.sqlite3") as lib:
        path = lib.keep_pending(make_entry(1))
        data = json.loads(path.read_text())
        for column in NEW_COLUMNS:
            del data["provenance"][column]
        path.write_text(json.dumps(data))
        (stored,) = lib.store_pending()
        p = lib.get(stored).provenance
        assert dataclasses.astuple(p)[-4:] == ("local", None, None, None)
