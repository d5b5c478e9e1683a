"""Fixtures for the TUI tests: a fake engine, an app factory, and waiting helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui.fake_engine import FakeEngine
from tui.app import VidsumApp


@pytest.fixture
def fake() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., VidsumApp]:
    def make(engine: Any = None, **kwargs: Any) -> VidsumApp:
        kwargs.setdefault("export_dir", tmp_path / "exports")
        kwargs.setdefault("start_dir", tmp_path)
        return VidsumApp(engine if engine is not None else FakeEngine(), **kwargs)

    return make
