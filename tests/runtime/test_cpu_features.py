"""engine.runtime.llamacpp.cpu_features: the extra-buffer choice, its override, and the patched
defaults."""

from __future__ import annotations

import llama_cpp
import pytest

from engine.runtime.llamacpp import cpu_features


def test_override_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpu_features.ENV, "1")
    assert cpu_features.extra_buffers_allowed() is True
    monkeypatch.setenv(cpu_features.ENV, "0")
    assert cpu_features.extra_buffers_allowed() is False


def test_amx_machines_skip_extra_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cpu_features.ENV, raising=False)
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset({"avx2", "amx_tile"}))
    assert cpu_features.extra_buffers_allowed() is False
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert cpu_features.extra_buffers_allowed() is True


def test_patched_defaults_follow_the_choice() -> None:
    # conftest patched the loaded module once; a second call is a no-op.
    cpu_features.patch_default_params(llama_cpp)
    params = llama_cpp.llama_model_default_params()
    assert params.use_extra_bufts == cpu_features.extra_buffers_allowed()
    assert llama_cpp.llama_cpp.llama_model_default_params() is not None
