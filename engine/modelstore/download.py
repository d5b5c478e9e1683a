"""Resumable, sha256-verified model downloads into the Hugging Face cache.

huggingface_hub does the metadata (HEAD on ``/resolve``: commit, etag, size, CDN location;
``paths-info``: the LFS sha256), the auth headers (``HF_TOKEN``) and the cache layout
(``models--org--name/{blobs,snapshots,refs}``), so ``try_to_load_from_cache`` and the ``hf``
tools see our files. The byte transfer is ours, because huggingface_hub 2.x downloads into a
process-unique ``blobs/<etag>.<uuid>.incomplete`` and deletes it on any failure: after an
error, a Ctrl-C or a kill -9 the next call starts again from byte 0 (and a killed process
leaves an orphan that is never reused). huggingface_hub also checks only the size.

Here the partial file is ``blobs/<etag>.incomplete`` (keyed by the file's etag, the name
``hf cache`` lists as an incomplete download). Whatever reached it survives any crash; the next
``pull`` sends ``Range: bytes=N-`` and requires ``206`` with a matching ``Content-Range``
(a ``200`` means the server ignored the range: we say so and restart from 0). The sha256 runs
over the bytes as they arrive (the kept prefix is hashed first), is compared with the hub's
LFS sha256 (and the catalog's pinned one, when known), and only a match is moved atomically
to ``blobs/<etag>`` and linked from ``snapshots/<commit>/<file>``; a mismatch deletes the file.
Verified files are recorded (``<data>/verified.json``: path, size, mtime, sha256) so later
loads do not rehash. The same ``.locks`` file as huggingface_hub keeps two downloads of one
blob apart. Cancel, drops, stalls and a full disk keep the partial file on purpose: it is resume
state, never a model (nothing reaches ``snapshots/`` unverified).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import Cancelled
from engine.fsutil import atomic_write_text
from engine.modelstore.catalog import CatalogEntry
from engine.modelstore.hashing import hash_file
from engine.modelstore.hub import (
    ChecksumMismatch,
    DownloadBusy,
    DownloadInterrupted,
    DownloadStalled,
    HubServerError,
    HubUnreachable,
    NotEnoughDiskSpace,
    hub_cache_dir,
    offline,
    stall_timeout_default,
)
from engine.modelstore.hubcache import (
    _SHA1_RE,
    _hub_entry,
    _load_manifest,
    _lock_path,
    _manifest_path,
    _storage,
    _verified_sha,
    check_disk_space,
    ensure_verified,
    install_blob,
    installed,
    partial_bytes,
)
from engine.modelstore.remote import RemoteFile, _http_error, _remote_file
from engine.progress import CancelToken, Progress, ProgressCallback, emit

CONNECT_TIMEOUT = 15.0
_FSYNC_EVERY = 256 * 1024 * 1024


# --- the transfer ------------------------------------------------------------------------------


class _Rate:
    """Bytes per second over the last few seconds."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, t: float, done: int) -> float | None:
        self.samples.append((t, done))
        while len(self.samples) > 2 and t - self.samples[0][0] > self.window:
            self.samples.popleft()
        t0, d0 = self.samples[0]
        return (done - d0) / (t - t0) if t > t0 else None


def _transfer(
    entry: CatalogEntry,
    remote: RemoteFile,
    partial: Path,
    digest: Any,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    stall: float,
) -> Any:
    """Append the missing bytes to ``partial``; return the digest of the whole file.

    Three steps: ask for the rest (``_resume``: the range request and what the server made of
    it), write what arrives (``_stream``), then check that all of it came; transport failures
    become errors that say how much is kept.
    """
    import httpx2
    from huggingface_hub.utils import get_session

    have = partial.stat().st_size if partial.exists() else 0
    timeout = httpx2.Timeout(stall, connect=min(stall, CONNECT_TIMEOUT))
    fetch = _Fetch(have=have, done=have, digest=digest)
    try:
        with get_session().stream(
            "GET", remote.url, headers=_range_headers(remote, have), timeout=timeout
        ) as resp:
            if not _resume(resp, entry, remote, partial, fetch, progress):
                return fetch.digest  # everything was already there
            _stream(resp, entry, remote, partial, fetch, progress, cancel)
    except httpx2.TimeoutException as exc:
        raise DownloadStalled(
            f"The download of {entry.id} stalled: no data for {stall:.0f} s. {fetch.done:,} of "
            f"{remote.size:,} bytes are kept; run `vidsum models pull {entry.id}` to resume."
        ) from exc
    except httpx2.TransportError as exc:
        raise DownloadInterrupted(
            f"The connection dropped while downloading {entry.id} ({type(exc).__name__}). "
            f"{fetch.done:,} of {remote.size:,} bytes are kept; run `vidsum models pull "
            f"{entry.id}` to resume."
        ) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NotEnoughDiskSpace(
                f"The disk filled up while downloading {entry.id} into {partial.parent}. "
                f"{partial.stat().st_size:,} bytes are kept; free some space and run "
                f"`vidsum models pull {entry.id}` to resume."
            ) from exc
        raise
    if fetch.done != remote.size:
        raise DownloadInterrupted(
            f"The download of {entry.id} ended early: {fetch.done:,} of {remote.size:,} bytes. "
            f"They are kept; run `vidsum models pull {entry.id}` to resume."
        )
    return fetch.digest


@dataclass
class _Fetch:
    """Where one transfer stands: bytes kept before it, bytes in the file now, their sha256."""

    have: int
    done: int
    digest: Any


def _range_headers(remote: RemoteFile, have: int) -> dict[str, str]:
    """The hub's auth headers (never sent to a signed CDN URL), asking for bytes ``have``-."""
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"
    if not remote.same_origin:  # signed CDN URL: the token stays with the hub
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    if have:
        headers["Range"] = f"bytes={have}-"
    return headers


def _resume(
    resp: Any,
    entry: CatalogEntry,
    remote: RemoteFile,
    partial: Path,
    fetch: _Fetch,
    progress: ProgressCallback | None,
) -> bool:
    """Judge the answer to the range request: ``206`` must continue at ``have``, a ``200``
    restarts from byte 0 (said so), a ``416`` at full size means nothing is missing (False)."""
    status = resp.status_code
    have = fetch.have
    if status == 206:
        m = re.match(r"bytes (\d+)-(\d+)/(\d+)", resp.headers.get("Content-Range", ""))
        if not m or int(m.group(1)) != have or int(m.group(3)) != remote.size:
            raise HubServerError(
                f"Cannot resume {entry.id}: the server answered the range request for "
                f"bytes {have}- with Content-Range {resp.headers.get('Content-Range')!r}. "
                f"Run `vidsum models rm {entry.id}` and pull again."
            )
    elif status == 200:
        if have:
            emit(
                progress,
                Progress(
                    "download",
                    have,
                    remote.size,
                    unit="B",
                    item=entry.id,
                    message=f"The server ignored the resume request (200 instead of 206); "
                    f"restarting {entry.id} from byte 0.",
                ),
            )
            with partial.open("r+b") as f:
                f.truncate(0)
            fetch.have = fetch.done = 0
            fetch.digest = hashlib.sha256()
    elif status == 416 and have == remote.size:
        return False
    else:
        raise _http_error(
            status,
            entry,
            error_code=resp.headers.get("X-Error-Code"),
            kept=have,
            what="download",
        )
    return True


def _stream(
    resp: Any,
    entry: CatalogEntry,
    remote: RemoteFile,
    partial: Path,
    fetch: _Fetch,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> None:
    """Append the body to ``partial`` as it arrives: hashed, flushed (fsynced every 256 MiB),
    reported at most ten times a second; a cancel keeps what arrived."""
    rate = _Rate()
    t_last = 0.0
    synced = fetch.done
    with partial.open("ab") as f:
        for chunk in resp.iter_bytes():
            if cancel is not None and cancel.cancelled:
                f.flush()
                raise Cancelled(
                    f"Download of {entry.id} cancelled; {fetch.done:,} of {remote.size:,} bytes "
                    f"are kept: run `vidsum models pull {entry.id}` to resume."
                )
            f.write(chunk)
            f.flush()  # every byte handed to the OS survives a kill -9
            fetch.digest.update(chunk)
            fetch.done += len(chunk)
            if fetch.done > remote.size:
                raise HubServerError(
                    f"Cannot download {entry.id}: the server sent more than the "
                    f"{remote.size:,} bytes the hub announced."
                )
            if fetch.done - synced >= _FSYNC_EVERY:
                os.fsync(f.fileno())
                synced = fetch.done
            now = time.monotonic()
            if now - t_last >= 0.1 or fetch.done == remote.size:
                t_last = now
                emit(
                    progress,
                    Progress(
                        "download",
                        fetch.done,
                        remote.size,
                        rate=rate.add(now, fetch.done),
                        unit="B",
                        item=entry.id,
                        extra={"resumed_from": fetch.have, "fetched": fetch.done - fetch.have},
                    ),
                )


def _pull_once(
    entry: CatalogEntry,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    stall: float,
) -> Path:
    import filelock

    try:
        remote = _remote_file(entry, stall)
    except (HubUnreachable, HubServerError):
        cached = installed(entry.id)
        if cached is None:
            raise
        ensure_verified(entry.id, progress, cancel)
        emit(
            progress,
            Progress(
                "done",
                item=entry.id,
                message="The hub is unreachable; using the cached, verified copy.",
            ),
        )
        return cached
    if entry.sha256 and remote.sha256 != entry.sha256:
        raise ChecksumMismatch(
            f"Refusing to download {entry.id}: the hub reports sha256 {remote.sha256} for "
            f"{entry.file} at {entry.revision}, but the catalog pins {entry.sha256}."
        )
    storage = _storage(entry)
    blobs = storage / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    blob = blobs / remote.etag
    if blob.is_file() and blob.stat().st_size == remote.size:  # already here (other revision)
        sha = _verified_sha(blob) or hash_file(
            blob, progress=progress, cancel=cancel, item=entry.id
        )
        if sha == remote.sha256:
            return install_blob(entry, remote.commit, blob, sha)
        blob.unlink()  # a corrupt blob (not ours): replace it
    lock = _lock_path(entry, remote.etag)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        held = filelock.FileLock(str(lock), timeout=0)
        held.acquire()
    except filelock.Timeout as exc:
        raise DownloadBusy(
            f"Another process is already downloading {entry.id} (lock {lock}); wait for it to "
            "finish."
        ) from exc
    try:
        return _download_locked(entry, remote, blob, progress, cancel, stall)
    finally:
        held.release()


def _download_locked(
    entry: CatalogEntry,
    remote: RemoteFile,
    blob: Path,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    stall: float,
) -> Path:
    """Resume (or start) the partial file, stream the rest into it, then verify and install."""
    partial, digest = _resume_partial(entry, remote, blob, progress, cancel)
    digest = _transfer(entry, remote, partial, digest, progress, cancel, stall)
    return _verify_and_install(entry, remote, blob, partial, digest.hexdigest(), progress)


def _resume_partial(
    entry: CatalogEntry,
    remote: RemoteFile,
    blob: Path,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> tuple[Path, Any]:
    """Record what the partial file is (the manifest), keep a usable prefix and hash it once;
    the partial file and the digest of what it holds."""
    partial = blob.with_name(f"{remote.etag}.incomplete")
    manifest = _manifest_path(entry.id)
    old = _load_manifest(entry.id)
    if old.get("partial") and old.get("partial") != str(partial):  # the file changed upstream
        Path(old["partial"]).unlink(missing_ok=True)
    atomic_write_text(
        manifest,
        json.dumps(
            {
                "model_id": entry.id,
                "repo": entry.repo,
                "file": entry.file,
                "commit": remote.commit,
                "etag": remote.etag,
                "size": remote.size,
                "sha256": remote.sha256,
                "partial": str(partial),
            },
            indent=2,
        )
        + "\n",
    )
    have = partial.stat().st_size if partial.exists() else 0
    if have > remote.size:
        partial.unlink()
        have = 0
    check_disk_space(blob.parent, remote.size - have, entry, have)
    digest = hashlib.sha256()
    if have:  # the kept prefix is hashed once; new bytes are hashed as they arrive
        hash_file(partial, progress=progress, cancel=cancel, item=entry.id, digest=digest)
        emit(
            progress,
            Progress(
                "download",
                have,
                remote.size,
                unit="B",
                item=entry.id,
                message=f"Resuming {entry.id} at byte {have:,}.",
                extra={"resumed_from": have},
            ),
        )
    else:
        partial.touch()
    return partial, digest


def _verify_and_install(
    entry: CatalogEntry,
    remote: RemoteFile,
    blob: Path,
    partial: Path,
    sha: str,
    progress: ProgressCallback | None,
) -> Path:
    """Compare the sha256 with the hub's; a match becomes the blob (linked from its snapshot),
    a mismatch is deleted."""
    manifest = _manifest_path(entry.id)
    emit(
        progress,
        Progress(
            "verify",
            remote.size,
            remote.size,
            unit="B",
            item=entry.id,
            message="Comparing sha256 with the hub",
        ),
    )
    if sha != remote.sha256:
        partial.unlink(missing_ok=True)
        manifest.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"The download of {entry.id} is corrupt: its sha256 is {sha} but the hub says "
            f"{remote.sha256}. The file was deleted. Run `vidsum models pull {entry.id}` again; "
            "if this repeats, something between you and the hub is altering the data."
        )
    os.chmod(partial, 0o644)
    os.replace(partial, blob)
    path = install_blob(entry, remote.commit, blob, sha)
    manifest.unlink(missing_ok=True)
    emit(
        progress,
        Progress(
            "done",
            remote.size,
            remote.size,
            unit="B",
            item=entry.id,
            message=f"Downloaded and verified {entry.id}.",
        ),
    )
    return path


def pull(
    model_id: str,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    stall_timeout: float | None = None,
    retries: int = 2,
) -> Path:
    """Download (or resume) a hub model into the HF cache, verified; return its path.

    Drops and stalls are retried ``retries`` times, resuming each time. Offline
    (``HF_HUB_OFFLINE=1`` or no connection) a cached, verified copy is used; without one the
    error says so.
    """
    entry = _hub_entry(model_id)
    stall = stall_timeout if stall_timeout is not None else stall_timeout_default()
    cached = installed(entry.id)
    if cached is not None and entry.revision and _SHA1_RE.match(entry.revision):
        # Pinned commit already cached: nothing can have changed upstream.
        ensure_verified(entry.id, progress, cancel)
        return cached
    if offline():
        if cached is None:
            raise HubUnreachable(
                f"HF_HUB_OFFLINE is set and {entry.id} is not in the Hugging Face cache "
                f"({hub_cache_dir()}); unset HF_HUB_OFFLINE to download it."
            )
        ensure_verified(entry.id, progress, cancel)
        return cached
    attempt = 0
    while True:
        try:
            return _pull_once(entry, progress, cancel, stall)
        except (DownloadInterrupted, DownloadStalled) as exc:
            if attempt >= retries:
                raise
            attempt += 1
            emit(
                progress,
                Progress(
                    "download", item=entry.id, message=f"{exc} Retrying ({attempt}/{retries})."
                ),
            )
            if cancel is not None and cancel.wait(min(0.5 * 2 ** (attempt - 1), 10.0)):
                raise Cancelled(
                    f"Download of {entry.id} cancelled; {partial_bytes(entry.id):,} bytes are "
                    f"kept: run `vidsum models pull {entry.id}` to resume."
                ) from exc
            if cancel is None:
                time.sleep(min(0.5 * 2 ** (attempt - 1), 10.0))
