"""User settings: ``settings.json`` in the config dir, one typed object.

Every field is optional; a missing file means all defaults. The file is rewritten atomically.
A file that cannot be read, is not UTF-8 JSON, holds an unknown key (a typo) or a value of the
wrong type is an error that names the file and the key, never silently ignored or replaced.

Fields (``vidsum summarize`` flags win over these; these win over vidsum's own defaults):

- ``default_model``: model id used when ``--model`` is not given (``vidsum models use ID``;
  set and checked through ``engine.modelstore.manager.set_default_model``).
- ``removed_default``: the default model that was just removed (``vidsum models rm``, the TUI's
  Models screen); the next summarize without ``--model`` says what it uses instead, then
  forgets it. Written by vidsum, not by hand.
- ``export_dir``: folder the TUI's export dialog offers first.
- ``n_ctx``: context size in tokens (``--ctx``); absent: sized to the transcripts.
- ``gpu_layers``: layers offloaded to the GPU (``--gpu-layers``; -1 all); absent: fit plan.
- ``threads``: CPU threads (``--threads``); absent: the physical cores free at model load.
- ``seed``: sampling seed (``--seed``).
- ``temperature``: sampling temperature (``--temperature``).
- ``server_stall_timeout``: seconds an inference server may send nothing once its answer has
  begun before it is given up as stalled (default 60: ``engine.runtime.server.client``).
- ``server_retry_wait``: seconds in all vidsum waits on a server that answers 429/503 with
  ``Retry-After`` (a llama-server still loading its model) before giving up (default 120).

A leaf: imports only the ground floor (never ``engine.modelstore``), so every layer may read it.
There are no environment overrides (``VIDSUM_HOME`` moves the whole config dir:
``engine.paths``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import ConfigError
from engine.fsutil import atomic_write_text, read_json_object, state_error
from engine.paths import get_paths

WHAT = "settings file"


class Settings(BaseModel):
    """The contents of ``settings.json`` (every field optional)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    default_model: str | None = Field(
        default=None, min_length=1, description="model id used when --model is not given"
    )
    export_dir: str | None = Field(
        default=None, min_length=1, description="folder the TUI's export dialog offers first"
    )
    n_ctx: int | None = Field(default=None, ge=256, le=1 << 20, description="context tokens")
    gpu_layers: int | None = Field(default=None, ge=-1, description="GPU layers (-1: all)")
    threads: int | None = Field(default=None, ge=1, le=1024, description="CPU threads")
    seed: int | None = Field(default=None, ge=0, lt=1 << 32, description="sampling seed")
    temperature: float | None = Field(
        default=None, ge=0.0, le=5.0, description="sampling temperature"
    )
    removed_default: str | None = Field(
        default=None,
        min_length=1,
        description="the default model just removed; the next summarize says what replaces it",
    )
    server_stall_timeout: float | None = Field(
        default=None, gt=0, le=3600, description="seconds a server may go silent mid-answer"
    )
    server_retry_wait: float | None = Field(
        default=None, ge=0, le=3600, description="seconds in all to wait on a server's Retry-After"
    )

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True), indent=2, sort_keys=True) + "\n"


def settings_path() -> Path:
    return get_paths().settings_file


def _validation_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        known = ", ".join(Settings.model_fields)
        return f"an unknown key {key!r} (known keys: {known})"
    return f"a bad value for {key!r} ({err['msg'].rstrip('.')}; got {err.get('input')!r})"


def get_settings() -> Settings:
    """The typed settings (defaults when the file does not exist); raises ``ConfigError``."""
    path = settings_path()
    data = read_json_object(path, WHAT)
    # JSON has no int/float distinction for whole numbers: 1 is a fine temperature.
    for key in ("temperature", "server_stall_timeout", "server_retry_wait"):
        if isinstance(data.get(key), int) and not isinstance(data[key], bool):
            data[key] = float(data[key])
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise state_error(path, WHAT, "has " + _validation_problem(exc)) from exc


def save_settings(settings: Settings) -> None:
    atomic_write_text(settings_path(), settings.to_json())


def update_settings(**changes: Any) -> Settings:
    """Set fields (``None`` clears one) and write the file; the result is validated first."""
    current = get_settings().model_dump()
    current.update(changes)
    try:
        new = Settings.model_validate(current)
    except ValidationError as exc:
        raise ConfigError(
            f"Cannot save {settings_path()}: the change gives {_validation_problem(exc)}."
        ) from exc
    save_settings(new)
    return new


def get_default_model() -> str | None:
    return get_settings().default_model


def get_export_dir() -> Path | None:
    """The folder the export dialog offers first (None: not set)."""
    value = get_settings().export_dir
    return Path(value).expanduser() if value else None


def set_export_dir(path: Path | None) -> None:
    """Remember ``path`` as the export folder (``None`` clears it)."""
    update_settings(export_dir=str(Path(path).expanduser()) if path is not None else None)
