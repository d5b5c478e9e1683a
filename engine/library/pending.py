"""Pending summaries: generated entries that could not be stored (a full disk, a read-only or
busy library) wait as JSON files until ``Library.store_pending`` stores them.

May import: ``engine.library.records``, ``engine.fsutil``, ``engine.paths``, ``engine.schema``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.errors import LibraryError
from engine.fsutil import atomic_write_text, read_json_object, state_error
from engine.library.records import Coverage, NewEntry, Provenance, TranscriptInfo
from engine.paths import get_paths
from engine.schema import Grounding, Summary

PENDING_DIR = "pending"  # beside the library: generated summaries that could not be stored


def pending_dirs(library: Path) -> list[Path]:
    """Where summaries that could not be stored wait: beside the library first, else (that
    disk may be the full one) in vidsum's cache, in a folder of this library's own."""
    tag = hashlib.sha256(str(library.resolve()).encode("utf-8")).hexdigest()[:12]
    return [library.parent / PENDING_DIR, get_paths().cache / PENDING_DIR / tag]


def write_pending(folders: Iterable[Path], entry: NewEntry, *, replace: bool) -> Path:
    """Write ``entry`` (atomic) into the first of ``folders`` that takes it; returns its path.
    Raises ``LibraryError`` when none does."""
    text = (
        json.dumps(new_entry_to_json(entry, replace=replace), ensure_ascii=False, indent=1) + "\n"
    )
    problems: list[str] = []
    for folder in folders:
        target = folder / f"{entry.dedupe_key}.json"
        try:
            atomic_write_text(target, text)
            return target
        except OSError as exc:
            problems.append(f"{folder}: {exc.strerror or exc}")
    raise LibraryError(
        f"The summary of {entry.transcript.source_path} could not be kept anywhere ("
        + "; ".join(problems)
        + ")."
    )


def read_pending(path: Path) -> tuple[NewEntry, bool]:
    """The entry in a pending file and whether it replaces the stored one; ``ConfigError``
    naming the file when it cannot be read or is not a complete entry."""
    data = read_json_object(path, "pending summary")
    try:
        entry = new_entry_from_json(data)
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise state_error(
            path, "pending summary", f"is not a complete summary entry ({exc})"
        ) from exc
    return entry, bool(data.get("replace"))


def new_entry_to_json(entry: NewEntry, *, replace: bool = False) -> dict[str, Any]:
    """A generated entry as JSON (the pending file); :func:`new_entry_from_json` reverses it."""
    out: dict[str, Any] = {"replace": replace}
    for f in fields(entry):
        value = getattr(entry, f.name)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        elif hasattr(value, "__dataclass_fields__"):
            value = asdict(value)
        out[f.name] = value
    return out


_ENTRY_PARTS: dict[str, Callable[..., Any]] = {
    "transcript": TranscriptInfo,
    "provenance": Provenance,
    "coverage": Coverage,
    "grounding": Grounding,
}


def new_entry_from_json(data: dict[str, Any]) -> NewEntry:
    values: dict[str, Any] = {}
    for f in fields(NewEntry):
        if f.name not in data and f.default is not MISSING:
            continue  # kept by an older vidsum: the field's default
        value = data[f.name]
        if f.name == "summary":
            value = Summary.model_validate(value)
        elif f.name in _ENTRY_PARTS and value is not None:
            value = _ENTRY_PARTS[f.name](**value)
        values[f.name] = value
    return NewEntry(**values)
