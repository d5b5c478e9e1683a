"""The hub cache on disk: where a hub model's file lives (``models--org--name/{blobs,
snapshots,refs}``), the record of verified files (``<data>/verified.json``), the manifests of
partial downloads (``<cache>/downloads/<id>.json``), and deleting a hub model's files.

Only hub models come here (``engine.modelstore.manager`` routes by source).
May import: ``engine.modelstore.catalog`` / ``hub`` / ``hashing`` and the ground floor.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from engine.errors import DownloadError, ModelFileError, ModelNotFound
from engine.fsutil import atomic_write_text, read_json_object, state_error
from engine.modelstore.catalog import CatalogEntry, get_entry
from engine.modelstore.hashing import hash_file
from engine.modelstore.hub import NotEnoughDiskSpace, hub_cache_dir
from engine.paths import get_paths
from engine.progress import CancelToken, ProgressCallback
from engine.units import format_bytes

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")  # a pinned commit


# --- cache layout ----------------------------------------------------------------------------


def _hub_entry(model_id: str) -> CatalogEntry:
    entry = get_entry(model_id)
    if not entry.repo or not entry.file:  # only hub entries name a repository
        raise DownloadError(
            f"{entry.id} is not a Hugging Face Hub model; there is nothing to download."
        )
    return entry


def _storage(entry: CatalogEntry) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    assert entry.repo is not None
    return hub_cache_dir() / repo_folder_name(repo_id=entry.repo, repo_type="model")


def _lock_path(entry: CatalogEntry, etag: str) -> Path:
    return hub_cache_dir() / ".locks" / _storage(entry).name / f"{etag}.lock"


def installed(model_id: str) -> Path | None:
    """The complete cached file of a hub model (a snapshot path), or None."""
    entry = get_entry(model_id)
    if entry.repo is None or entry.file is None:
        return None  # not a hub model: nothing of it is in the hub cache
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        entry.repo, entry.file, cache_dir=hub_cache_dir(), revision=entry.revision or "main"
    )
    if isinstance(found, str) and Path(found).is_file():
        return Path(found)
    if entry.revision and _SHA1_RE.match(entry.revision):
        return None  # pinned: only that commit will do
    # The branch moved on (or refs are missing) but an older snapshot holds the file.
    snaps = _storage(entry) / "snapshots"
    candidates = [p for p in snaps.glob(f"*/{entry.file}") if p.is_file()] if snaps.is_dir() else []
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


# --- verified records and partial-download manifests -----------------------------------------


def _verified_file() -> Path:
    return get_paths().data / "verified.json"


def _load_verified() -> dict[str, Any]:
    """verified.json: {real blob path: {sha256, size, mtime_ns, ...}}; a bad file is an error."""
    path = _verified_file()
    what = "record of verified model files"
    data = read_json_object(path, what)
    for key, rec in data.items():
        if not (
            isinstance(rec, dict)
            and isinstance(rec.get("sha256"), str)
            and isinstance(rec.get("size"), int)
            and isinstance(rec.get("mtime_ns"), int)
        ):
            raise state_error(
                path, what, f"has a bad record for {key!r} (needs sha256, size and mtime_ns)"
            )
    return data


def _load_manifest(model_id: str) -> dict[str, Any]:
    """cache/downloads/<id>.json: what a partial download is; a bad file is an error."""
    path = _manifest_path(model_id)
    what = f"partial-download record of {model_id}"
    data = read_json_object(path, what)
    if not isinstance(data.get("partial", ""), str):
        raise state_error(path, what, "has a 'partial' value that is not a path string")
    return data


def _record_verified(blob: Path, sha256: str, model_id: str) -> None:
    real = blob.resolve()
    st = real.stat()
    data = _load_verified()
    data[str(real)] = {
        "sha256": sha256,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "model_id": model_id,
        "verified_at": time.time(),
    }
    atomic_write_text(_verified_file(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def _forget_verified(blob: Path) -> None:
    data = _load_verified()
    if data.pop(str(blob), None) is not None:
        atomic_write_text(_verified_file(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def _verified_sha(path: Path) -> str | None:
    real = path.resolve()
    rec = _load_verified().get(str(real))
    if not rec:
        return None
    try:
        st = real.stat()
    except OSError:
        return None
    if rec.get("size") != st.st_size or rec.get("mtime_ns") != st.st_mtime_ns:
        return None
    return str(rec["sha256"])


def is_verified(model_id: str) -> bool:
    path = installed(model_id)
    return path is not None and _verified_sha(path) is not None


def _manifest_path(model_id: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)
    return get_paths().downloads_dir / f"{slug}.json"


def partial_bytes(model_id: str) -> int:
    """Bytes of an unfinished download kept for resume (0 if none)."""
    part = _load_manifest(model_id).get("partial")
    try:
        return Path(part).stat().st_size if part else 0
    except OSError:
        return 0


def ensure_verified(
    model_id: str,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> str:
    """sha256 of the installed file; hashed and checked once if not recorded yet.

    Files that got into the cache another way (``hf download``) are checked against the
    catalog's sha256 or, for LFS blobs, the blob's own name (which is its sha256).
    """
    entry = get_entry(model_id)
    path = installed(entry.id)
    if path is None:
        raise ModelNotFound(f"{entry.id} is not installed: run `vidsum models pull {entry.id}`.")
    known = _verified_sha(path)
    if known:
        return known
    blob = path.resolve()
    expected = entry.sha256 or (blob.name if _SHA256_RE.match(blob.name) else None)
    sha = hash_file(blob, progress=progress, cancel=cancel, item=entry.id)
    if expected and sha != expected:
        raise ModelFileError(
            path,
            f"sha256 is {sha} but {expected} was expected, so the cached copy of {entry.id} is "
            f"corrupt; run `vidsum models rm {entry.id}` and `vidsum models pull {entry.id}`",
        )
    _record_verified(blob, sha, entry.id)
    return sha


def _link(blob: Path, pointer: Path) -> Path:
    """snapshots/<commit>/<file> -> ../../blobs/<etag> (relative, as huggingface_hub does)."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    tmp = pointer.with_name(f".{pointer.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), tmp)
        os.replace(tmp, pointer)
    except OSError:  # no symlinks (Windows without developer mode): the file lives at the pointer
        tmp.unlink(missing_ok=True)
        os.replace(blob, pointer)
    return pointer


def rm(model_id: str) -> list[Path]:
    """Delete a hub model's cached file(s) and any partial download; return what was removed.
    (Other sources: ``engine.modelstore.manager.rm``.)"""
    entry = _hub_entry(model_id)
    assert entry.file is not None
    storage = _storage(entry)
    removed: list[Path] = []
    blobs: set[Path] = set()
    snaps = storage / "snapshots"
    for pointer in list(snaps.glob(f"*/{entry.file}")) if snaps.is_dir() else []:
        real = pointer.resolve()
        if pointer.is_symlink():
            blobs.add(real)
        pointer.unlink()
        removed.append(pointer)
        _forget_verified(real)
    still_used = (
        {p.resolve() for p in snaps.rglob("*") if p.is_symlink()} if snaps.is_dir() else set()
    )
    for blob in blobs - still_used:
        if blob.exists():
            blob.unlink()
            removed.append(blob)
        _forget_verified(blob)
    manifest = _manifest_path(entry.id)
    part = _load_manifest(entry.id).get("partial")
    if part and Path(part).exists():
        Path(part).unlink()
        removed.append(Path(part))
    manifest.unlink(missing_ok=True)
    for d in sorted(snaps.glob("*"), reverse=True) if snaps.is_dir() else []:
        if d.is_dir() and not any(d.rglob("*")):
            shutil.rmtree(d)
    if not removed:
        raise ModelNotFound(
            f"{entry.id} is not installed and has no partial download; nothing to remove."
        )
    return removed


def install_blob(entry: CatalogEntry, commit: str, blob: Path, sha: str) -> Path:
    """Link a verified blob from ``snapshots/<commit>/<file>``, point the revision's ref at the
    commit, and record the file as verified; the snapshot path."""
    storage = _storage(entry)
    assert entry.file is not None
    pointer = _link(blob, storage / "snapshots" / commit / entry.file)
    rev = entry.revision or "main"
    if rev != commit:
        atomic_write_text(storage / "refs" / rev, commit)
    _record_verified(pointer, sha, entry.id)
    return pointer


def check_disk_space(directory: Path, needed: int, entry: CatalogEntry, kept: int) -> None:
    """Refuse to start when the cache's disk cannot hold the rest of the file (plus a margin)."""
    margin = min(512 * 1024 * 1024, max(1024 * 1024, needed // 100))
    free = shutil.disk_usage(directory).free
    if free < needed + margin:
        raise NotEnoughDiskSpace(
            f"Not enough disk space for {entry.id}: {format_bytes(needed)} more are needed "
            f"(plus {format_bytes(margin)} margin) but {directory} has {format_bytes(free)} "
            "free. "
            f"Free some space or point HF_HOME at a larger disk."
            + (f" {kept:,} bytes already downloaded are kept." if kept else "")
        )
