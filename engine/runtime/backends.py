"""Backends by name: what the pipeline calls to get a ``Backend`` without importing one.

The implementations (``engine.runtime.llamacpp``, ``engine.runtime.server``) are imported by
module name on first use, so the pipeline's import graph holds only ``engine.runtime.base`` and
this module, and importing the pipeline never loads an implementation it does not use. Every
signature here speaks ``engine.runtime.base`` types.

May import: ``engine.runtime.base`` and the ground floor; implementations only through
``importlib``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from engine.progress import CancelToken, ProgressCallback
from engine.runtime.base import (
    Backend,
    Dialect,
    LoadOptions,
    LocalBackend,
    ModelCheck,
    ServerInfo,
    ServerProfile,
)

LOCAL = "engine.runtime.llamacpp.runner"
SERVER = "engine.runtime.server.http"
SERVER_DIALECTS = "engine.runtime.server.dialects"
SERVER_PROFILES = "engine.runtime.server.profiles"


def _module(name: str) -> Any:
    return importlib.import_module(name)


def open_local(options: LoadOptions) -> LocalBackend:
    """A llama.cpp backend for ``options.model_path`` (not loaded yet: call ``load``)."""
    backend: LocalBackend = _module(LOCAL).LlamaRunner(options)
    return backend


def inspect_local(
    path: Path, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> ModelCheck:
    """Whether llama.cpp can load ``path`` (shapes and vocabulary, no tensor data), in a worker
    process; ``ModelFileError`` with llama.cpp's reason otherwise."""
    check: ModelCheck = _module(LOCAL).inspect_model(path, progress=progress, cancel=cancel)
    return check


def open_server(info: ServerInfo, api_key: str | None = None) -> Backend:
    """A backend for the model ``info`` describes (from ``connect_server``)."""
    backend: Backend = _module(SERVER).ServerBackend(info, api_key)
    return backend


def connect_server(
    name: str,
    url: str,
    *,
    dialect: Dialect | None = None,
    model: str | None = None,
    api_key: str | None = None,
    concurrency: int | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> ServerInfo:
    """Ask an endpoint what it is (``ServerUnavailable`` when it does not answer; waits on a
    ``Retry-After`` are said through ``progress``)."""
    info: ServerInfo = _module(SERVER_DIALECTS).connect(
        name,
        url,
        dialect=dialect,
        model=model,
        api_key=api_key,
        concurrency=concurrency,
        cancel=cancel,
        progress=progress,
    )
    return info


def server_canary(backend: Backend, cancel: CancelToken | None = None) -> str:
    """Prove that a server backend enforces grammars (``GrammarNotHonoured`` otherwise)."""
    answer: str = _module(SERVER).canary(backend, cancel)
    return answer


def server_api_key(name: str, var: str | None) -> str | None:
    """The API key a profile names by environment variable (keys are never stored)."""
    key: str | None = _module(SERVER_DIALECTS).api_key_from_env(name, var)
    return key


def server_profile(name: str) -> ServerProfile:
    """The stored endpoint named ``name`` (``ConfigError`` when there is none)."""
    profile: ServerProfile = _module(SERVER_PROFILES).get_profile(name)
    return profile
