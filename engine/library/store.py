"""The summary library: one SQLite file (WAL, ordered migrations, FTS5 search, provenance).

``Library`` stores, finds, lists, searches and deletes summaries; the file handling under it is
:mod:`engine.library.connection`, the SQL of reading and writing :mod:`engine.library.queries`
and :mod:`engine.library.writes`.

May import: the other ``engine.library`` modules, ``engine.errors``, ``engine.schema``.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from engine.errors import LibraryError, NotInLibrary
from engine.library import pending, queries, writes
from engine.library.connection import LibraryConnection
from engine.library.records import Entry, EntryRow, NewEntry, utc_now
from engine.schema import N_GENERAL_TOPICS, N_SECTIONS, N_TOPICS


class Library(LibraryConnection):
    """The summary library. Safe to share between threads (calls are serialized)."""

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------------------

    def find(self, dedupe_key: str) -> int | None:
        with self._transaction("be read", write=False) as conn:
            row = conn.execute(
                "SELECT id FROM summaries WHERE dedupe_key = ?", (dedupe_key,)
            ).fetchone()
        return None if row is None else int(row[0])

    def add(
        self, entry: NewEntry, *, created_at: datetime | None = None, replace: bool = False
    ) -> int:
        """Store one summary in one transaction; an existing dedupe key returns its id.

        ``replace=True`` (``summarize --force``) deletes the summary stored under the same
        dedupe key in the same transaction, so the new one takes its place under a new id.
        """
        return self.add_many([entry], created_at=created_at, replace=replace)[0]

    def add_many(
        self,
        entries: Iterable[NewEntry],
        *,
        created_at: datetime | None = None,
        replace: bool = False,
    ) -> builtins.list[int]:
        """Store several summaries in one transaction (imports, seeding, tests)."""
        checked = [writes.checked(e) for e in entries]
        stamp = (
            created_at.astimezone(timezone.utc).isoformat(timespec="seconds")
            if created_at is not None
            else utc_now()
        )
        with self._transaction("store the summary", write=True) as conn:
            if replace:
                # Triggers clean the search index; ON DELETE CASCADE the child rows. The
                # transcript row stays: the new summary is of the same text.
                conn.executemany(
                    "DELETE FROM summaries WHERE dedupe_key = ?", [(e.dedupe_key,) for e in checked]
                )
            return [writes.insert_entry(conn, e, stamp) for e in checked]

    # --- pending entries (generated, not yet stored) -----------------------------------------

    def pending_dirs(self) -> builtins.list[Path]:
        """Where summaries that could not be stored wait: beside the library first, else (that
        disk may be the full one) in vidsum's cache, in a folder of this library's own."""
        return pending.pending_dirs(self.path)

    def keep_pending(self, entry: NewEntry, *, replace: bool = False) -> Path:
        """Write a generated entry to a pending file (atomic) that :meth:`store_pending` stores
        later; returns its path. Raises ``LibraryError`` when no pending folder is writable."""
        return pending.write_pending(self.pending_dirs(), entry, replace=replace)

    def pending_files(self) -> builtins.list[Path]:
        return [
            p
            for folder in self.pending_dirs()
            if folder.is_dir()
            for p in sorted(folder.glob("*.json"))
        ]

    def store_pending(self) -> builtins.list[int]:
        """Store every pending entry (each in its own transaction) and delete its file.

        A pending file that cannot be read raises ``ConfigError`` naming it; a store that fails
        again raises the library's error and leaves the file where it is.
        """
        ids: builtins.list[int] = []
        for path in self.pending_files():
            entry, replace = pending.read_pending(path)
            ids.append(self.add(entry, replace=replace))
            path.unlink(missing_ok=True)
        return ids

    def delete(self, id: int) -> None:
        with self._transaction("delete the summary", write=True) as conn:
            row = conn.execute("SELECT transcript_id FROM summaries WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise NotInLibrary(f"There is no summary #{id} in the library at {self.path}.")
            # Triggers clean the search index; ON DELETE CASCADE the child rows.
            conn.execute("DELETE FROM summaries WHERE id = ?", (id,))
            conn.execute(
                "DELETE FROM transcripts WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM summaries WHERE transcript_id = ?)",
                (row[0], row[0]),
            )

    # --- reading ------------------------------------------------------------------------------

    def get(self, id: int) -> Entry:
        with self._transaction("be read", write=False) as conn:
            stored = queries.fetch_entry(conn, id)
            if stored is None:
                raise NotInLibrary(f"There is no summary #{id} in the library at {self.path}.")
        return queries.entry_from_rows(stored, f"Summary #{id} in the library at {self.path}")

    def list(
        self,
        *,
        query: str | None = None,
        general_topic: str | None = None,
        complexity: tuple[float, float] = (0.0, 1.0),
        model: str | None = None,
        backend: str | None = None,
        endpoint: str | None = None,
        order: queries.Order = "created_desc",
        offset: int = 0,
        limit: int = 100,
    ) -> builtins.list[EntryRow]:
        """One page of rows. ``order="relevance"`` ranks search hits (else newest first).
        ``backend`` (``local`` or a server dialect) and ``endpoint`` (a server profile's name)
        keep the summaries made there."""
        if order not in queries.ORDERS:
            raise LibraryError(
                f"Unknown sort order {order!r}; choose one of {', '.join(queries.ORDERS)}."
            )
        match, clauses, params = queries.where(
            query, general_topic, complexity, model, backend, endpoint
        )
        sql = queries.list_sql(order, match, clauses)
        params += [max(0, limit), max(0, offset)]
        with self._transaction("be searched", write=False) as conn:
            rows = conn.execute(sql, params).fetchall()
            return queries.entry_rows(conn, rows)

    def count(
        self,
        *,
        query: str | None = None,
        general_topic: str | None = None,
        complexity: tuple[float, float] = (0.0, 1.0),
        model: str | None = None,
        backend: str | None = None,
        endpoint: str | None = None,
    ) -> int:
        _, clauses, params = queries.where(
            query, general_topic, complexity, model, backend, endpoint
        )
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._transaction("be searched", write=False) as conn:
            return int(
                conn.execute(f"SELECT count(*) FROM summaries s{where}", params).fetchone()[0]
            )

    def same_video(self, id: int) -> builtins.list[EntryRow]:
        """Other summaries of the same transcript text (e.g. by another model), newest first."""
        with self._transaction("be read", write=False) as conn:
            row = conn.execute("SELECT transcript_id FROM summaries WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise NotInLibrary(f"There is no summary #{id} in the library at {self.path}.")
            rows = conn.execute(
                f"SELECT {queries.ROW_COLUMNS} FROM summaries s "
                "WHERE s.transcript_id = ? AND s.id != ? "
                f"ORDER BY {queries.ORDER_SQL['created_desc']}",
                (row[0], id),
            ).fetchall()
            return queries.entry_rows(conn, rows)

    def models(self) -> builtins.list[str]:
        with self._transaction("be read", write=False) as conn:
            return [
                r[0] for r in conn.execute("SELECT DISTINCT model_id FROM summaries ORDER BY 1")
            ]

    def general_topics(self) -> builtins.list[str]:
        with self._transaction("be read", write=False) as conn:
            return [
                r[0] for r in conn.execute("SELECT DISTINCT topic FROM general_topics ORDER BY 1")
            ]

    def integrity_check(self) -> None:
        """SQLite's checks, the search index against its content, and summary completeness."""
        problems: builtins.list[str] = []
        # A write transaction: FTS5's check is an INSERT command (it changes nothing).
        with self._transaction("be checked", write=True) as conn:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
            if result != ["ok"]:
                problems += result
            fk = conn.execute("PRAGMA foreign_key_check").fetchall()
            problems += [
                f"row {rowid} of {table} points to a missing {parent} row"
                for table, rowid, parent, _ in fk[:20]
            ]
            try:
                conn.execute(
                    "INSERT INTO summary_fts(summary_fts, rank) VALUES ('integrity-check', 1)"
                )
            except sqlite3.DatabaseError as exc:
                problems.append(f"the search index does not match the summaries ({exc})")
            bad = conn.execute(
                f"""SELECT s.id FROM summaries s WHERE
                    (SELECT count(*) FROM sections WHERE summary_id = s.id) != {N_SECTIONS}
                 OR (SELECT count(*) FROM topics WHERE summary_id = s.id) != {N_TOPICS}
                 OR (SELECT count(*) FROM general_topics WHERE summary_id = s.id)
                    != {N_GENERAL_TOPICS}
                 LIMIT 20"""
            ).fetchall()
            problems += [f"summary #{r[0]} is incomplete" for r in bad]
        if problems:
            raise LibraryError(
                f"The library at {self.path} failed its integrity check: "
                + "; ".join(problems)
                + "."
            )
