"""engine/ never imports textual or tui: checked in a fresh interpreter, for every module."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import engine


def test_engine_modules_do_not_import_ui() -> None:
    names = [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
    assert "engine.schema" in names
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}:\n"
        "    importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui'))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
