"""End to end through the installed `vidsum` command: real Gemma 270M, real library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.schema import Summary
from tests.conftest import SEED, require_shared

VIDSUM = [sys.executable, "-m", "tui.launcher"]


def run(args: list[str], home: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIDSUM_HOME": str(home), "HF_HOME": str(home / "hf")}
    return subprocess.run(
        [*VIDSUM, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_summarize_rust_on_default_model_then_rerun_is_noop(isolated_home: Path) -> None:
    require_shared()
    rust = SEED / "transcripts" / "rust.txt"
    first = run(["summarize", str(rust), "--json"], isolated_home)
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(lines) == 1, first.stderr[-3000:]
    obj = lines[0]
    # A summary that failed the quality check is stored as failed and the exit status says so.
    assert first.returncode == (1 if obj["failed"] else 0), first.stderr[-3000:]
    assert 0.0 <= obj["grounding"]["grounded"] <= 1.0
    assert obj["file"] == str(rust)
    summary = Summary.model_validate(obj["summary"])  # every rule of the schema
    assert [s.title.split(":")[0] for s in summary.sections] == [
        f"Section {i}" for i in range(1, 6)
    ]
    # Says, once and after the result, that it used the tiny bundled model and what to pull.
    assert first.stderr.count("tiny demonstration model") == 1
    assert "vidsum models pull mistral-7b-instruct-v0.2:Q4_K_M" in first.stderr

    listed = run(["library", "list", "--json"], isolated_home)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 1

    second = run(["summarize", str(rust), "--json", "-q"], isolated_home)
    assert second.returncode == first.returncode, second.stderr[-3000:]
    assert "demonstration model" not in second.stderr  # not under -q
    again = json.loads(second.stdout.splitlines()[0])
    assert again["failed"] == obj["failed"]
    assert again["id"] == obj["id"] and again["skipped"] is True
    assert len(json.loads(run(["library", "list", "--json"], isolated_home).stdout)) == 1

    shown = run(["library", "show", str(obj["id"]), "--json"], isolated_home)
    data = json.loads(shown.stdout)
    assert {"id", "title", "source", "summary", "coverage", "provenance"} <= set(data)
    prov = data["provenance"]
    for key in (
        "model",
        "model_sha256",
        "quant",
        "prompt_tokens",
        "prompt_seconds",
        "generated_tokens",
        "generation_seconds",
    ):
        assert key in prov, key
    assert prov["generated_tokens"] > 0 and prov["generation_seconds"] > 0
    assert data["coverage"]["fraction"] == 1.0
    assert Summary.model_validate(data["summary"]) == summary

    md = run(["library", "export", str(obj["id"]), "--format", "md"], isolated_home)
    assert md.returncode == 0 and summary.sections[0].title in md.stdout


def test_bad_input_is_reported_per_file_with_nonzero_exit(
    isolated_home: Path, tmp_path: Path, tiny_llama_path: Path
) -> None:
    bad = tmp_path / "broken.srt"
    bad.write_bytes(b"\x00\x01\x02garbage")
    res = run(["summarize", str(bad), "--json", "--model", str(tiny_llama_path)], isolated_home)
    assert res.returncode != 0
    obj = json.loads(res.stdout.splitlines()[0])
    assert obj["file"] == str(bad) and str(bad) in obj["error"]
    assert json.loads(run(["library", "list", "--json"], isolated_home).stdout) == []


def test_unknown_library_id_is_a_clear_error(isolated_home: Path) -> None:
    res = run(["library", "show", "42"], isolated_home)
    assert res.returncode != 0
    assert "42" in res.stderr and "Traceback" not in res.stderr
