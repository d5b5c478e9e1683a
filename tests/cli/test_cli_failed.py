"""A summary that failed the quality check is marked as failed by every CLI command, and
`vidsum summarize` exits non-zero for it (real library, real llama.cpp on the tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.library.store import Library
from engine.modelstore.catalog import demo_model_notice
from engine.paths import get_paths
from engine.schema import Grounding
from tests.conftest import SEED, require_shared
from tests.factories import make_entry

REASON = "ungrounded: 87% of its words come from a few-shot example's video, not this transcript"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_library_list_and_show_mark_a_failed_summary(capsys: pytest.CaptureFixture[str]) -> None:
    with Library() as lib:
        good = lib.add(make_entry(1, title="Good talk", grounding=Grounding(0.6, 0.01, 140)))
        bad = lib.add(
            make_entry(2, title="Copied talk", grounding=Grounding(0.1, 0.9, 150), failed=REASON)
        )

    code, out, _ = run(capsys, "library", "list")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "[FAILED] Copied talk" in lines[f"#{bad}"]
    assert "FAILED" not in lines[f"#{good}"]

    code, out, _ = run(capsys, "library", "list", "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows[bad]["failed"] == REASON and rows[good]["failed"] is None

    code, out, _ = run(capsys, "library", "show", str(bad))
    assert code == 0
    first = out.splitlines()[2]
    assert first.startswith("> **This summary failed the quality check (ungrounded: ")
    assert "--style quotes" in first and "mistral-7b-instruct-v0.2:Q4_K_M" in first
    assert "Grounding: 10% of its words occur in the transcript, 90% come from" in out

    code, out, _ = run(capsys, "library", "show", str(bad), "--json")
    data = json.loads(out)
    assert data["failed"] == REASON
    assert data["grounding"] == {"grounded": 0.1, "leaked": 0.9, "words": 150}

    code, out, _ = run(capsys, "library", "show", str(good))
    assert "failed the quality check" not in out


def test_summarize_stores_a_gibberish_summary_as_failed_and_exits_nonzero(
    capsys: pytest.CaptureFixture[str], tiny_llama_path: Path
) -> None:
    """The random-weight model writes gibberish: every attempt fails the grounding gate, so
    the summary is stored as failed, said so per file, carried in --json, and the exit status
    is 1; a rerun is a no-op that still says so."""
    require_shared()
    rust = SEED / "transcripts" / "rust.txt"
    args = ["summarize", str(rust), "--model", str(tiny_llama_path), "-q"]
    code, out, err = run(capsys, *args, "--brief")
    assert code == 1, err
    (line,) = out.splitlines()
    assert line.startswith(f"FAILED  {rust} -> #1 ")
    assert "failed the quality check (ungrounded: only " in line
    assert "saved" not in out
    assert demo_model_notice() not in err  # not the bundled model

    with Library(get_paths().library_db) as lib:
        entry = lib.get(1)
        assert entry.failed is not None and entry.failed.startswith("ungrounded: ")
        assert entry.grounding is not None and entry.grounding.grounded < 0.35
        assert any(f.startswith("ungrounded: ") for f in entry.flags)
        assert lib.list()[0].failed == entry.failed

    code, out, _ = run(capsys, *args, "--json")
    assert code == 1
    obj = json.loads(out)
    assert obj["skipped"] is True and obj["id"] == 1
    assert obj["failed"] == entry.failed
    assert obj["grounding"]["grounded"] == entry.grounding.grounded


def test_no_demo_notice_when_every_input_failed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, gemma_path: Path
) -> None:
    target = get_paths().models_dir / gemma_path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(gemma_path)  # the bundled default is installed and would be used
    bad = tmp_path / "broken.srt"
    bad.write_bytes(b"\x00\x01\x02garbage")
    code, out, err = run(capsys, "summarize", str(bad))
    assert code == 1 and out == "" and err.startswith("FAILED  ")
    assert "demonstration model" not in err and "models pull" not in err
