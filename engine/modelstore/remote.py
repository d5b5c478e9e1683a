"""What the hub says about a file before it is fetched: HEAD on ``/resolve`` (commit, etag,
size, CDN location) plus ``paths-info`` (the LFS sha256), and HTTP failures in words.

May import: ``engine.modelstore.catalog`` / ``hub`` / ``hubcache`` and the ground floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from engine.errors import DownloadError
from engine.modelstore.catalog import CatalogEntry
from engine.modelstore.hub import (
    HubAccessDenied,
    HubNotFound,
    HubServerError,
    HubUnreachable,
    endpoint,
    hub_cache_dir,
)
from engine.modelstore.hubcache import _SHA256_RE, partial_bytes


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

    return _remote_from(entry, meta, infos, ep)


def _remote_from(entry: CatalogEntry, meta: Any, infos: Any, ep: str) -> RemoteFile:
    """The file's facts from the HEAD metadata and paths-info; no sha256 or size: refused."""
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
