"""What an endpoint is: dialect detection (``/props``, ``/version``, ``/v1/models``), the
``ServerInfo`` it reports, profile dialect names and API keys from the environment.

llama-cpp-python's server (``python -m llama_cpp.server``) says little about itself: ``/v1/models``
lists the model id (by default the GGUF path), nothing reports the context, the chat template
or the build. The context is read from the error it gives for a prompt that cannot fit
(``_lcp_context``); the chat template from the GGUF header when the id is a file readable here
(a server on this machine or a shared disk), else prompts are plain text. Its text prompts get
the model's BOS from the server itself, so the rendered prompt carries none (``bos_text`` "":
the same token ids as the local worker's). It runs one request at a time: one slot, whatever
``--concurrency`` says.

May import: ``engine.runtime.base``, ``engine.runtime.server.client`` (the HTTP client),
``engine.modelfile`` (the GGUF header, for llama-cpp-python's chat template) and the ground floor.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any, cast

from engine.errors import VidsumError
from engine.modelfile.header import check_gguf
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

__all__ = ["DIALECTS", "Dialect", "api_key_from_env", "as_dialect", "connect", "detect"]

# llama-cpp-python's context probe: this many one-token words (" x"), refused before any
# decoding when they do not fit (~0.7 s of tokenizing on 2 cores; the refusal's time grows
# with the count, so not larger). A server whose context holds them all is credited with this.
LCP_CONTEXT_PROBE = 131072
_MAX_CONTEXT = re.compile(r"maximum context length is (\d+) tokens")


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
        return "llama-server", props
    models = client.json("GET", "/v1/models", cancel=cancel, progress=progress)
    try:
        version = client.json("GET", "/version", cancel=cancel, attempts=1)
    except (ServerRejected, ServerUnavailable):
        version = None
    data = models.get("data") if isinstance(models, dict) else None
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    if first.get("owned_by") == "vllm" or (isinstance(version, dict) and "version" in version):
        return "vllm", {"models": models, "version": version}
    if first.get("owned_by") == "llama-cpp-python" or first.get("owned_by") == "me":
        return "llama-cpp-python", {"models": models}
    return "openai-schema", {"models": models}


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
    """Ask the endpoint what it is (raises ``ServerUnavailable`` when it does not answer)."""
    client = Client(name, url, api_key)
    found, said = detect(client, cancel, progress)
    dialect = dialect or found
    if dialect == "llama-server" and found != "llama-server":
        raise ServerError(
            f"Server {name} ({url}) was set up as a llama-server but has no llama-server /props."
        )
    if found == "llama-server":
        props = said
        gen = props.get("default_generation_settings") or {}
        n_ctx = int(gen.get("n_ctx") or props.get("n_ctx") or 0)
        model_path = str(props.get("model_path") or "")
        alias = str(props.get("model_alias") or Path(model_path).name or "")
        return ServerInfo(
            name=name,
            url=url,
            dialect=dialect,
            model=model or alias,
            model_path=model_path,
            n_ctx=n_ctx,
            slots=concurrency or int(props.get("total_slots") or 1),
            build=str(props.get("build_info") or ""),
            chat_template=props.get("chat_template") or None,
            bos_text=str(props.get("bos_token") or ""),
            eos_text=str(props.get("eos_token") or ""),
        )
    models = said.get("models") or {}
    data = models.get("data") if isinstance(models, dict) else None
    entries = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
    chosen = next((d for d in entries if model is None or d.get("id") == model), None)
    if chosen is None:
        names = ", ".join(str(d.get("id")) for d in entries) or "none"
        raise ServerError(
            f"Server {name} ({url}) does not serve the model {model!r} (it serves: {names})."
            if model
            else f"Server {name} ({url}) lists no model at /v1/models."
        )
    if dialect == "llama-cpp-python":
        model_id = str(chosen.get("id"))
        return ServerInfo(
            name=name,
            url=url,
            dialect=dialect,
            model=model_id,
            model_path=model_id,
            n_ctx=_lcp_context(client, model_id, cancel),
            slots=1,
            build="",
            chat_template=_local_chat_template(model_id),
        )
    n_ctx = int(chosen.get("max_model_len") or chosen.get("context_length") or 0)
    version = said.get("version")
    build = str(version.get("version")) if isinstance(version, dict) else ""
    return ServerInfo(
        name=name,
        url=url,
        dialect=dialect,
        model=str(chosen.get("id")),
        model_path=str(chosen.get("root") or chosen.get("id")),
        n_ctx=n_ctx or 4096,
        slots=concurrency or 1,
        build=build,
    )


def _lcp_context(client: Client, model_id: str, cancel: CancelToken | None) -> int:
    """llama-cpp-python's context, from its refusal of a prompt that does not fit (it reports
    the context nowhere else)."""
    body = {"model": model_id, "prompt": " x" * LCP_CONTEXT_PROBE, "max_tokens": 1}
    try:
        client.json("POST", "/v1/completions", body, cancel=cancel, attempts=1)
    except ServerRejected as exc:
        found = _MAX_CONTEXT.search(str(exc))
        if found is None:
            raise
        return int(found.group(1))
    return LCP_CONTEXT_PROBE


def _local_chat_template(model_path: str) -> str | None:
    """The chat template of the served GGUF when that file is readable here, else None."""
    with contextlib.suppress(OSError, ValueError, VidsumError):
        if model_path.endswith(".gguf") and Path(model_path).is_file():
            return check_gguf(model_path).chat_template
    return None


def as_dialect(value: str | None) -> Dialect | None:
    if value is None:
        return None
    if value not in DIALECTS:
        raise ServerError(f"{value!r} is not a server dialect; use one of: {', '.join(DIALECTS)}.")
    return cast(Dialect, value)
