"""CLI conventions: results on stdout, diagnostics on stderr; exports never replace a file
unless asked and get the usual permissions; every empty listing says so."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.library.store import Library
from tests.factories import make_entry


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_never_replaces_a_file_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], umask_022: None
) -> None:
    with Library() as lib:
        entry_id = lib.add(make_entry(1))
    existing = tmp_path / "notes.md"
    existing.write_text("my own notes\n", encoding="utf-8")
    code, out, err = _run(capsys, "library", "export", str(entry_id), "-o", str(existing))
    assert code == 1 and out == ""
    assert err == (
        f"vidsum: {existing} already exists; it was not overwritten. Add --force to replace it.\n"
    )
    assert existing.read_text(encoding="utf-8") == "my own notes\n"

    code, out, err = _run(
        capsys, "library", "export", str(entry_id), "-o", str(existing), "--force"
    )
    assert code == 0 and out == "" and err == f"Wrote {existing}\n"
    assert existing.read_text(encoding="utf-8").startswith("# Talk 1\n")

    new = tmp_path / "new.json"
    assert (
        _run(capsys, "library", "export", str(entry_id), "-o", str(new), "--format", "json")[0] == 0
    )
    # The usual mode for a file the user asked for (0666 less the umask), not private 0600.
    for written in (existing, new):
        assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_a_missing_file_prints_nothing_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_llama_path: Path
) -> None:
    missing = tmp_path / "missing.txt"
    code, out, err = _run(capsys, "summarize", str(missing), "-q", "--model", str(tiny_llama_path))
    assert code == 1 and out == ""
    assert err == f"FAILED  {missing}: file not found\n"


def test_an_empty_listing_says_so_like_search(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "library", "list")[1] == "The library is empty.\n"
    with Library() as lib:
        lib.add(make_entry(1))
    for argv in (["list", "--backend", "vllm"], ["search", "nothing-like-this"]):
        code, out, err = _run(capsys, "library", *argv)
        assert (code, out, err) == (0, "No match.\n", "")


def test_models_add_says_what_it_checks(
    tiny_llama_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _run(capsys, "models", "add", str(tiny_llama_path), "--name", "tiny")
    assert code == 0, err
    assert "  : " not in err  # no line without its subject
    assert f"  Checking that llama.cpp can load {tiny_llama_path.name}...\n" in err


def test_a_server_that_does_not_answer_is_not_said_to_load_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a loopback port with nothing listening on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert _run(capsys, "servers", "add", "x", "--url", f"http://127.0.0.1:{port}")[0] == 0
    talk = tmp_path / "talk.txt"
    talk.write_text("Hello there. " * 20, encoding="utf-8")
    code, _out, err = _run(capsys, "summarize", str(talk), "--server", "x")
    assert code != 0
    assert "loading model" not in err and "  Checking server x...\n" in err
