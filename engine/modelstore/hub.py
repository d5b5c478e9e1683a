"""The Hugging Face Hub as vidsum sees it: the download errors, the environment (offline mode,
endpoint, cache dir, stall timeout; read at call time, not at import like
``huggingface_hub.constants``) and a quick reachability probe.

May import: the ground floor and huggingface_hub.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DownloadError

STALL_ENV = "VIDSUM_DOWNLOAD_STALL_TIMEOUT"
DEFAULT_STALL_TIMEOUT = 60.0  # seconds without a byte before a download counts as stalled


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


@dataclass(frozen=True)
class HubStatus:
    """What `vidsum doctor` says about the hub."""

    endpoint: str
    offline: bool  # downloads cannot work now
    offline_reason: str
    token: str  # "set (HF_TOKEN)", "saved login", "not set"
    cache_dir: Path


def _token_state() -> str:
    if os.environ.get("HF_TOKEN"):
        return "set (HF_TOKEN)"
    from huggingface_hub import constants

    return "saved login" if Path(constants.HF_TOKEN_PATH).is_file() else "not set"


def hub_status() -> HubStatus:
    reach = probe_hub()
    return HubStatus(endpoint(), reach.offline, reach.reason, _token_state(), hub_cache_dir())
