"""Shared fixtures. Every test gets its own VIDSUM_HOME and HF_HOME: no test touches real dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from engine.runtime.llamacpp.cpu_features import patch_default_params

# Tests that build llama.cpp models themselves get the same CPU-buffer choice as the worker.
patch_default_params(llama_cpp)

REPO = Path(__file__).resolve().parent.parent
SHARED = (REPO.parent / "shared").resolve()
SHARED_DATA = SHARED / "data"
TALKS = SHARED_DATA / "talks"
SEED = SHARED_DATA / "seed-run"


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("vidsum-home")
    monkeypatch.setenv("VIDSUM_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield home


def require_shared() -> None:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}; clone with ../shared beside it")


@pytest.fixture(scope="session")
def gemma_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Gemma 3 270M GGUF, assembled once per test session (sha256-checked)."""
    import os

    from engine.modelstore.default_model import ensure_default_model

    home = tmp_path_factory.mktemp("gemma-home")
    old = os.environ.get("VIDSUM_HOME")
    os.environ["VIDSUM_HOME"] = str(home)
    try:
        return ensure_default_model()
    finally:
        if old is None:
            os.environ.pop("VIDSUM_HOME", None)
        else:
            os.environ["VIDSUM_HOME"] = old


@pytest.fixture(scope="session")
def tiny_llama_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Mistral-shaped (GQA) llama GGUF, written once per test session."""
    from bench.synthetic_gguf import TINY_LLAMA, write_gguf

    return write_gguf(tmp_path_factory.mktemp("synthetic") / "tiny-llama.gguf", TINY_LLAMA)


@pytest.fixture(scope="session")
def tiny_moe_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Mixtral-shaped (4 experts, 2 used) GGUF, written once per session."""
    from bench.synthetic_gguf import TINY_MOE, write_gguf

    return write_gguf(tmp_path_factory.mktemp("synthetic") / "tiny-moe.gguf", TINY_MOE)
