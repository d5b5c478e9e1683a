"""The library's schema as ordered migrations, and the runner that applies the missing ones.

- ``transcripts`` holds each distinct transcript text once (keyed by its content hash);
  ``summaries`` holds one row per stored summary: the video metadata it was made from, the
  introduction, provenance and coverage columns, and the denormalized sort/search keys.
  ``sections``, ``topics`` and ``general_topics`` hang off it with ``ON DELETE CASCADE``.
- Where a summary ran is its own columns (version 5): ``backend`` (``local`` or a server
  dialect), ``endpoint``, ``endpoint_url``, ``server_build``.
- A provenance column is a field of ``engine.library.provenance.Provenance`` (same name), which
  the writer and reader derive their lists from; here the columns are only released DDL, so a
  new field needs a new migration.
- ``summaries.dedupe_key`` is UNIQUE: the same transcript + model file + prompt + grammar is
  stored once, so a rerun (e.g. after kill -9) only adds what is missing.
- ``summary_fts`` is an external-content FTS5 index over a view (title, introduction, sections,
  topics, transcript text), kept in step by triggers. Rows are immutable (triggers refuse
  updates of indexed columns), which is what keeps the external-content index exact.

May import: ``engine.library.provenance``, ``engine.library.records`` and the standard library.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence

from engine.library.provenance import LOCAL_BACKEND
from engine.library.records import utc_now

# Append only: a released migration never changes. Each runs inside the opening transaction.

_V1 = (
    """CREATE TABLE transcripts (
        id INTEGER PRIMARY KEY,
        content_hash TEXT NOT NULL UNIQUE,
        text TEXT NOT NULL
    )""",
    """CREATE TABLE summaries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
        dedupe_key TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        source_path TEXT NOT NULL,
        format TEXT NOT NULL,
        title TEXT NOT NULL,
        channel TEXT,
        url TEXT,
        video_id TEXT,
        duration REAL,
        chapters TEXT NOT NULL DEFAULT '[]',
        introduction TEXT NOT NULL,
        max_complexity REAL NOT NULL,
        flags TEXT NOT NULL DEFAULT '[]',
        model_id TEXT NOT NULL,
        model_path TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        quant TEXT,
        prompt_version TEXT NOT NULL,
        grammar_version TEXT NOT NULL,
        sampling TEXT NOT NULL,
        n_ctx INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        prompt_seconds REAL NOT NULL,
        generated_tokens INTEGER NOT NULL,
        generation_seconds REAL NOT NULL,
        vidsum_version TEXT NOT NULL,
        coverage_fraction REAL NOT NULL,
        coverage_passes INTEGER NOT NULL,
        coverage_chunks TEXT NOT NULL,
        coverage_truncated INTEGER NOT NULL
    )""",
    "CREATE INDEX summaries_transcript ON summaries(transcript_id)",
    """CREATE TABLE sections (
        summary_id INTEGER NOT NULL REFERENCES summaries(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        title TEXT NOT NULL,
        content TEXT NOT NULL,
        topics TEXT NOT NULL,
        start_s REAL,
        end_s REAL,
        PRIMARY KEY (summary_id, position)
    ) WITHOUT ROWID""",
    """CREATE TABLE topics (
        summary_id INTEGER NOT NULL REFERENCES summaries(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        topic TEXT NOT NULL,
        PRIMARY KEY (summary_id, position)
    ) WITHOUT ROWID""",
    """CREATE TABLE general_topics (
        summary_id INTEGER NOT NULL REFERENCES summaries(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        topic TEXT NOT NULL,
        complexity REAL NOT NULL,
        PRIMARY KEY (summary_id, position)
    ) WITHOUT ROWID""",
)


def _v2_search(conn: sqlite3.Connection) -> None:
    """Full-text search and the indexes that keep 10,000-row lists instant."""
    conn.execute("ALTER TABLE summaries ADD COLUMN search_sections TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE summaries ADD COLUMN search_topics TEXT NOT NULL DEFAULT ''")
    # Backfill the search text of summaries stored by a v1 library.
    for (sid,) in conn.execute("SELECT id FROM summaries").fetchall():
        secs = conn.execute(
            "SELECT title, content, topics FROM sections WHERE summary_id = ? ORDER BY position",
            (sid,),
        ).fetchall()
        tops = conn.execute(
            "SELECT topic FROM topics WHERE summary_id = ? ORDER BY position", (sid,)
        ).fetchall()
        sections = "\n\n".join("\n".join([t, *json.loads(c), *json.loads(tp)]) for t, c, tp in secs)
        conn.execute(
            "UPDATE summaries SET search_sections = ?, search_topics = ? WHERE id = ?",
            (sections, "\n".join(t for (t,) in tops), sid),
        )
    for sql in (
        """CREATE VIEW summary_search AS
            SELECT s.id AS id, s.title AS title, s.introduction AS introduction,
                   s.search_sections AS sections, s.search_topics AS topics,
                   t.text AS transcript
            FROM summaries s JOIN transcripts t ON t.id = s.transcript_id""",
        """CREATE VIRTUAL TABLE summary_fts USING fts5(
            title, introduction, sections, topics, transcript,
            content='summary_search', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2', prefix='2 3'
        )""",
        """CREATE TRIGGER summaries_fts_insert AFTER INSERT ON summaries BEGIN
            INSERT INTO summary_fts(rowid, title, introduction, sections, topics, transcript)
            VALUES (new.id, new.title, new.introduction, new.search_sections, new.search_topics,
                    (SELECT text FROM transcripts WHERE id = new.transcript_id));
        END""",
        """CREATE TRIGGER summaries_fts_delete BEFORE DELETE ON summaries BEGIN
            INSERT INTO summary_fts(summary_fts, rowid, title, introduction, sections, topics,
                                    transcript)
            VALUES ('delete', old.id, old.title, old.introduction, old.search_sections,
                    old.search_topics,
                    (SELECT text FROM transcripts WHERE id = old.transcript_id));
        END""",
        # The external-content index is only exact while indexed values never change.
        """CREATE TRIGGER summaries_immutable BEFORE UPDATE OF title, introduction,
            search_sections, search_topics, transcript_id ON summaries BEGIN
            SELECT RAISE(ABORT, 'stored summaries are immutable');
        END""",
        """CREATE TRIGGER transcripts_immutable BEFORE UPDATE OF text ON transcripts BEGIN
            SELECT RAISE(ABORT, 'stored transcripts are immutable');
        END""",
        "INSERT INTO summary_fts(summary_fts) VALUES ('rebuild')",
        "CREATE INDEX summaries_created ON summaries(created_at)",
        "CREATE INDEX summaries_title ON summaries(title COLLATE NOCASE)",
        "CREATE INDEX summaries_complexity ON summaries(max_complexity)",
        "CREATE INDEX summaries_duration ON summaries(duration)",
        "CREATE INDEX summaries_model ON summaries(model_id)",
        "CREATE INDEX general_topics_topic ON general_topics(topic, complexity)",
    ):
        conn.execute(sql)


def _statements(stmts: Sequence[str]) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        for sql in stmts:
            conn.execute(sql)

    return apply


_V3_QUOTES = (
    "ALTER TABLE sections ADD COLUMN content_times TEXT",
    "ALTER TABLE summaries ADD COLUMN style TEXT NOT NULL DEFAULT 'abstractive'",
)

# Grounding (engine.pipeline.checks.grounding) and the failed-summary status. Rows stored before
# read as not measured (NULL) and not failed.
_V4_GROUNDING = (
    "ALTER TABLE summaries ADD COLUMN grounded REAL",
    "ALTER TABLE summaries ADD COLUMN leaked REAL",
    "ALTER TABLE summaries ADD COLUMN grounding_words INTEGER",
    "ALTER TABLE summaries ADD COLUMN failed TEXT",
)


def _v5_backend(conn: sqlite3.Connection) -> None:
    """Where a summary ran, as columns: the backend kind (``local`` or a server dialect), the
    endpoint profile, its URL and the server's build. Summaries stored from a server before
    these columns existed carry the same facts in their sampling record's ``backend`` object
    (kept there as it was); every other row ran on the local worker."""
    conn.execute(
        f"ALTER TABLE summaries ADD COLUMN backend TEXT NOT NULL DEFAULT '{LOCAL_BACKEND}'"
    )
    for column in ("endpoint", "endpoint_url", "server_build"):
        conn.execute(f"ALTER TABLE summaries ADD COLUMN {column} TEXT")
    updates = []
    for sid, sampling in conn.execute("SELECT id, sampling FROM summaries"):
        found = _backend_record(sampling)
        if found is not None:
            updates.append((*found, sid))
    conn.executemany(
        "UPDATE summaries SET backend = ?, endpoint = ?, endpoint_url = ?, server_build = ? "
        "WHERE id = ?",
        updates,
    )
    conn.execute("CREATE INDEX summaries_backend ON summaries(backend, endpoint)")


def _backend_record(sampling: str) -> tuple[str, str | None, str | None, str | None] | None:
    """(kind, endpoint, url, build) of a sampling record's ``backend`` object, else None: a
    local summary (a damaged record must not stop the upgrade; that row reads as local)."""
    try:
        record = json.loads(sampling).get("backend")
    except (ValueError, AttributeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
        return None

    def text(key: str) -> str | None:
        value = record.get(key)
        return value if isinstance(value, str) and value else None  # "": not reported

    return record["kind"], text("endpoint"), text("url"), text("build")


MIGRATIONS: tuple[tuple[int, str, Callable[[sqlite3.Connection], None]], ...] = (
    (1, "tables", _statements(_V1)),
    (2, "full-text search and list indexes", _v2_search),
    (3, "quote mode: bullet times and summary style", _statements(_V3_QUOTES)),
    (4, "grounding and failed status", _statements(_V4_GROUNDING)),
    (5, "backend, endpoint and server build", _v5_backend),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied to an opened library (0: none)."""
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, refuse_newer: Callable[[int], None]) -> None:
    """Apply every missing migration in one write transaction (all or none).

    ``refuse_newer`` raises when the library is newer than this vidsum; it is asked again under
    the write lock, because another process may have migrated meanwhile.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_MIGRATIONS_TABLE)
        current = schema_version(conn)
        refuse_newer(current)
        for version, name, apply in MIGRATIONS:
            if version > current:
                apply(conn)
                conn.execute(
                    "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?,?,?)",
                    (version, name, utc_now()),
                )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
