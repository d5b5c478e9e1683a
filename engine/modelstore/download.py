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
import shutil
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from engine.errors import Cancelled, DownloadError, ModelFileError, ModelNotFound
from engine.fsutil import atomic_write_text, read_json_object, state_error
from engine.modelstore.catalog import CatalogEntry, get_entry, hash_file
from engine.paths import get_paths
from engine.progress import CancelToken, Progress, ProgressCallback, emit
from engine.units import format_bytes

STALL_ENV = "VIDSUM_DOWNLOAD_STALL_TIMEOUT"
DEFAULT_STALL_TIMEOUT = 60.0  # seconds without a byte before a download counts as stalled
CONNECT_TIMEOUT = 15.0
_FSYNC_EVERY = 256 * 1024 * 1024
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")  # a pinned commit


# --- errors ----------------------------------------------------------------------------------


class HubAccessDenied(DownloadError):
    """401/403: gated, private, or a missing/invalid HF_TOKEN."""


class HubNotFound(DownloadError):
    """404: repository, revision or file missing on the hub."""


class HubServerError(DownloadError):
    """5xx, 429 or any other unexpected HTTP answer."""


class HubUnreachable(DownloadError):
    """Offline (HF_HUB_OFFLINE or no connection) and the model is not cached."""


class DownloadInterrupted(DownloadError):
    """The connection dropped mid-file; the partial file is kept for resume."""


class DownloadStalled(DownloadError):
    """No bytes arrived for the stall timeout; the partial file is kept for resume."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes do not match the expected sha256; the file was deleted."""


class NotEnoughDiskSpace(DownloadError):
    """Not enough free space for the rest of the file."""


class DownloadBusy(DownloadError):
    """Another process is downloading the same file."""


# --- environment (read at call time, not at import like huggingface_hub.constants) -----------


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def offline() -> bool:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if var in os.environ:
            return _truthy(os.environ[var])
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


HUB_PROBE_SECONDS = 1.0


@dataclass(frozen=True)
class HubReach:
    offline: bool  # downloads cannot work now
    reason: str  # why, in words: "HF_HUB_OFFLINE is set", "answered in 0.05 s", ...


def probe_hub(timeout: float = HUB_PROBE_SECONDS) -> HubReach:
    """Whether the hub can be reached now: offline when HF_HUB_OFFLINE says so, else one HEAD
    request to the endpoint that must answer (any HTTP status) within ``timeout`` seconds.

    Name resolution and the connection run in a daemon thread that is abandoned at the
    deadline, so a machine without network (or with a hanging DNS) answers in ``timeout``.
    """
    import threading
    import urllib.error
    import urllib.request

    if offline():
        return HubReach(True, "HF_HUB_OFFLINE is set")
    url = endpoint()
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            req = urllib.request.Request(url + "/", method="HEAD")
            with urllib.request.urlopen(req, timeout=timeout):
                pass
            outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # it answered: the hub is reachable
        except Exception as exc:  # URLError, timeout, refused, bad URL: not reachable
            why = getattr(exc, "reason", exc)
            outcome.append("" if isinstance(why, TimeoutError) else str(why) or repr(why))

    started = time.monotonic()
    thread = threading.Thread(target=attempt, name="vidsum-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome or outcome[0] == "":
        return HubReach(True, f"{url} did not answer within {timeout:g} s")
    if outcome[0] is not None:
        return HubReach(True, f"{url} cannot be reached ({outcome[0]})")
    return HubReach(False, f"{url} answered in {time.monotonic() - started:.2f} s")


def hub_cache_dir() -> Path:
    """The hub cache: ``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else huggingface_hub's default."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def stall_timeout_default() -> float:
    raw = os.environ.get(STALL_ENV)
    if not raw:
        return DEFAULT_STALL_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise DownloadError(f"{STALL_ENV}={raw!r} is not a positive number of seconds.")
    return value


# --- cache layout ----------------------------------------------------------------------------


def _hub_entry(model_id: str) -> CatalogEntry:
    entry = get_entry(model_id)
    if entry.source != "hub" or not entry.repo or not entry.file:
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
    if entry.source != "hub":
        from engine.modelstore.catalog import installed_path

        return installed_path(entry)
    from huggingface_hub import try_to_load_from_cache

    assert entry.repo is not None and entry.file is not None
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


# --- metadata ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteFile:
    url: str  # where the bytes are (the CDN location after the hub's redirect)
    same_origin: bool  # send the token only to the hub itself
    commit: str
    etag: str
    size: int
    sha256: str


def _page_url(entry: CatalogEntry) -> str:
    return f"{endpoint()}/{entry.repo}"


def _http_error(
    status: int,
    entry: CatalogEntry,
    *,
    error_code: str | None = None,
    kept: int = 0,
    what: str = "",
) -> DownloadError:
    where = f"{entry.repo}/{entry.file}" + (f" ({what})" if what else "")
    keep = f" {kept:,} bytes already downloaded are kept for resume." if kept else ""
    if error_code == "GatedRepo" or status in (401, 403):
        if error_code == "GatedRepo":
            why = f"{entry.repo} is a gated model"
        elif status == 401:
            why = "the hub refused the request as unauthorized (no valid token, or private/gated)"
        else:
            why = "the hub refused access with this token"
        return HubAccessDenied(
            f"Cannot download {entry.id}: {why} (HTTP {status}) for {where}. Accept the model's "
            f"licence on {_page_url(entry)} while logged in, then set HF_TOKEN to an access token "
            f"of that account.{keep}"
        )
    if status == 404:
        kind = {
            "RepoNotFound": "repository",
            "RevisionNotFound": "revision",
            "EntryNotFound": "file",
        }.get(error_code or "", "repository or file")
        return HubNotFound(
            f"Cannot download {entry.id}: the {kind} was not found on the hub (HTTP 404) for "
            f"{where} at revision {entry.revision}. The catalog may be out of date; check "
            f"{_page_url(entry)}.{keep}"
        )
    if status == 429:
        return HubServerError(
            f"Cannot download {entry.id}: the hub is rate-limiting requests (HTTP 429). Wait a few "
            f"minutes and run `vidsum models pull {entry.id}` again.{keep}"
        )
    if status >= 500:
        return HubServerError(
            f"Cannot download {entry.id}: the hub answered HTTP {status} (server error) for "
            f"{where}. Try again later with `vidsum models pull {entry.id}`.{keep}"
        )
    return HubServerError(
        f"Cannot download {entry.id}: unexpected HTTP {status} for {where}.{keep}"
    )


def _unreachable(entry: CatalogEntry, reason: str) -> HubUnreachable:
    kept = partial_bytes(entry.id)
    keep = f" {kept:,} bytes already downloaded are kept and will resume." if kept else ""
    return HubUnreachable(
        f"Cannot reach the hub at {endpoint()} ({reason}) and {entry.id} is not in the Hugging "
        f"Face cache ({hub_cache_dir()}). Check the connection (and HF_ENDPOINT), then run "
        f"`vidsum models pull {entry.id}` again.{keep}"
    )


def _remote_file(entry: CatalogEntry, timeout: float) -> RemoteFile:
    """HEAD /resolve (commit, etag, size, location) + paths-info (LFS sha256)."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata
    from huggingface_hub.errors import (
        FileMetadataError,
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
    )
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    assert entry.repo is not None and entry.file is not None
    ep = endpoint()
    # Built here, not with hf_hub_url(): its template is fixed when huggingface_hub is imported.
    rev = quote(entry.revision or "main", safe="")
    url = f"{ep}/{entry.repo}/resolve/{rev}/{quote(entry.file)}"
    try:
        meta = get_hf_file_metadata(url, timeout=timeout, endpoint=ep)
        if not meta.commit_hash or not meta.etag:
            raise FileMetadataError("missing X-Repo-Commit or ETag")
        resp = get_session().post(
            f"{ep}/api/models/{entry.repo}/paths-info/{meta.commit_hash}",
            data={"paths": [entry.file], "expand": False},
            headers=build_hf_headers(),
            timeout=timeout,
        )
        hf_raise_for_status(resp)
        infos = resp.json()
    except GatedRepoError as exc:
        raise _http_error(exc.response.status_code, entry, error_code="GatedRepo") from exc
    except HfHubHTTPError as exc:
        code = exc.response.headers.get("X-Error-Code")
        raise _http_error(
            exc.response.status_code, entry, error_code=code, kept=partial_bytes(entry.id)
        ) from exc
    except FileMetadataError as exc:
        raise HubServerError(
            f"Cannot download {entry.id}: {ep} did not answer like a Hugging Face Hub ({exc}). "
            "Check HF_ENDPOINT and any proxy."
        ) from exc
    except OfflineModeIsEnabled as exc:
        raise _unreachable(entry, "offline mode is enabled") from exc
    except httpx2.TimeoutException as exc:
        raise _unreachable(entry, f"no answer within {timeout:.0f} s") from exc
    except httpx2.TransportError as exc:
        raise _unreachable(entry, f"{type(exc).__name__}: {exc}") from exc

    lfs_sha = None
    for info in infos if isinstance(infos, list) else []:
        if info.get("path") == entry.file and isinstance(info.get("lfs"), dict):
            lfs_sha = info["lfs"].get("oid")
    etag = meta.etag
    sha = lfs_sha or (etag if _SHA256_RE.match(etag) else None)
    if not sha or not _SHA256_RE.match(sha):
        raise DownloadError(
            f"Cannot download {entry.id}: the hub gives no LFS sha256 for {entry.file}, so the "
            "file could not be verified; refusing to download it."
        )
    if meta.size is None:
        raise HubServerError(
            f"Cannot download {entry.id}: the hub did not say how large {entry.file} is."
        )
    same = urlsplit(meta.location)[:2] == urlsplit(ep)[:2]
    return RemoteFile(
        url=meta.location,
        same_origin=same,
        commit=meta.commit_hash,
        etag=etag,
        size=int(meta.size),
        sha256=sha,
    )


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


def _check_disk(directory: Path, needed: int, entry: CatalogEntry, kept: int) -> None:
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


def _transfer(
    entry: CatalogEntry,
    remote: RemoteFile,
    partial: Path,
    digest: Any,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    stall: float,
) -> Any:
    """Append the missing bytes to ``partial``; return the digest of the whole file."""
    import httpx2
    from huggingface_hub.utils import build_hf_headers, get_session

    have = partial.stat().st_size if partial.exists() else 0
    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"
    if not remote.same_origin:  # signed CDN URL: the token stays with the hub
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    if have:
        headers["Range"] = f"bytes={have}-"
    timeout = httpx2.Timeout(stall, connect=min(stall, CONNECT_TIMEOUT))
    done = have
    try:
        with get_session().stream("GET", remote.url, headers=headers, timeout=timeout) as resp:
            status = resp.status_code
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
                    have = done = 0
                    digest = hashlib.sha256()
            elif status == 416 and have == remote.size:
                return digest  # everything was already there
            else:
                raise _http_error(
                    status,
                    entry,
                    error_code=resp.headers.get("X-Error-Code"),
                    kept=have,
                    what="download",
                )
            rate = _Rate()
            t_last = 0.0
            synced = have
            with partial.open("ab") as f:
                for chunk in resp.iter_bytes():
                    if cancel is not None and cancel.cancelled:
                        f.flush()
                        raise Cancelled(
                            f"Download of {entry.id} cancelled; {done:,} of {remote.size:,} bytes "
                            f"are kept: run `vidsum models pull {entry.id}` to resume."
                        )
                    f.write(chunk)
                    f.flush()  # every byte handed to the OS survives a kill -9
                    digest.update(chunk)
                    done += len(chunk)
                    if done > remote.size:
                        raise HubServerError(
                            f"Cannot download {entry.id}: the server sent more than the "
                            f"{remote.size:,} bytes the hub announced."
                        )
                    if done - synced >= _FSYNC_EVERY:
                        os.fsync(f.fileno())
                        synced = done
                    now = time.monotonic()
                    if now - t_last >= 0.1 or done == remote.size:
                        t_last = now
                        emit(
                            progress,
                            Progress(
                                "download",
                                done,
                                remote.size,
                                rate=rate.add(now, done),
                                unit="B",
                                item=entry.id,
                                extra={"resumed_from": have, "fetched": done - have},
                            ),
                        )
    except httpx2.TimeoutException as exc:
        raise DownloadStalled(
            f"The download of {entry.id} stalled: no data for {stall:.0f} s. {done:,} of "
            f"{remote.size:,} bytes are kept; run `vidsum models pull {entry.id}` to resume."
        ) from exc
    except httpx2.TransportError as exc:
        raise DownloadInterrupted(
            f"The connection dropped while downloading {entry.id} ({type(exc).__name__}). "
            f"{done:,} of {remote.size:,} bytes are kept; run `vidsum models pull {entry.id}` "
            "to resume."
        ) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NotEnoughDiskSpace(
                f"The disk filled up while downloading {entry.id} into {partial.parent}. "
                f"{partial.stat().st_size:,} bytes are kept; free some space and run "
                f"`vidsum models pull {entry.id}` to resume."
            ) from exc
        raise
    if done != remote.size:
        raise DownloadInterrupted(
            f"The download of {entry.id} ended early: {done:,} of {remote.size:,} bytes. They are "
            f"kept; run `vidsum models pull {entry.id}` to resume."
        )
    return digest


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


def _finish(entry: CatalogEntry, remote: RemoteFile, blob: Path, sha: str) -> Path:
    storage = _storage(entry)
    assert entry.file is not None
    pointer = _link(blob, storage / "snapshots" / remote.commit / entry.file)
    rev = entry.revision or "main"
    if rev != remote.commit:
        atomic_write_text(storage / "refs" / rev, remote.commit)
    _record_verified(pointer, sha, entry.id)
    return pointer


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
            return _finish(entry, remote, blob, sha)
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
    _check_disk(blob.parent, remote.size - have, entry, have)
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
    digest = _transfer(entry, remote, partial, digest, progress, cancel, stall)
    sha = digest.hexdigest()
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
    path = _finish(entry, remote, blob, sha)
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
    """Download (or resume) a catalog model into the HF cache, verified; return its path.

    Drops and stalls are retried ``retries`` times, resuming each time. Offline
    (``HF_HUB_OFFLINE=1`` or no connection) a cached, verified copy is used; without one the
    error says so.
    """
    entry = get_entry(model_id)
    if entry.source == "pypi":
        from engine.modelstore.default_model import ensure_default_model

        return ensure_default_model(progress=progress, cancel=cancel)
    entry = _hub_entry(entry.id)
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


def rm(model_id: str) -> list[Path]:
    """Delete a model's cached file(s) and any partial download; return what was removed.

    A local model is only forgotten (its file is the user's); the offline default's assembled
    copy is deleted (it is re-assembled from the package when needed).
    """
    entry = get_entry(model_id)
    if entry.source == "local":
        from engine.modelstore.catalog import remove_local

        remove_local(entry.id)
        return []
    if entry.source == "pypi":
        from engine.modelstore.default_model import default_model_path

        target = default_model_path()
        if not target.exists():
            raise ModelNotFound(f"{entry.id} is not assembled; nothing to remove.")
        target.unlink()
        return [target]
    entry = _hub_entry(entry.id)
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
