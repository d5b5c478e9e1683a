"""Which dialect an endpoint speaks: detection (``/props``, ``/version``, ``/v1/models``),
``connect`` (the ``ServerInfo`` the endpoint reports, read by its dialect's class in
``engine.runtime.server.dialect_classes``), profile dialect names and API keys from the
environment.

May import: ``engine.runtime.base``, ``engine.runtime.server.client`` (the HTTP client),
``engine.runtime.server.dialect_classes`` and the ground floor.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, cast

from engine.progress import CancelToken, ProgressCallback
from engine.runtime.base import (
    DIALECTS,
    Dialect,
    ServerError,
    ServerInfo,
    ServerRejected,
    ServerUnavailable,
)
from engine.runtime.server.client import Client
from engine.runtime.server.dialect_classes import (
    DIALECT_CLASSES,
    LlamaCppPython,
    LlamaServer,
    OpenAISchema,
    Vllm,
)

__all__ = ["DIALECTS", "Dialect", "api_key_from_env", "as_dialect", "connect", "detect"]


def api_key_from_env(name: str, var: str | None) -> str | None:
    """The API key named by the profile's ``--api-key-env`` (keys are never stored)."""
    if not var:
        return None
    key = os.environ.get(var)
    if not key:
        raise ServerError(
            f"Server {name} takes its API key from the environment variable {var}, "
            "which is not set."
        )
    return key


def detect(
    client: Client, cancel: CancelToken | None = None, progress: ProgressCallback | None = None
) -> tuple[Dialect, dict[str, Any]]:
    """The server's dialect and what it said about itself (``/props`` or ``/v1/models``). An
    over-large answer is an error, never a reason to take the server for another dialect."""
    try:
        props = client.json("GET", "/props", cancel=cancel, attempts=2, progress=progress)
    except ServerRejected:  # a 4xx: no /props here (ResponseTooLarge is not one)
        props = None
    if isinstance(props, dict) and ("total_slots" in props or "model_path" in props):
        return LlamaServer.name, props
    models = client.json("GET", "/v1/models", cancel=cancel, progress=progress)
    try:
        version = client.json("GET", "/version", cancel=cancel, attempts=1)
    except (ServerRejected, ServerUnavailable):
        version = None
    data = models.get("data") if isinstance(models, dict) else None
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    owner = first.get("owned_by")
    if owner in Vllm.owned_by or (isinstance(version, dict) and "version" in version):
        return Vllm.name, {"models": models, "version": version}
    if owner in LlamaCppPython.owned_by:
        return LlamaCppPython.name, {"models": models}
    return OpenAISchema.name, {"models": models}


def connect(
    name: str,
    url: str,
    *,
    dialect: Dialect | None = None,
    model: str | None = None,
    api_key: str | None = None,
    concurrency: int | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> ServerInfo:
    """Ask the endpoint what it is (raises ``ServerUnavailable`` when it does not answer). A
    dialect set in the profile labels the endpoint; what it said is read by the dialect that
    said it when that one describes itself (``/props``)."""
    client = Client(name, url, api_key)
    found, said = detect(client, cancel, progress)
    speaker = DIALECT_CLASSES[found]
    kind = DIALECT_CLASSES[dialect or found]
    if kind.props_path and not speaker.props_path:
        raise ServerError(
            f"Server {name} ({url}) was set up as a {kind.name} but has no {kind.name} "
            f"{kind.props_path}."
        )
    reader = speaker if speaker.props_path else kind
    info = reader.describe(client, said, model=model, concurrency=concurrency, cancel=cancel)
    return replace(info, dialect=kind.name, schema_only=kind.grammar_field is None)


def as_dialect(value: str | None) -> Dialect | None:
    if value is None:
        return None
    if value not in DIALECTS:
        raise ServerError(f"{value!r} is not a server dialect; use one of: {', '.join(DIALECTS)}.")
    return cast(Dialect, value)
