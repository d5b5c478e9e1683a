"""Smoke test of the speed benchmark (``bench/speed.py``) on the tiny synthetic model.

Tiny counts, one thread: it checks that every ratio is measured and printed and that a row
lands in the BENCHMARKS file; it asserts no speed (the machine is shared and noisy). Prefix
reuse is a property, not a speed, so its ratio is asserted.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from bench.vidsum_bench import RESULTS_HEADER, append_row, main
from tests.conftest import SEED, require_shared


def _number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in output:\n{text}"
    return float(m.group(1))


def test_bench_prints_ratios_and_appends_a_row(
    tiny_llama_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_shared()
    record = tmp_path / "BENCHMARKS.md"
    record.write_text("# Benchmarks\n\nProse that must survive.", encoding="utf-8")
    counts = "--threads 1 --decode-tokens 6 --reps 1 --e2e-files 2 --e2e-tokens 6 --mem-runs 2"
    args = ["--model", str(tiny_llama_path), "--data", str(SEED), *counts.split()]
    args += ["--mem-tokens", "2", "--no-settings", "--record", str(record)]
    assert main(args) == 0
    out = capsys.readouterr().out

    assert _number(r"constrained/unconstrained decode: ([\d.]+)", out) > 0
    assert _number(r"LlamaGrammar ([\d.]+)\n", out) > 0
    # The second transcript reuses the shared prefix: only its own tokens are evaluated.
    assert 0.5 < _number(r"prefix re-evaluation .*?: ([\d.]+)x", out) <= 1.05
    assert abs(_number(r"RSS growth summary 1 -> last: ([-+\d.]+)%", out)) < 100
    vidsum_s = _number(r"end to end: vidsum ([\d.]+) s", out)
    naive_s = _number(r"naive ([\d.]+) s per transcript", out)
    ratio = _number(r"per transcript -> ([\d.]+)x", out)
    assert vidsum_s > 0 and naive_s > 0
    assert ratio == pytest.approx(naive_s / vidsum_s, rel=0.05, abs=0.01)
    assert "compact" in out and "forced-token" in out

    text = record.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nProse that must survive.\n")
    assert text.count(RESULTS_HEADER) == 1
    rows = [ln for ln in text.splitlines() if ln.startswith("| 20")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[0].startswith(dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"))
    assert cells[3] == "local:tiny-llama" and cells[4] == "1"
    assert float(cells[5]) > 0  # constrained/unconstrained
    assert cells[9].endswith("x")  # end to end vs naive


def test_full_size_mode_runs_on_a_tiny_preset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_shared()
    record = tmp_path / "B.md"
    counts = "--threads 1 --prompt-tokens 300 --gen-tokens 8 --decode-tokens 4 --reps 1"
    args = ["--full-size", "tiny-moe", "--data", str(SEED), *counts.split()]
    args += ["--record", str(record)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert _number(r"seconds per seed-sized video: ([\d.]+)", out) > 0
    assert _number(r"constrained/unconstrained decode: ([\d.]+)", out) > 0
    prompt = _number(r"one video: (\d+) prompt tokens", out)
    assert 290 <= prompt <= 310
    rows = [ln for ln in record.read_text(encoding="utf-8").splitlines() if ln.startswith("| 20")]
    assert len(rows) == 1 and "tiny-moe (synthetic Q4_0)" in rows[0]


def test_append_row_adds_the_header_once_and_keeps_rows_whole(tmp_path: Path) -> None:
    path = tmp_path / "B.md"
    append_row(path, "| a |\n")
    append_row(path, "| b |\n")
    text = path.read_text(encoding="utf-8")
    assert text.count(RESULTS_HEADER) == 1
    assert text.endswith(f"{RESULTS_HEADER}| a |\n| b |\n")


def test_bench_is_not_a_vidsum_command() -> None:
    """Benchmarks need a source checkout, so the installed `vidsum` has no `bench` command."""
    from engine.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench"])
