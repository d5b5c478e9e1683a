"""The README's test command: short, what .ci/run extracts, and a script that builds the venv
with the documented llama.cpp flags before running pytest."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _readme_command() -> str:
    """The lines between the markers, as .ci/run takes them (sed + grep, here in Python)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- test-command -->\n(.*?)<!-- /test-command -->", text, re.S)
    assert block is not None
    lines = [x for x in block.group(1).splitlines() if not x.startswith(("<!--", "```"))]
    return "\n".join(lines)


def test_the_readme_command_is_short_and_runs_the_script() -> None:
    command = _readme_command()
    assert command == "bash scripts/test.sh"
    assert len(command) < 120
    script = REPO / "scripts" / "test.sh"
    assert script.is_file() and script.stat().st_mode & 0o111  # executable too


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_script_builds_llama_cpp_offline_and_portable_then_runs_pytest() -> None:
    res = subprocess.run(
        ["bash", str(REPO / "scripts" / "test.sh"), "--dry-run", "-m", "not slow"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    venv, install, pytest_line = res.stdout.splitlines()
    assert venv == "python3 -m venv .venv"
    flags = (
        "-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "
        "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
        "-DGGML_BMI2=ON"
    )
    assert install == (
        f"env CMAKE_ARGS={flags} LLAMA_CPP_BUILD_JOBS=2 "
        ".venv/bin/pip install -e .[test,default-model,server-test]"
    )
    assert pytest_line == ".venv/bin/python -m pytest -q --durations=15 -m not slow"
