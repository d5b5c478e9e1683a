"""Inference-server URLs: the one check of a URL a user names (``vidsum servers add``) and the
one way a URL loses its credentials before it is kept or shown.

A password in a URL (``http://user:pw@host``) would end up in ``servers.json``, the library's
provenance, every message and every export; vidsum never uses it (keys come from the
environment: ``--api-key-env``), so it is refused when given and stripped wherever an old file
could still hold one. A leaf of the ground floor: imports ``engine.errors`` only.
"""

from __future__ import annotations

import re
import urllib.parse

from engine.errors import ConfigError

__all__ = ["check_server_url", "without_userinfo"]

_SPACE = re.compile(r"\s")


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` removed (unchanged when it has none)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, tail = rest.partition("/")
    if "@" not in authority:
        return url
    host = authority.rpartition("@")[2]
    return f"{scheme}{sep}{host}{slash}{tail}"


def check_server_url(name: str, url: str) -> str:
    """The URL of server ``name`` if it is usable (http or https, a host, a numeric port in
    1-65535, no spaces, balanced brackets, no credentials), else ``ConfigError`` saying what is
    wrong. The message shows the URL without its credentials."""
    shown = without_userinfo(url)
    where = f"Server {name}: {shown!r}"
    if _SPACE.search(url):
        raise ConfigError(f"{where} contains a space; a server URL has none.")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError as exc:
        raise ConfigError(f"{where} is not a valid URL ({_reason(exc)}).") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"{where} is not an http(s) URL (e.g. http://127.0.0.1:8080).")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigError(
            f"Server {name}: the URL carries a user name or password, which vidsum never "
            f"stores; give {shown!r} and put an API key in an environment variable named with "
            "--api-key-env VAR."
        )
    if not parts.hostname:
        raise ConfigError(f"{where} names no host (e.g. http://127.0.0.1:8080).")
    if port == 0:
        raise ConfigError(f"{where} has no usable port (1-65535).")
    return url


def _reason(exc: ValueError) -> str:
    text = str(exc)
    if "out of range" in text:
        return "its port is not in 1-65535"
    if "invalid literal" in text or "Port could not be cast" in text:
        return "its port is not a number"
    if "IPv6" in text:
        return "its brackets do not match"
    return text.rstrip(".")
