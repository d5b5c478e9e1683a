"""Importing the faces' entry points stays light: ``import engine.api`` (every `vidsum` run and
the TUI) loads no model runtime, no numerics, no HTTP stack, no SQLite, no pydantic and none of
the engine's deep packages; ``import tui.app`` loads Textual and the value types, but nothing of
the engine under ``engine.api``.

Each check runs in a fresh interpreter and reads ``sys.modules`` (harlequin's import-hygiene
test, after the fact: an import that sneaks in at module level fails here, however deep).
``engine.api`` imports the owners inside its methods; see HACKING.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Third-party modules that cost real start-up time (measured: ``python -X importtime``), and the
# stdlib's SQLite, which only the library needs.
HEAVY = (
    "llama_cpp",
    "numpy",
    "wordfreq",
    "huggingface_hub",
    "httpx",
    "requests",
    "sqlite3",
    "gguf",
)
# The engine below the facade: its methods import these when called, never at import.
DEEP = (
    "engine.batch",
    "engine.pipeline",
    "engine.library",
    "engine.modelstore",
    "engine.runtime",
    "engine.hardware",
    "engine.modelfile",
    "engine.transcripts",
    "engine.settings",
)

LIGHT = {
    # The facade and the CLI's entry module: no UI, no pydantic (schema) either.
    "engine.api": (*HEAVY, *DEEP, "pydantic", "textual", "rich", "tui"),
    "engine.cli.main": (*HEAVY, *DEEP, "pydantic", "textual", "tui"),
    # The TUI needs Textual and the schema's types, nothing of the engine's depths.
    "tui.app": (*HEAVY, *DEEP),
}


def loaded(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter started in the repo
    (so this checkout's packages are the ones imported)."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.splitlines()[-1]))


def forbidden_in(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    """The forbidden packages present: a name or any of its submodules."""
    return sorted(
        name for name in forbidden if any(m == name or m.startswith(name + ".") for m in modules)
    )


@pytest.mark.parametrize("module", sorted(LIGHT))
def test_importing_a_face_entry_point_stays_light(module: str) -> None:
    modules = loaded(
        f"import {module}\nimport engine\nassert engine.__file__.startswith({str(REPO)!r})"
    )
    assert module in modules
    assert forbidden_in(modules, LIGHT[module]) == []


def test_the_check_fails_when_a_heavy_import_sneaks_in() -> None:
    """The same check on a snippet that adds what the facade must not load at import: the
    library (SQLite and pydantic come with it) and a numerics package."""
    pytest.importorskip("numpy")  # llama-cpp-python's dependency: here wherever vidsum is
    modules = loaded("import engine.api\nimport engine.library.store\nimport numpy")
    bad = forbidden_in(modules, LIGHT["engine.api"])
    assert {"engine.library", "sqlite3", "pydantic", "numpy"} <= set(bad)
    assert forbidden_in({"engine.libraryx"}, LIGHT["engine.api"]) == []
