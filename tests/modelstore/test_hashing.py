"""engine.modelstore.hashing: the one sha256 loop, for a model file's check and the default
model's assembly."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from engine.errors import Cancelled
from engine.modelstore import hashing
from engine.progress import CancelToken, Progress


def _files(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "a.part", tmp_path / "b.part"]
    paths[0].write_bytes(b"0123456789")
    paths[1].write_bytes(b"abcdef")
    return paths


def test_a_file_hashes_from_an_offset_into_a_given_digest(tmp_path: Path) -> None:
    path = _files(tmp_path)[0]
    assert hashing.hash_file(path) == hashlib.sha256(b"0123456789").hexdigest()
    head = hashlib.sha256(b"0123")
    assert hashing.hash_file(path, digest=head, start=4) == hashing.hash_file(path)


def test_assembly_copies_every_block_and_reports_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "_HASH_BLOCK", 4)
    events: list[Progress] = []
    out, digest = io.BytesIO(), hashlib.sha256()
    hashing.hash_files(
        _files(tmp_path), digest, total=16, message="m", item="x", progress=events.append,
        out=out, timed=False,
    )  # fmt: skip
    assert out.getvalue() == b"0123456789abcdef"
    assert digest.hexdigest() == hashlib.sha256(b"0123456789abcdef").hexdigest()
    assert [(e.done, e.rate, e.item, e.message, e.stage) for e in events] == [
        (d, None, "x", "m", "verify") for d in (4, 8, 10, 14, 16)
    ]


def test_a_check_reports_the_end_with_a_rate_and_stops_when_cancelled(tmp_path: Path) -> None:
    events: list[Progress] = []
    hashing.hash_file(_files(tmp_path)[0], progress=events.append, item="m")
    assert events[-1].done == events[-1].total == 10 and events[-1].unit == "B"
    assert events[-1].message == "Checking sha256 of a.part"
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        hashing.hash_file(_files(tmp_path)[0], cancel=token)
