"""Writing the library: the checks a summary passes before it is stored, and its rows.

Functions here run inside the write transaction the caller holds
(:mod:`engine.library.connection`).

May import: ``engine.library.records``, ``engine.library.provenance``, ``engine.schema``.
"""

from __future__ import annotations

import json
import sqlite3

from pydantic import ValidationError

from engine.errors import LibraryError
from engine.library.provenance import provenance_to_columns
from engine.library.records import NewEntry
from engine.schema import Summary


def checked(entry: NewEntry) -> NewEntry:
    """Refuse anything that is not a valid Summary (``model_construct`` skips validation)."""
    if not isinstance(entry.summary, Summary):
        raise LibraryError(
            f"Refusing to store the summary of {entry.transcript.source_path}: it is a "
            f"{type(entry.summary).__name__}, not a validated Summary."
        )
    try:
        Summary.model_validate(entry.summary.model_dump())
    except ValidationError as exc:
        raise LibraryError(
            f"Refusing to store the summary of {entry.transcript.source_path}: it does not meet "
            f"the schema ({exc.errors()[0]['msg']})."
        ) from exc
    return entry


def insert_entry(conn: sqlite3.Connection, e: NewEntry, created_at: str) -> int:
    """Write one entry inside the caller's transaction; an existing key returns its id."""
    row = conn.execute("SELECT id FROM summaries WHERE dedupe_key = ?", (e.dedupe_key,)).fetchone()
    if row is not None:
        return int(row[0])
    t = e.transcript
    conn.execute(
        "INSERT INTO transcripts(content_hash, text) VALUES (?, ?) "
        "ON CONFLICT(content_hash) DO NOTHING",
        (t.content_hash, t.text),
    )
    (tid,) = conn.execute(
        "SELECT id FROM transcripts WHERE content_hash = ?", (t.content_hash,)
    ).fetchone()
    row_values = _summary_row(e, tid, created_at)
    cur = conn.execute(
        f"INSERT INTO summaries({', '.join(row_values)}) "
        f"VALUES ({', '.join(':' + k for k in row_values)})",
        row_values,
    )
    sid = cur.lastrowid
    assert sid is not None
    _insert_children(conn, sid, e.summary)
    return int(sid)


def _summary_row(e: NewEntry, transcript_id: int, created_at: str) -> dict[str, object]:
    """The ``summaries`` row of an entry, by column name."""
    t, p, c, s = e.transcript, e.provenance, e.coverage, e.summary
    return {
        "transcript_id": transcript_id,
        "dedupe_key": e.dedupe_key,
        "created_at": created_at,
        "source_path": t.source_path,
        "format": t.format,
        "title": t.title,
        "channel": t.channel,
        "url": t.url,
        "video_id": t.video_id,
        "duration": t.duration,
        "chapters": json.dumps(t.chapters),
        "introduction": s.introduction,
        "max_complexity": max(g.complexity for g in s.general_topics),
        "flags": json.dumps(e.flags),
        **provenance_to_columns(p),  # declared once: engine.library.provenance
        "coverage_fraction": c.fraction,
        "coverage_passes": c.passes,
        "coverage_chunks": json.dumps(c.chunks),
        "coverage_truncated": int(c.truncated),
        "search_sections": _sections_text(s),
        "search_topics": _topics_text(s),
        "grounded": e.grounding.grounded if e.grounding else None,
        "leaked": e.grounding.leaked if e.grounding else None,
        "grounding_words": e.grounding.words if e.grounding else None,
        "failed": e.failed,
    }


def _insert_children(conn: sqlite3.Connection, sid: int, s: Summary) -> None:
    """The sections, topics and general topics of summary ``sid``, in stored order."""
    conn.executemany(
        "INSERT INTO sections(summary_id, position, title, content, topics, start_s, end_s, "
        "content_times) VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                sid,
                i,
                sec.title,
                json.dumps(sec.content),
                json.dumps(sec.topics),
                sec.start,
                sec.end,
                None if sec.content_times is None else json.dumps(sec.content_times),
            )
            for i, sec in enumerate(s.sections, start=1)
        ],
    )
    conn.executemany(
        "INSERT INTO topics(summary_id, position, topic) VALUES (?,?,?)",
        [(sid, i, topic) for i, topic in enumerate(s.topics, start=1)],
    )
    conn.executemany(
        "INSERT INTO general_topics(summary_id, position, topic, complexity) VALUES (?,?,?,?)",
        [(sid, i, g.topic, g.complexity) for i, g in enumerate(s.general_topics, start=1)],
    )


def _sections_text(summary: Summary) -> str:
    return "\n\n".join("\n".join([s.title, *s.content, *s.topics]) for s in summary.sections)


def _topics_text(summary: Summary) -> str:
    return "\n".join(summary.topics)
