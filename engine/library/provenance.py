"""The provenance of a summary, declared once: what made it (model, prompt, grammar, sampling,
timings, vidsum) and where it ran (the local worker or a server).

``Provenance`` is the one list of its fields. Each field is a ``summaries`` column of the same
name and a key of the JSON export (``vidsum library show --json``); a field whose column or key
needs more says so in its metadata (:class:`Stored`). The writer (``writes``), the reader
(``queries``) and the export (``export``) derive their lists from the declaration through the
three functions below, so a field added here is stored, read back and exported (the library's
round-trip test fails otherwise; the column itself still needs a migration).

May import: ``engine.urls`` and the standard library.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from typing import Any, Protocol

from engine.urls import without_userinfo

LOCAL_BACKEND = "local"  # Provenance.backend of vidsum's own llama.cpp worker


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Stored:
    """How one provenance field differs from the plain case (its column and JSON key are its
    name, and its value is stored and read back as it is)."""

    json_key: str | None = None  # its key in the JSON export, where not the field's name
    store: Callable[[Any], Any] = _same  # value -> column value
    load: Callable[[Any], Any] = _same  # column value -> value


_PLAIN = Stored()
_META = "vidsum.library"  # the metadata key that holds a field's Stored


def _stored(**how: Any) -> dict[str, Stored]:
    """A field's metadata: how it is stored and exported."""
    return {_META: Stored(**how)}


def _sampling_to_column(sampling: dict[str, Any]) -> str:
    return json.dumps(sampling, sort_keys=True)


def _sampling_from_column(text: str) -> Any:
    """The stored sampling record without a password its ``backend`` URL may hold (stored by a
    vidsum from before URLs with credentials were refused: ``engine.urls``)."""
    sampling = json.loads(text)
    backend = sampling.get("backend") if isinstance(sampling, dict) else None
    if isinstance(backend, dict) and isinstance(backend.get("url"), str):
        sampling = {**sampling, "backend": {**backend, "url": without_userinfo(backend["url"])}}
    return sampling


def _url_from_column(url: str | None) -> str | None:
    """A stored endpoint URL without credentials (an old row may hold some); "" reads as None."""
    return without_userinfo(url) if url else None


@dataclass(frozen=True)
class Provenance:
    model_id: str = field(metadata=_stored(json_key="model"))
    model_path: str
    model_sha256: str
    quant: str | None
    prompt_version: str
    grammar_version: str
    # A JSON object; a server summary's keeps a "backend" object (engine.batch.servers) that
    # migration 5 reads and scripts may read.
    sampling: dict[str, Any] = field(
        metadata=_stored(store=_sampling_to_column, load=_sampling_from_column)
    )
    n_ctx: int
    prompt_tokens: int
    prompt_seconds: float
    generated_tokens: int
    generation_seconds: float
    vidsum_version: str
    style: str = "abstractive"  # "abstractive" | "quotes" (engine.pipeline.quotes.summary)
    # Where it ran: LOCAL_BACKEND (vidsum's own llama.cpp worker) or a server dialect
    # (engine.runtime.base.DIALECTS), with the endpoint profile's name, its URL and the build
    # the server reported (None where unknown or local).
    backend: str = LOCAL_BACKEND
    endpoint: str | None = None
    endpoint_url: str | None = field(default=None, metadata=_stored(load=_url_from_column))
    server_build: str | None = None

    @property
    def is_local(self) -> bool:
        return self.backend == LOCAL_BACKEND


def _how(f: Field[Any]) -> Stored:
    stored = f.metadata.get(_META, _PLAIN)
    assert isinstance(stored, Stored)
    return stored


# The ``summaries`` columns that hold a provenance, in declaration order.
PROVENANCE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Provenance))


class ByName(Protocol):
    """A stored row read by column name (``sqlite3.Row``, a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


def provenance_to_columns(p: Provenance) -> dict[str, Any]:
    """The provenance columns of a ``summaries`` row, by name."""
    return {f.name: _how(f).store(getattr(p, f.name)) for f in fields(p)}


def provenance_from_columns(row: ByName) -> Provenance:
    """The provenance a ``summaries`` row holds (:func:`provenance_to_columns` reversed)."""
    return Provenance(**{f.name: _how(f).load(row[f.name]) for f in fields(Provenance)})


def provenance_to_json(p: Provenance) -> dict[str, Any]:
    """The ``provenance`` object of the JSON export, in declaration order."""
    return {_how(f).json_key or f.name: getattr(p, f.name) for f in fields(p)}
