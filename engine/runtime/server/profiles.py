"""Named server endpoints (``vidsum servers add NAME --url URL ...``).

Stored in ``<config>/servers.json`` (written atomically). API keys are never stored: a profile
names the environment variable that holds its key (``--api-key-env``). The ``ServerProfile``
value type lives in ``engine.runtime.base`` (the pipeline sees it).

May import: ``engine.runtime.base``, ``engine.runtime.server.dialects`` and the ground floor.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.fsutil import atomic_write_text
from engine.paths import get_paths
from engine.runtime.base import DIALECTS, ServerProfile
from engine.runtime.server.dialects import as_dialect

__all__ = [
    "ServerProfile",
    "add_profile",
    "get_profile",
    "load_profiles",
    "remove_profile",
    "servers_file",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def servers_file() -> Path:
    return get_paths().config / "servers.json"


def load_profiles() -> dict[str, ServerProfile]:
    path = servers_file()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: the server list could not be read ({exc}).") from None
    try:
        data = json.loads(raw)
        items = data["servers"]
        out: dict[str, ServerProfile] = {}
        for item in items:
            p = _profile(item)
            out[p.name] = p
        return out
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: the server list is not valid ({exc}); fix or delete the file."
        ) from None


def _profile(item: dict[str, Any]) -> ServerProfile:
    conc = item.get("concurrency")
    return ServerProfile(
        name=str(item["name"]),
        url=str(item["url"]),
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
    if not profile.url.startswith(("http://", "https://")):
        raise ConfigError(f"Server {profile.name}: {profile.url!r} is not an http(s) URL.")
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
