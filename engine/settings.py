"""User settings (``settings.json`` in the config dir): today only the default model.

The file is small JSON, rewritten atomically; a file that cannot be parsed is an error that
names it, never silently replaced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.fsutil import atomic_write_text
from engine.paths import get_paths


def settings_path() -> Path:
    return get_paths().settings_file


def load_settings() -> dict[str, Any]:
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the settings file ({exc.strerror}).") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: the settings file is not valid JSON (line {exc.lineno}); fix or delete it."
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the settings file must hold a JSON object; fix or delete it.")
    return data


def save_settings(data: dict[str, Any]) -> None:
    atomic_write_text(settings_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def get_default_model() -> str | None:
    value = load_settings().get("default_model")
    return value if isinstance(value, str) and value else None


def set_default_model(model_id: str | None) -> None:
    """Make ``model_id`` the default (``None`` clears it). Unknown ids raise ``ModelNotFound``."""
    data = load_settings()
    if model_id is None:
        data.pop("default_model", None)
    else:
        from engine.catalog import get_entry

        data["default_model"] = get_entry(model_id).id  # canonical spelling
    save_settings(data)


def get_export_dir() -> Path | None:
    """The folder the TUI last exported to (``None``: not chosen yet)."""
    value = load_settings().get("export_dir")
    return Path(value) if isinstance(value, str) and value else None


def set_export_dir(path: Path | None) -> None:
    """Remember the export folder (``None`` forgets it)."""
    data = load_settings()
    if path is None:
        data.pop("export_dir", None)
    else:
        data["export_dir"] = str(Path(path).expanduser())
    save_settings(data)
