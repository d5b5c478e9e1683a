"""Engine.export_to_file and the remembered export folder (the TUI's export dialog uses both)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import ExportError
from engine.settings import get_export_dir, get_settings
from tests.factories import make_entry


def test_export_dir_defaults_to_downloads_or_home_never_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    engine = Engine(tmp_path / "lib.db")
    assert engine.export_dir() == home
    (home / "Downloads").mkdir()
    assert engine.export_dir() == home / "Downloads"
    engine.set_export_dir(tmp_path / "mine")
    assert engine.export_dir() == tmp_path / "mine" == get_export_dir()
    assert get_settings().export_dir == str(tmp_path / "mine")


def test_export_to_file_writes_atomically_and_names_a_bad_folder(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "lib.db")
    try:
        entry_id = engine.library.add(make_entry(1, title="B-Trees"))
        out = tmp_path / "out" / "b-trees.json"
        written = engine.export_to_file(entry_id, "json", out)
        assert written == out.absolute() and written.is_file()
        assert json.loads(written.read_text(encoding="utf-8"))["summary"]["introduction"]
        assert sorted(p.name for p in out.parent.iterdir()) == ["b-trees.json"]  # no temp left
        md = engine.export_to_file(entry_id, "md", tmp_path / "out" / "b-trees.md")
        assert md.read_text(encoding="utf-8").startswith("# B-Trees")
        blocker = tmp_path / "a-file"
        blocker.write_text("x")
        with pytest.raises(ExportError, match=r"a-file/x\.json: the export could not be written"):
            engine.export_to_file(entry_id, "json", blocker / "x.json")
    finally:
        engine.close()
