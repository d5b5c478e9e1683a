"""The data folders ship in the wheel and load through importlib.resources from it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_carries_data_and_loads_it(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("vidsum-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "grammars/summary.gbnf",
        "models/catalog.json",
        "engine/schema.py",
        "tui/launcher.py",
    ):
        assert needed in names, f"{needed} missing from {wheel.name}"
    assert any(n.startswith("prompts/") and not n.endswith(".py") for n in names)

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import engine, grammars\n"
        f"assert engine.__file__.startswith({str(target)!r}), engine.__file__\n"
        "from engine.pipeline.grammar import summary_gbnf, GRAMMAR_VERSION\n"
        "from engine.pipeline.prompting import PROMPT_VERSION\n"
        "from engine.modelstore.catalog import entries\n"
        "assert 'root' in summary_gbnf()\n"
        "assert len(entries()) >= 24\n"
        "print(GRAMMAR_VERSION, PROMPT_VERSION)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
