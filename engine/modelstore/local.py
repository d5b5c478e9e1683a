"""Local models: GGUF files the user registered with ``vidsum models add PATH``.

They are header-checked and hashed once, and stored by reference (path, size, mtime, sha256) in
``<data>/local_models.json``; the file itself is never copied. This module keeps that registry
and checks files; ``engine.modelstore.catalog`` turns its records into catalog entries.
May import: ``engine.modelfile.header`` / ``hashing`` and the ground floor. The llama.cpp load
and chat-template check is handed in (``FileCheck``): it needs the runtime and the pipeline,
which sit above the model store.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import ModelFileError
from engine.fsutil import atomic_write_text, read_json_object, state_error
from engine.modelfile.header import check_gguf
from engine.modelstore.hashing import hash_file
from engine.paths import get_paths
from engine.progress import CancelToken, ProgressCallback

# (path, chat format, progress, cancel): raises ModelFileError for a file llama.cpp refuses.
FileCheck = Callable[[Path, str, ProgressCallback | None, CancelToken | None], None]

_QUANT_RE = re.compile(
    r"(?i)(?<![A-Z0-9])(IQ\d_[A-Z]+|Q\d_K(?:_[SML])?|Q\d_\d|BF16|F16|F32)(?![A-Z0-9])"
)


def _registry_path() -> Path:
    return get_paths().data / "local_models.json"


def _load_registry() -> dict[str, Any]:
    path = _registry_path()
    what = "local model registry"
    data = read_json_object(path, what)
    data.setdefault("models", [])
    data.setdefault("hashes", {})
    models, hashes = data["models"], data["hashes"]
    if not isinstance(models, list) or not all(
        isinstance(m, dict) and all(isinstance(m.get(k), str) for k in ("id", "name", "path"))
        for m in models
    ):
        raise state_error(
            path, what, "has a bad 'models' list (each entry needs string id, name and path)"
        )
    if not isinstance(hashes, dict) or not all(
        isinstance(h, dict) and isinstance(h.get("sha256"), str) for h in hashes.values()
    ):
        raise state_error(path, what, "has a bad 'hashes' object (each needs a string sha256)")
    return data


def _save_registry(data: dict[str, Any]) -> None:
    atomic_write_text(_registry_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def cached_hash(
    path: Path, progress: ProgressCallback | None, cancel: CancelToken | None, item: str | None
) -> str:
    """sha256 of a local file, hashed once per (size, mtime) and remembered in the registry."""
    real = str(path.resolve())
    size, mtime = _stat_key(path)
    data = _load_registry()
    known = data["hashes"].get(real)
    if known and known.get("size") == size and known.get("mtime_ns") == mtime:
        return str(known["sha256"])
    sha = hash_file(path, progress=progress, cancel=cancel, item=item)
    data = _load_registry()  # re-read: hashing may have taken minutes
    data["hashes"][real] = {"size": size, "mtime_ns": mtime, "sha256": sha}
    _save_registry(data)
    return sha


def header_info(path: Path) -> dict[str, Any]:
    """Run the strict GGUF header check; return the few fields the catalog records."""
    h = check_gguf(path)  # raises ModelFileError for anything llama.cpp should not see
    return {
        "architecture": h.architecture,
        "n_ctx_train": h.context_length,
        "sliding_window": h.sliding_window,
        "name": h.name,
        "quant": h.quant,
    }


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "model"


def guess_quant(filename: str) -> str:
    m = _QUANT_RE.search(filename)
    return m.group(1).upper() if m else "unknown"


def register(
    path: Path,
    *,
    taken: set[str],
    name: str | None = None,
    check: FileCheck,
    chat_format: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> str:
    """Check, hash and record a local GGUF (never copied); its id (new ids avoid ``taken``).
    ``check`` loads the file in llama.cpp (``engine.batch.model_check.llama_check``)."""
    path = existing_file(Path(path).expanduser())
    info = header_info(path)  # raises ModelFileError for anything llama.cpp should not see
    check(path, chat_format or "gguf-template", progress, cancel)
    sha = cached_hash(path, progress, cancel, item=path.name)
    size, mtime = _stat_key(path)
    data = _load_registry()
    existing = next((m for m in data["models"] if m["path"] == str(path)), None)
    if existing is None:
        base = f"local:{slug(name or path.stem)}"
        new_id, n = base, 2
        while new_id in taken:
            new_id, n = f"{base}-{n}", n + 1
        existing = {"id": new_id}
        data["models"].append(existing)
    existing.update(
        name=name or info["name"] or path.stem,
        path=str(path),
        size=size,
        mtime_ns=mtime,
        sha256=sha,
        quant=info["quant"] or guess_quant(path.name),
        architecture=info["architecture"],
        n_ctx_train=info["n_ctx_train"],
        sliding_window=info["sliding_window"],
        chat_format=chat_format or "gguf-template",
        added_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    _save_registry(data)
    return str(existing["id"])


def forget(model_id: str) -> None:
    """Drop a local model's record (the file itself is the user's and stays)."""
    data = _load_registry()
    data["models"] = [m for m in data["models"] if m["id"] != model_id]
    _save_registry(data)


def existing_file(path: Path) -> Path:
    """``path`` resolved when it is a regular file (through symlinks), else ``ModelFileError``
    saying what it is instead: missing, a directory, a FIFO, a symlink loop, ..."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise ModelFileError(
                path, f"a symbolic link to {os.readlink(path)}, which does not exist."
            ) from None
        raise ModelFileError(path, "no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ModelFileError(
                path, "a symbolic link loop (the links point back at each other), not a file."
            ) from None
        raise ModelFileError(path, f"cannot be read ({exc.strerror or exc}).") from None
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    for test, what in kinds:
        if test(st.st_mode):
            raise ModelFileError(path, f"{what}, not a .gguf model file.")
    return path.resolve()
