"""Reading the library: FTS5 search text, list filters and orders, and rows back into records.

Functions here run inside a transaction the caller holds (:mod:`engine.library.connection`).

May import: ``engine.library.records``, ``engine.library.provenance``, ``engine.schema``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError

from engine.errors import LibraryError
from engine.library.provenance import provenance_from_columns
from engine.library.records import Coverage, Entry, EntryRow, TranscriptInfo
from engine.schema import Grounding, Summary

Order = Literal[
    "created_desc", "created_asc", "title", "complexity_desc", "duration_desc", "relevance"
]
ORDERS: tuple[str, ...] = (
    "created_desc",
    "created_asc",
    "title",
    "complexity_desc",
    "duration_desc",
    "relevance",
)

# FTS5's unicode61 tokenizer keeps letters, digits and private-use characters; a term with none
# of them is pure punctuation and can only match nothing.
_TOKEN_CHAR = re.compile(r"[^\W_]")


def fts_query(text: str) -> str | None:
    """A user's search box text as a safe FTS5 query (None: nothing searchable).

    Every term is quoted, so FTS5 syntax (``AND``, ``"``, ``*``, ``NEAR``, ``col:``) is just
    text; terms are ANDed; the last term is a prefix unless the user typed a space after it
    (search-as-you-type).
    """
    terms = [t for t in text.split() if _TOKEN_CHAR.search(t)]
    if not terms:
        return None
    parts = ['"' + t.replace('"', '""') + '"' for t in terms]
    if not text[-1:].isspace():
        parts[-1] += "*"
    return " ".join(parts)


ROW_COLUMNS = (
    "s.id, s.title, s.channel, s.created_at, s.model_id, s.max_complexity, s.duration, "
    "s.flags, s.failed, s.backend, s.endpoint"
)

ORDER_SQL = {
    "created_desc": "s.created_at DESC, s.id DESC",
    "created_asc": "s.created_at ASC, s.id ASC",
    "title": "s.title COLLATE NOCASE ASC, s.id ASC",
    "complexity_desc": "s.max_complexity DESC, s.id DESC",
    # SQLite sorts NULL lowest, so unknown durations come last.
    "duration_desc": "s.duration DESC, s.id DESC",
}
# Column weights for relevance: a hit in the title counts most, in the transcript least.
_BM25 = "bm25(summary_fts, 10.0, 5.0, 3.0, 5.0, 1.0)"


def where(
    query: str | None,
    general_topic: str | None,
    complexity: tuple[float, float],
    model: str | None,
    backend: str | None = None,
    endpoint: str | None = None,
) -> tuple[str | None, list[str], list[object]]:
    """(fts query, WHERE clauses, parameters) shared by ``Library.list()`` and ``count()``.
    ``backend``: ``local`` or a server dialect; ``endpoint``: a server profile's name."""
    clauses: list[str] = []
    params: list[object] = []
    match = fts_query(query) if query else None
    if match is not None:
        clauses.append("s.id IN (SELECT rowid FROM summary_fts WHERE summary_fts MATCH ?)")
        params.append(match)
    lo, hi = complexity
    if general_topic:
        # The range applies to that field's complexity ...
        clauses.append(
            "s.id IN (SELECT summary_id FROM general_topics "
            "WHERE topic = ? AND complexity BETWEEN ? AND ?)"
        )
        params += [general_topic, lo, hi]
    elif (lo, hi) != (0.0, 1.0):
        # ... otherwise to the highest one (what the list shows).
        clauses.append("s.max_complexity BETWEEN ? AND ?")
        params += [lo, hi]
    for column, value in (("model_id", model), ("backend", backend), ("endpoint", endpoint)):
        if value:
            clauses.append(f"s.{column} = ?")
            params.append(value)
    return match, clauses, params


def list_sql(order: str, match: str | None, clauses: Sequence[str]) -> str:
    """The SELECT of one page of rows (its last two parameters: LIMIT and OFFSET)."""
    where_sql = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    if order == "relevance" and match is not None:
        # Join the index so bm25() is available; the MATCH clause is then the join's.
        return (
            f"SELECT {ROW_COLUMNS} FROM summary_fts f JOIN summaries s ON s.id = f.rowid "
            f"WHERE summary_fts MATCH ?{''.join(' AND ' + c for c in clauses[1:])} "
            f"ORDER BY {_BM25}, s.id DESC LIMIT ? OFFSET ?"
        )
    by = ORDER_SQL.get(order, ORDER_SQL["created_desc"])
    return f"SELECT {ROW_COLUMNS} FROM summaries s{where_sql} ORDER BY {by} LIMIT ? OFFSET ?"


def entry_rows(conn: sqlite3.Connection, rows: Sequence[Any]) -> list[EntryRow]:
    """``ROW_COLUMNS`` rows as list rows, each with its general topics in stored order."""
    ids = [r[0] for r in rows]
    general: dict[int, list[tuple[str, float]]] = {i: [] for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        for sid, topic, cx in conn.execute(
            f"SELECT summary_id, topic, complexity FROM general_topics "
            f"WHERE summary_id IN ({marks}) ORDER BY summary_id, position",
            ids,
        ):
            general[sid].append((topic, cx))
    return [
        EntryRow(
            id=r[0],
            title=r[1],
            channel=r[2],
            created_at=r[3],
            model_id=r[4],
            general_topics=tuple(general[r[0]]),
            max_complexity=r[5],
            duration=r[6],
            flags=tuple(json.loads(r[7])),
            failed=r[8],
            backend=r[9],
            endpoint=r[10],
        )
        for r in rows
    ]


class StoredRows(NamedTuple):
    """One summary as stored: its ``summaries`` row (with the transcript) and its children."""

    summary: sqlite3.Row
    sections: list[sqlite3.Row]
    topics: list[sqlite3.Row]
    general_topics: list[sqlite3.Row]


def fetch_entry(conn: sqlite3.Connection, id: int) -> StoredRows | None:
    """The rows of summary ``id`` (None: no such summary)."""
    conn.row_factory = sqlite3.Row
    try:
        s = conn.execute(
            "SELECT s.*, t.content_hash, t.text FROM summaries s "
            "JOIN transcripts t ON t.id = s.transcript_id WHERE s.id = ?",
            (id,),
        ).fetchone()
        if s is None:
            return None
        sections = conn.execute(
            "SELECT title, content, topics, start_s, end_s, content_times FROM sections "
            "WHERE summary_id = ? ORDER BY position",
            (id,),
        ).fetchall()
        topics = conn.execute(
            "SELECT topic FROM topics WHERE summary_id = ? ORDER BY position", (id,)
        ).fetchall()
        general = conn.execute(
            "SELECT topic, complexity FROM general_topics WHERE summary_id = ? ORDER BY position",
            (id,),
        ).fetchall()
    finally:
        conn.row_factory = None
    return StoredRows(s, sections, topics, general)


def _summary(stored: StoredRows, where: str) -> Summary:
    """The stored Summary, validated again (``where`` names it in the error)."""
    try:
        return Summary.model_validate(
            {
                "introduction": stored.summary["introduction"],
                "sections": [
                    {
                        "title": r["title"],
                        "content": json.loads(r["content"]),
                        "topics": json.loads(r["topics"]),
                        "start": r["start_s"],
                        "end": r["end_s"],
                        "content_times": (
                            json.loads(r["content_times"]) if r["content_times"] else None
                        ),
                    }
                    for r in stored.sections
                ],
                "topics": [r["topic"] for r in stored.topics],
                "general_topics": [
                    {"topic": r["topic"], "complexity": r["complexity"]}
                    for r in stored.general_topics
                ],
            }
        )
    except ValidationError as exc:
        raise LibraryError(f"{where} is incomplete or invalid: {exc.errors()[0]['msg']}.") from exc


def entry_from_rows(stored: StoredRows, where: str) -> Entry:
    """The ``Entry`` that :func:`fetch_entry`'s rows hold; ``LibraryError`` (naming ``where``)
    when they are not a valid summary."""
    s = stored.summary
    summary = _summary(stored, where)
    return Entry(
        id=int(s["id"]),
        created_at=s["created_at"],
        transcript=TranscriptInfo(
            source_path=s["source_path"],
            format=s["format"],
            title=s["title"],
            channel=s["channel"],
            url=s["url"],
            video_id=s["video_id"],
            duration=s["duration"],
            content_hash=s["content_hash"],
            text=s["text"],
            chapters=json.loads(s["chapters"]),
        ),
        summary=summary,
        provenance=provenance_from_columns(s),
        coverage=Coverage(
            fraction=s["coverage_fraction"],
            passes=s["coverage_passes"],
            chunks=json.loads(s["coverage_chunks"]),
            truncated=bool(s["coverage_truncated"]),
        ),
        flags=json.loads(s["flags"]),
        dedupe_key=s["dedupe_key"],
        grounding=(
            None
            if s["grounded"] is None
            else Grounding(s["grounded"], s["leaked"], s["grounding_words"] or 0)
        ),
        failed=s["failed"],
    )
