"""The project's static checks run as part of the test suite, so CI enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            pytest.fail(f"{name} is not installed; install the test extra")
        return found
    return str(path)


@pytest.mark.parametrize(
    "cmd",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["lint-imports"],
        ["mypy"],
    ],
    ids=["ruff", "ruff-format", "import-linter", "mypy"],
)
def test_static_check(cmd: list[str]) -> None:
    proc = subprocess.run(
        [_tool(cmd[0]), *cmd[1:]], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_fake_engine_matches_the_engine_api() -> None:
    """tests/tui/fake_engine.py stands in for ``Engine`` in the TUI tests: ``FakeEngine``
    subclasses it, and mypy checks every method the fake overrides against the engine's (and the
    fake's server mixin against ``Engine`` too), so the two cannot drift apart unnoticed."""
    proc = subprocess.run(
        [_tool("mypy"), "tests/tui/fake_engine.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
