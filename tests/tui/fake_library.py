"""The fake engine's summaries, kept in a real library: a dict-like view by id over a SQLite file
of the fake's own, so every list, count, search, filter, sort and export the UI asks for runs
the library's own code (``engine.library``), and tests still set up entries as a dict:
``fake.entries[5] = served_copy(fake.entries[1], 5)``.

Entries keep the id the test gives them (the library's AUTOINCREMENT is steered through
``sqlite_sequence``) and their ``created_at`` as written. This is test support: it writes through
the library's transaction (``Library._transaction``) and row writer (``engine.library.writes``)
because the library has no public way to store an entry under a chosen id.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterable, Iterator, MutableMapping

from engine.errors import NotInLibrary
from engine.library import writes
from engine.library.records import Entry, NewEntry
from engine.library.store import Library


def new_entry_of(entry: Entry) -> NewEntry:
    """The entry as the library stores it: every field but the id and the time."""
    return NewEntry(**{f.name: getattr(entry, f.name) for f in dataclasses.fields(NewEntry)})


def _insert_as(conn: sqlite3.Connection, entry: Entry) -> None:
    """Store ``entry`` under its own id; no stored id may be as high (callers see to it)."""
    # AUTOINCREMENT takes one past the larger of the sequence and the highest id stored: steer
    # it only where the next id would not be this one (seeding 10,000 entries stays quick).
    (seq,) = conn.execute(
        "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'summaries'"
    ).fetchone()
    if seq != entry.id - 1:
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'summaries'")
        conn.execute(
            "INSERT INTO sqlite_sequence(name, seq) VALUES ('summaries', ?)", (entry.id - 1,)
        )
    stored = writes.insert_entry(conn, writes.checked(new_entry_of(entry)), entry.created_at)
    if stored != entry.id:
        raise AssertionError(
            f"entry #{entry.id} has the dedupe key of stored entry #{stored}: give it its own"
        )


class StoredEntries(MutableMapping[int, Entry]):
    """Summaries by id, read from and written to the library ``library()`` returns."""

    def __init__(self, library: Callable[[], Library]) -> None:
        self._library = library

    def _ids(self) -> list[int]:
        with self._library()._transaction("be read", write=False) as conn:
            return [int(r[0]) for r in conn.execute("SELECT id FROM summaries ORDER BY id")]

    def store(self, entries: Iterable[Entry]) -> None:
        """Store entries under their ids in one transaction (any stored with those ids, or
        above the lowest of them, are put back after)."""
        new = {e.id: e for e in entries}
        if not new:
            return
        lowest = min(new)
        moved = {i: self[i] for i in self._ids() if i >= lowest and i not in new}
        for i in self._ids():
            if i >= lowest:
                self._library().delete(i)
        ordered = sorted([*new.values(), *moved.values()], key=lambda e: e.id)
        # Several transactions for many entries: one huge one makes the search index slow
        # (measured: 10,000 entries 17 s in one, 4 s in chunks of 500).
        for start in range(0, len(ordered), 500):
            with self._library()._transaction("store the summary", write=True) as conn:
                for entry in ordered[start : start + 500]:
                    _insert_as(conn, entry)

    def __getitem__(self, entry_id: int) -> Entry:
        try:
            return self._library().get(entry_id)
        except NotInLibrary:
            raise KeyError(entry_id) from None

    def __setitem__(self, entry_id: int, entry: Entry) -> None:
        self.store([dataclasses.replace(entry, id=entry_id)])

    def __delitem__(self, entry_id: int) -> None:
        try:
            self._library().delete(entry_id)
        except NotInLibrary:
            raise KeyError(entry_id) from None

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids())

    def __len__(self) -> int:
        return len(self._ids())
