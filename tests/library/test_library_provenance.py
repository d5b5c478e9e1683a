"""engine.library.provenance: the one declaration of a summary's provenance, and every shape
derived from it (the ``summaries`` row, the record read back, the JSON export, the pending file).

The values are made from the declaration itself, so a field added to ``Provenance`` is checked
here in every shape without a change to this file.
"""

from __future__ import annotations

import json
import sqlite3
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

from engine.library.export import entry_to_json
from engine.library.pending import new_entry_from_json, new_entry_to_json
from engine.library.provenance import (
    PROVENANCE_COLUMNS,
    Provenance,
    provenance_from_columns,
    provenance_to_columns,
    provenance_to_json,
)
from engine.library.store import Library
from tests.factories import make_entry

# The export's keys that are not the field's name (the scripting shape: add keys, never rename).
RENAMED_IN_JSON = {"model_id": "model"}


def _value(name: str, hint: Any, i: int) -> Any:
    """A value of the field's type that no other field has and that is not its default."""
    kinds = set(typing.get_args(hint)) or {hint}
    if str in kinds:
        return f"{name}-{i}"
    if float in kinds:
        return i + 0.25
    if int in kinds:
        return i + 1
    if dict in kinds or typing.get_origin(hint) is dict:
        return {"field": name, "nested": {"b": i, "a": "é"}}
    raise AssertionError(f"Provenance.{name}: give this test a value of type {hint}")


def distinct_provenance() -> Provenance:
    hints = typing.get_type_hints(Provenance)
    return Provenance(
        **{f.name: _value(f.name, hints[f.name], i) for i, f in enumerate(fields(Provenance))}
    )


def test_every_field_is_a_column_a_json_key_and_comes_back(tmp_path: Path) -> None:
    p = distinct_provenance()
    entry = make_entry(3, provenance=p)
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        stored = lib.get(lib.add(entry))
    assert stored.provenance == p  # write -> read

    # The row: one column per field (a new field needs a migration), values as declared.
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        have = {r["name"] for r in conn.execute("PRAGMA table_info(summaries)")}
        row = conn.execute("SELECT * FROM summaries").fetchone()
    finally:
        conn.close()
    assert tuple(f.name for f in fields(Provenance)) == PROVENANCE_COLUMNS
    assert set(PROVENANCE_COLUMNS) <= have
    assert {c: row[c] for c in PROVENANCE_COLUMNS} == provenance_to_columns(p)
    assert row["sampling"] == json.dumps(p.sampling, sort_keys=True)

    # The export: every field in declaration order, under its key, with its value.
    doc = entry_to_json(stored)["provenance"]
    assert list(doc) == [RENAMED_IN_JSON.get(f.name, f.name) for f in fields(Provenance)]
    assert list(doc.values()) == [getattr(p, f.name) for f in fields(Provenance)]
    assert doc == provenance_to_json(p)

    # The pending file (a generated entry that could not be stored yet).
    assert new_entry_from_json(json.loads(json.dumps(new_entry_to_json(entry)))) == entry


def test_urls_lose_their_credentials_when_read() -> None:
    """A row stored by a vidsum from before URLs with credentials were refused."""
    p = distinct_provenance()
    row = provenance_to_columns(p) | {
        "endpoint_url": "http://user:secret@gpu-box:8080/v1",
        "sampling": json.dumps({"backend": {"kind": "vllm", "url": "http://u:pw@h:8000"}}),
    }
    back = provenance_from_columns(row)
    assert back.endpoint_url == "http://gpu-box:8080/v1"
    assert back.sampling == {"backend": {"kind": "vllm", "url": "http://h:8000"}}
    assert provenance_from_columns(row | {"endpoint_url": ""}).endpoint_url is None
    assert provenance_from_columns(provenance_to_columns(p)) == p
