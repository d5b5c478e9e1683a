"""Named server endpoints (``vidsum servers add NAME --url URL ...``).

Stored in ``<config>/servers.json`` (written atomically, read through
``engine.fsutil.read_json_object`` like every state file). API keys are never stored: a profile
names the environment variable that holds its key (``--api-key-env``); a URL with a password in
it is refused at ``add`` and stripped when read (``engine.urls``). The ``ServerProfile``
value type lives in ``engine.runtime.base`` (the pipeline sees it).

May import: ``engine.runtime.base``, ``engine.runtime.server.dialects`` and the ground floor.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.fsutil import atomic_write_text, read_json_object, state_error
from engine.paths import get_paths
from engine.runtime.base import DIALECTS, ServerError, ServerProfile
from engine.runtime.server.dialects import as_dialect
from engine.urls import check_server_url, without_userinfo

__all__ = [
    "ServerProfile",
    "add_profile",
    "get_profile",
    "load_profiles",
    "remove_profile",
    "servers_file",
]

WHAT = "server list"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def servers_file() -> Path:
    return get_paths().config / "servers.json"


def load_profiles() -> dict[str, ServerProfile]:
    """The stored profiles, read as every state file is (``engine.fsutil.read_json_object``).
    A URL is not validated here (``servers check`` reports a bad one per profile), but any
    credentials in it (a file from before they were refused) are dropped on the way in."""
    path = servers_file()
    data = read_json_object(path, WHAT)
    items = data.get("servers", [])
    if not isinstance(items, list):
        raise state_error(path, WHAT, 'must hold a "servers" list')
    out: dict[str, ServerProfile] = {}
    stripped = False
    for n, item in enumerate(items, 1):
        try:
            p = _profile(item)
        except (ValueError, KeyError, TypeError, ServerError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).rstrip(".")
            raise state_error(path, WHAT, f"has a bad server (entry {n}: {detail})") from None
        out[p.name] = p
        stripped = stripped or p.url != item.get("url")
    if stripped:
        with contextlib.suppress(OSError):  # a read-only config dir: still stripped when read
            _save(out)  # the password leaves the file too
    return out


def _profile(item: Any) -> ServerProfile:
    if not isinstance(item, dict):
        raise TypeError("not a JSON object")
    conc = item.get("concurrency")
    return ServerProfile(
        name=str(item["name"]),
        url=without_userinfo(str(item["url"])),
        dialect=as_dialect(item.get("dialect")),
        model=item.get("model"),
        api_key_env=item.get("api_key_env"),
        concurrency=int(conc) if conc is not None else None,
    )


def _save(profiles: dict[str, ServerProfile]) -> None:
    data = {"servers": [asdict(p) for p in profiles.values()]}
    atomic_write_text(servers_file(), json.dumps(data, indent=2) + "\n")


def add_profile(profile: ServerProfile, *, replace: bool = False) -> ServerProfile:
    if not _NAME.match(profile.name):
        raise ConfigError(
            f"{profile.name!r} is not a usable server name (letters, digits, '.', '_', '-')."
        )
    check_server_url(profile.name, profile.url)
    if profile.dialect is not None and profile.dialect not in DIALECTS:
        raise ConfigError(f"Server {profile.name}: unknown dialect {profile.dialect!r}.")
    if profile.concurrency is not None and profile.concurrency < 1:
        raise ConfigError(f"Server {profile.name}: --concurrency must be at least 1.")
    profiles = load_profiles()
    if profile.name in profiles and not replace:
        raise ConfigError(
            f"A server named {profile.name} already exists; remove it first "
            f"(vidsum servers rm {profile.name})."
        )
    profiles[profile.name] = profile
    _save(profiles)
    return profile


def remove_profile(name: str) -> None:
    profiles = load_profiles()
    if name not in profiles:
        raise ConfigError(f"There is no server named {name} (see vidsum servers list).")
    del profiles[name]
    _save(profiles)


def get_profile(name: str) -> ServerProfile:
    profiles = load_profiles()
    if name not in profiles:
        known = ", ".join(profiles) or "none yet: vidsum servers add NAME --url URL"
        raise ConfigError(f"There is no server named {name} (known: {known}).")
    return profiles[name]
