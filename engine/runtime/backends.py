"""vidsum's own llama.cpp worker, reached without importing it: ``open_local``, ``inspect_local``.

The implementation (``engine.runtime.llamacpp``) is imported by module name on first use, so
whoever holds a backend through this module (the batch layer) loads llama.cpp's bindings only
when a model is loaded or checked: they are heavy, and missing where vidsum runs on servers
only. Every signature here speaks ``engine.runtime.base`` types. Servers need no such switch:
``engine.runtime.server`` imports nothing heavy, and the batch layer uses it directly.

May import: ``engine.runtime.base`` and the ground floor; the implementation only through
``importlib``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from engine.progress import CancelToken, ProgressCallback
from engine.runtime.base import LoadOptions, LocalBackend, ModelCheck

LOCAL = "engine.runtime.llamacpp.runner"


def _runner() -> Any:
    return importlib.import_module(LOCAL)


def open_local(options: LoadOptions) -> LocalBackend:
    """A llama.cpp backend for ``options.model_path`` (not loaded yet: call ``load``)."""
    backend: LocalBackend = _runner().LlamaRunner(options)
    return backend


def inspect_local(
    path: Path, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> ModelCheck:
    """Whether llama.cpp can load ``path`` (shapes and vocabulary, no tensor data), in a worker
    process; ``ModelFileError`` with llama.cpp's reason otherwise."""
    check: ModelCheck = _runner().inspect_model(path, progress=progress, cancel=cancel)
    return check
