"""Shared fixtures. Every test gets its own VIDSUM_HOME and HF_HOME: no test touches real dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = (REPO.parent / "shared").resolve()
SHARED_DATA = SHARED / "data"
TALKS = SHARED_DATA / "talks"
SEED = SHARED_DATA / "seed-run"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("vidsum-home")
    monkeypatch.setenv("VIDSUM_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield home


def require_shared() -> None:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}; clone with ../shared beside it")
