"""The summary library: one SQLite file (WAL, ordered migrations, FTS5 search, provenance).

Design:

- ``transcripts`` holds each distinct transcript text once (keyed by its content hash);
  ``summaries`` holds one row per stored summary: the video metadata it was made from, the
  introduction, provenance and coverage columns, and the denormalized sort/search keys.
  ``sections``, ``topics`` and ``general_topics`` hang off it with ``ON DELETE CASCADE``.
- ``summaries.dedupe_key`` is UNIQUE: the same transcript + model file + prompt + grammar is
  stored once, so a rerun (e.g. after kill -9) only adds what is missing.
- ``summary_fts`` is an external-content FTS5 index over a view (title, introduction, sections,
  topics, transcript text), kept in step by triggers. Rows are immutable (triggers refuse
  updates of indexed columns), which is what keeps the external-content index exact.
- Every write is one ``BEGIN IMMEDIATE`` transaction: there is never half a summary, and the
  write lock is taken up front so two writers queue on ``busy_timeout`` instead of deadlocking.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from engine.errors import LibraryBusy, LibraryError, LibraryReadOnly, NotInLibrary
from engine.fsutil import atomic_write_text, read_json_object, state_error
from engine.paths import get_paths
from engine.pipeline.grounding import Grounding
from engine.schema import N_GENERAL_TOPICS, N_SECTIONS, N_TOPICS, Summary
from engine.timefmt import format_timestamp

if TYPE_CHECKING:
    from engine.transcripts.types import Transcript

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

DEFAULT_BUSY_TIMEOUT = 10.0  # seconds a writer waits for another writer's transaction
SQLITE_MAGIC = b"SQLite format 3\x00"
PENDING_DIR = "pending"  # beside the library: generated summaries that could not be stored

# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptInfo:
    source_path: str
    format: str
    title: str
    channel: str | None
    url: str | None
    video_id: str | None
    duration: float | None
    content_hash: str
    text: str
    chapters: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_transcript(cls, t: Transcript) -> TranscriptInfo:
        return cls(
            source_path=str(t.source),
            format=t.format,
            title=t.display_title,
            channel=t.meta.channel,
            url=t.meta.url,
            video_id=t.meta.video_id,
            duration=t.duration,
            content_hash=t.content_hash,
            text=t.text,
            chapters=[{"start": c.start, "end": c.end, "title": c.title} for c in t.chapters],
        )


@dataclass(frozen=True)
class Provenance:
    model_id: str
    model_path: str
    model_sha256: str
    quant: str | None
    prompt_version: str
    grammar_version: str
    sampling: dict[str, Any]
    n_ctx: int
    prompt_tokens: int
    prompt_seconds: float
    generated_tokens: int
    generation_seconds: float
    vidsum_version: str
    style: str = "abstractive"  # "abstractive" | "quotes" (engine.pipeline.quotes)


@dataclass(frozen=True)
class Coverage:
    fraction: float  # share of transcript tokens that reached the model
    passes: int
    chunks: list[dict[str, Any]]  # start_char, end_char, start_s, end_s, tokens, seconds
    truncated: bool
    attempts: int | None = None  # generations over all passes, retries included (not stored)


@dataclass(frozen=True)
class NewEntry:
    transcript: TranscriptInfo
    summary: Summary
    provenance: Provenance
    coverage: Coverage
    flags: list[str]
    dedupe_key: str
    grounding: Grounding | None = None  # None: not measured (stored before it was)
    # Why the summary failed the quality check (not about its own video), or None: a
    # failed summary is stored so a rerun is a no-op, and every face marks it as failed.
    failed: str | None = None


@dataclass(frozen=True)
class Entry:
    id: int
    created_at: str  # ISO 8601, UTC
    transcript: TranscriptInfo
    summary: Summary
    provenance: Provenance
    coverage: Coverage
    flags: list[str]
    dedupe_key: str
    grounding: Grounding | None = None
    failed: str | None = None

    @property
    def title(self) -> str:
        return self.transcript.title


@dataclass(frozen=True)
class EntryRow:
    """What a list shows: cheap to fetch a page of."""

    id: int
    title: str
    channel: str | None
    created_at: str
    model_id: str
    general_topics: tuple[tuple[str, float], ...]  # (field, complexity), stored order
    max_complexity: float
    duration: float | None
    flags: tuple[str, ...]
    failed: str | None = None  # the reason, when the summary failed the quality check


def dedupe_key(
    content_hash: str, model_sha256: str, prompt_version: str, grammar_version: str
) -> str:
    """Identity of a summary run: the same inputs would regenerate the same kind of summary."""
    raw = "\x1f".join((content_hash, model_sha256, prompt_version, grammar_version))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# --- search queries ---------------------------------------------------------------------------

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


def _sections_text(summary: Summary) -> str:
    return "\n\n".join("\n".join([s.title, *s.content, *s.topics]) for s in summary.sections)


def _topics_text(summary: Summary) -> str:
    return "\n".join(summary.topics)


# --- migrations -------------------------------------------------------------------------------
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

# Grounding (engine.pipeline.grounding) and the failed-summary status. Rows stored before read as
# not measured (NULL) and not failed.
_V4_GROUNDING = (
    "ALTER TABLE summaries ADD COLUMN grounded REAL",
    "ALTER TABLE summaries ADD COLUMN leaked REAL",
    "ALTER TABLE summaries ADD COLUMN grounding_words INTEGER",
    "ALTER TABLE summaries ADD COLUMN failed TEXT",
)

MIGRATIONS: tuple[tuple[int, str, Callable[[sqlite3.Connection], None]], ...] = (
    (1, "tables", _statements(_V1)),
    (2, "full-text search and list indexes", _v2_search),
    (3, "quote mode: bullet times and summary style", _statements(_V3_QUOTES)),
    (4, "grounding and failed status", _statements(_V4_GROUNDING)),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _folder_unwritable(folder: Path) -> str | None:
    """Why files cannot be written in ``folder`` (os.access sees EROFS too), or None."""
    with contextlib.suppress(OSError, AttributeError):  # statvfs: POSIX only
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    if folder.is_dir() and not os.access(folder, os.W_OK):
        return "the folder is not writable"
    return None


def _is_read_only(exc: BaseException | None) -> bool:
    """A refusal to write or to open that comes from permissions or a read-only file system."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and (code & 0xFF) in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
        return True
    msg = str(exc).lower()
    return "readonly" in msg or "read-only" in msg or "unable to open" in msg


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


# --- the library ------------------------------------------------------------------------------


_ROW_COLUMNS = (
    "s.id, s.title, s.channel, s.created_at, s.model_id, s.max_complexity, s.duration, "
    "s.flags, s.failed"
)

_ORDER_SQL = {
    "created_desc": "s.created_at DESC, s.id DESC",
    "created_asc": "s.created_at ASC, s.id ASC",
    "title": "s.title COLLATE NOCASE ASC, s.id ASC",
    "complexity_desc": "s.max_complexity DESC, s.id DESC",
    # SQLite sorts NULL lowest, so unknown durations come last.
    "duration_desc": "s.duration DESC, s.id DESC",
}
# Column weights for relevance: a hit in the title counts most, in the transcript least.
_BM25 = "bm25(summary_fts, 10.0, 5.0, 3.0, 5.0, 1.0)"


class Library:
    """The summary library. Safe to share between threads (calls are serialized)."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        read_only: bool | None = None,
    ) -> None:
        """Open (or create) the library.

        ``read_only=None`` (the default) opens for writing when the file and its folder are
        writable, else read-only (browsing and exports work; writes raise
        ``LibraryReadOnly``). ``True`` always opens read-only, ``False`` never falls back.
        """
        self.path = Path(path) if path is not None else get_paths().library_db
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        # Why the library is read-only (shown in the refusal of a write); None: writable.
        self.read_only_reason: str | None = "opened read-only" if read_only else None
        self._check_file()
        if read_only is None:
            self.read_only_reason = self._unwritable()
        if self.read_only_reason is not None:
            self._open_read_only()
            return
        try:
            self._open_writable()
        except LibraryError as exc:
            # A file that exists but cannot be written (read-only file system or permissions
            # that even the checks above could not see): browse it read-only.
            cause = exc.__cause__
            if read_only is not False and not self.path.is_file() and _is_read_only(cause):
                why = _folder_unwritable(self.path.parent) or str(cause)
                raise LibraryReadOnly(
                    f"There is no library at {self.path} yet, and it cannot be created there "
                    f"({why}); make that folder writable or set VIDSUM_HOME to a writable one."
                ) from exc
            if read_only is False or not self.path.is_file() or not _is_read_only(cause):
                raise
            self.read_only_reason = f"SQLite says: {cause}"
            self._open_read_only()

    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None

    def _unwritable(self) -> str | None:
        """Why an existing library cannot be written, or None (os.access sees EROFS too)."""
        if not self.path.is_file():
            return None
        folder = _folder_unwritable(self.path.parent)
        if folder is None and not os.access(self.path, os.W_OK):
            return "the file is not writable"
        if folder == "the folder is not writable":
            return "its folder is not writable, and SQLite needs to write its journal there"
        return folder

    def _open_writable(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path),
                timeout=self.busy_timeout,
                isolation_level=None,  # transactions are explicit (BEGIN IMMEDIATE)
                check_same_thread=False,  # TUI workers call from threads; _lock serializes
            )
        except (OSError, sqlite3.Error) as exc:
            raise LibraryError(f"The library at {self.path} could not be opened: {exc}.") from exc
        self._conn = conn
        try:
            with self._guard("be opened"):
                self._open()
        except BaseException:
            self._conn = None
            conn.close()
            raise

    def _open_read_only(self) -> None:
        """``mode=ro``; when SQLite cannot set up WAL reading (no ``-shm`` and a folder it may
        not write), ``immutable=1``, which is exact while no ``-wal`` holds unmerged commits."""
        if not self.path.is_file():
            raise LibraryError(
                f"There is no library at {self.path}, and it cannot be created there "
                f"({self.read_only_reason})."
            )
        uri = self.path.resolve().as_uri()
        wal = Path(f"{self.path}-wal")
        modes = ["?mode=ro"]
        if not wal.exists() or wal.stat().st_size == 0:
            modes.append("?mode=ro&immutable=1")
        last: Exception | None = None
        for mode in modes:
            conn = sqlite3.connect(
                uri + mode,
                uri=True,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            self._conn = conn
            try:
                with self._guard("be opened"):
                    self._open_for_reading()
                return
            except LibraryError as exc:
                self._conn = None
                conn.close()
                last = exc
                if not _is_read_only(exc.__cause__):
                    raise
        assert last is not None
        if len(modes) == 1:  # the -wal holds commits that SQLite cannot read without -shm
            raise LibraryError(
                f"The library {self.path} is read-only ({self.read_only_reason}) and {wal} holds "
                "recent changes that SQLite can only read by writing beside it; open it once "
                "where it is writable (vidsum then merges them), or copy the library's files to "
                "a writable folder."
            ) from last
        raise last

    def _open_for_reading(self) -> None:
        conn = self._db()
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_migrations" not in tables:
            raise LibraryError(
                f"{self.path} is a SQLite database but not a vidsum library; vidsum left it "
                "untouched. Move it away or choose another library path."
            )
        version = self._version()
        self._refuse_newer(version)
        if version < SCHEMA_VERSION:
            raise LibraryReadOnly(
                f"The library {self.path} is read-only ({self.read_only_reason}) and was written "
                f"by an older vidsum (schema version {version}), so it cannot be upgraded to "
                f"version {SCHEMA_VERSION}; make it writable once so vidsum can upgrade it."
            )

    def check_writable(self, doing: str = "store summaries") -> None:
        """Raise ``LibraryReadOnly`` (saying why and what to do) if the library is read-only."""
        if self.read_only_reason is not None:
            raise LibraryReadOnly(
                f"The library {self.path} is read-only ({self.read_only_reason}); vidsum can "
                f"list, show and export its summaries, but it cannot {doing}. Make the file "
                "and its folder writable, or set VIDSUM_HOME to a writable folder."
            )

    # --- opening ------------------------------------------------------------------------------

    def _check_file(self) -> None:
        # Read the header ourselves: SQLite would only complain later, and nothing may be
        # written to a file that is not ours.
        try:
            with self.path.open("rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise LibraryError(f"The library at {self.path} could not be read: {exc}.") from exc
        if head and head != SQLITE_MAGIC:
            raise LibraryError(
                f"{self.path} is not a vidsum library (it is not a SQLite database, or it is "
                "damaged); vidsum left it untouched. Move it away to start a new library."
            )

    def _open(self) -> None:
        conn = self._db()
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "schema_migrations" not in tables:
            raise LibraryError(
                f"{self.path} is a SQLite database but not a vidsum library; vidsum left it "
                "untouched. Move it away or choose another library path."
            )
        if "schema_migrations" in tables:
            self._refuse_newer(self._version())
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise LibraryError(
                f"The library at {self.path} could not be switched to WAL mode (got {mode!r}); "
                "is it on a network or read-only file system?"
            )
        # WAL + NORMAL already survives kill -9; FULL also survives power loss, for one fsync
        # per stored summary, which is nothing next to generating one.
        conn.execute("PRAGMA synchronous = FULL")
        if "schema_migrations" not in tables or self._version() < SCHEMA_VERSION:
            self._migrate()

    def _version(self) -> int:
        row = self._db().execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise LibraryError(
                f"The library at {self.path} was written by a newer vidsum (schema version "
                f"{version}; this vidsum knows up to {SCHEMA_VERSION}). Upgrade vidsum to use it."
            )

    def _migrate(self) -> None:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_MIGRATIONS_TABLE)
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = self._version()
            self._refuse_newer(current)
            for version, name, apply in MIGRATIONS:
                if version > current:
                    apply(conn)
                    conn.execute(
                        "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?,?,?)",
                        (version, name, _now()),
                    )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # --- plumbing -----------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LibraryError(f"The library at {self.path} is closed.")
        return self._conn

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Turn sqlite3 errors into user-facing library errors."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise LibraryBusy(
                    f"The library at {self.path} is busy (another vidsum is writing); try again."
                ) from exc
            raise LibraryError(f"The library at {self.path} could not {doing}: {exc}.") from exc
        except sqlite3.DatabaseError as exc:
            raise LibraryError(
                f"The library at {self.path} could not {doing}: {exc}. If the file is damaged, "
                "run `PRAGMA integrity_check` on it or move it away; vidsum did not change it."
            ) from exc

    @contextmanager
    def _transaction(self, doing: str, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction; reads get one consistent snapshot, writes take the lock up front."""
        if write:
            self.check_writable(doing)
        with self._lock, self._guard(doing):
            conn = self._db()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

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
        checked = [_checked(e) for e in entries]
        stamp = (
            created_at.astimezone(timezone.utc).isoformat(timespec="seconds")
            if created_at is not None
            else _now()
        )
        with self._transaction("store the summary", write=True) as conn:
            if replace:
                # Triggers clean the search index; ON DELETE CASCADE the child rows. The
                # transcript row stays: the new summary is of the same text.
                conn.executemany(
                    "DELETE FROM summaries WHERE dedupe_key = ?", [(e.dedupe_key,) for e in checked]
                )
            return [_insert(conn, e, stamp) for e in checked]

    # --- pending entries (generated, not yet stored) -----------------------------------------

    def pending_dirs(self) -> builtins.list[Path]:
        """Where summaries that could not be stored wait: beside the library first, else (that
        disk may be the full one) in vidsum's cache, in a folder of this library's own."""
        tag = hashlib.sha256(str(self.path.resolve()).encode("utf-8")).hexdigest()[:12]
        return [self.path.parent / PENDING_DIR, get_paths().cache / PENDING_DIR / tag]

    def keep_pending(self, entry: NewEntry, *, replace: bool = False) -> Path:
        """Write a generated entry to a pending file (atomic) that :meth:`store_pending` stores
        later; returns its path. Raises ``LibraryError`` when no pending folder is writable."""
        text = (
            json.dumps(new_entry_to_json(entry, replace=replace), ensure_ascii=False, indent=1)
            + "\n"
        )
        problems: builtins.list[str] = []
        for folder in self.pending_dirs():
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
            data = read_json_object(path, "pending summary")
            try:
                entry = new_entry_from_json(data)
            except (KeyError, TypeError, ValueError, ValidationError) as exc:
                raise state_error(
                    path, "pending summary", f"is not a complete summary entry ({exc})"
                ) from exc
            ids.append(self.add(entry, replace=bool(data.get("replace"))))
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
            conn.row_factory = sqlite3.Row
            try:
                s = conn.execute(
                    "SELECT s.*, t.content_hash, t.text FROM summaries s "
                    "JOIN transcripts t ON t.id = s.transcript_id WHERE s.id = ?",
                    (id,),
                ).fetchone()
                if s is None:
                    raise NotInLibrary(f"There is no summary #{id} in the library at {self.path}.")
                sections = conn.execute(
                    "SELECT title, content, topics, start_s, end_s, content_times FROM sections "
                    "WHERE summary_id = ? ORDER BY position",
                    (id,),
                ).fetchall()
                topics = conn.execute(
                    "SELECT topic FROM topics WHERE summary_id = ? ORDER BY position", (id,)
                ).fetchall()
                general = conn.execute(
                    "SELECT topic, complexity FROM general_topics WHERE summary_id = ? "
                    "ORDER BY position",
                    (id,),
                ).fetchall()
            finally:
                conn.row_factory = None
        try:
            summary = Summary.model_validate(
                {
                    "introduction": s["introduction"],
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
                        for r in sections
                    ],
                    "topics": [r["topic"] for r in topics],
                    "general_topics": [
                        {"topic": r["topic"], "complexity": r["complexity"]} for r in general
                    ],
                }
            )
        except ValidationError as exc:
            raise LibraryError(
                f"Summary #{id} in the library at {self.path} is incomplete or invalid: "
                f"{exc.errors()[0]['msg']}."
            ) from exc
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
            provenance=Provenance(
                model_id=s["model_id"],
                model_path=s["model_path"],
                model_sha256=s["model_sha256"],
                quant=s["quant"],
                prompt_version=s["prompt_version"],
                grammar_version=s["grammar_version"],
                sampling=json.loads(s["sampling"]),
                n_ctx=s["n_ctx"],
                prompt_tokens=s["prompt_tokens"],
                prompt_seconds=s["prompt_seconds"],
                generated_tokens=s["generated_tokens"],
                generation_seconds=s["generation_seconds"],
                vidsum_version=s["vidsum_version"],
                style=s["style"],
            ),
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

    def _where(
        self,
        query: str | None,
        general_topic: str | None,
        complexity: tuple[float, float],
        model: str | None,
    ) -> tuple[str | None, builtins.list[str], builtins.list[object]]:
        """(fts query, WHERE clauses, parameters) shared by list() and count()."""
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
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
        if model:
            clauses.append("s.model_id = ?")
            params.append(model)
        return match, clauses, params

    def list(
        self,
        *,
        query: str | None = None,
        general_topic: str | None = None,
        complexity: tuple[float, float] = (0.0, 1.0),
        model: str | None = None,
        order: Order = "created_desc",
        offset: int = 0,
        limit: int = 100,
    ) -> builtins.list[EntryRow]:
        """One page of rows. ``order="relevance"`` ranks search hits (else newest first)."""
        if order not in ORDERS:
            raise LibraryError(f"Unknown sort order {order!r}; choose one of {', '.join(ORDERS)}.")
        match, clauses, params = self._where(query, general_topic, complexity, model)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        if order == "relevance" and match is not None:
            # Join the index so bm25() is available; the MATCH clause is then the join's.
            sql = (
                f"SELECT {_ROW_COLUMNS} FROM summary_fts f JOIN summaries s ON s.id = f.rowid "
                f"WHERE summary_fts MATCH ?{''.join(' AND ' + c for c in clauses[1:])} "
                f"ORDER BY {_BM25}, s.id DESC LIMIT ? OFFSET ?"
            )
        else:
            by = _ORDER_SQL.get(order, _ORDER_SQL["created_desc"])
            sql = f"SELECT {_ROW_COLUMNS} FROM summaries s{where} ORDER BY {by} LIMIT ? OFFSET ?"
        params += [max(0, limit), max(0, offset)]
        with self._transaction("be searched", write=False) as conn:
            rows = conn.execute(sql, params).fetchall()
            return self._rows(conn, rows)

    def _rows(self, conn: sqlite3.Connection, rows: Sequence[Any]) -> builtins.list[EntryRow]:
        ids = [r[0] for r in rows]
        general: dict[int, builtins.list[tuple[str, float]]] = {i: [] for i in ids}
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
            )
            for r in rows
        ]

    def count(
        self,
        *,
        query: str | None = None,
        general_topic: str | None = None,
        complexity: tuple[float, float] = (0.0, 1.0),
        model: str | None = None,
    ) -> int:
        _, clauses, params = self._where(query, general_topic, complexity, model)
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
                f"SELECT {_ROW_COLUMNS} FROM summaries s WHERE s.transcript_id = ? AND s.id != ? "
                f"ORDER BY {_ORDER_SQL['created_desc']}",
                (row[0], id),
            ).fetchall()
            return self._rows(conn, rows)

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


def _checked(entry: NewEntry) -> NewEntry:
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


def _insert(conn: sqlite3.Connection, e: NewEntry, created_at: str) -> int:
    """Write one entry inside the caller's transaction; an existing key returns its id."""
    row = conn.execute("SELECT id FROM summaries WHERE dedupe_key = ?", (e.dedupe_key,)).fetchone()
    if row is not None:
        return int(row[0])
    t, p, c, s = e.transcript, e.provenance, e.coverage, e.summary
    conn.execute(
        "INSERT INTO transcripts(content_hash, text) VALUES (?, ?) "
        "ON CONFLICT(content_hash) DO NOTHING",
        (t.content_hash, t.text),
    )
    (tid,) = conn.execute(
        "SELECT id FROM transcripts WHERE content_hash = ?", (t.content_hash,)
    ).fetchone()
    row_values: dict[str, object] = {
        "transcript_id": tid,
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
        "model_id": p.model_id,
        "model_path": p.model_path,
        "model_sha256": p.model_sha256,
        "quant": p.quant,
        "prompt_version": p.prompt_version,
        "grammar_version": p.grammar_version,
        "sampling": json.dumps(p.sampling, sort_keys=True),
        "n_ctx": p.n_ctx,
        "prompt_tokens": p.prompt_tokens,
        "prompt_seconds": p.prompt_seconds,
        "generated_tokens": p.generated_tokens,
        "generation_seconds": p.generation_seconds,
        "vidsum_version": p.vidsum_version,
        "style": p.style,
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
    cur = conn.execute(
        f"INSERT INTO summaries({', '.join(row_values)}) "
        f"VALUES ({', '.join(':' + k for k in row_values)})",
        row_values,
    )
    sid = cur.lastrowid
    assert sid is not None
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
    return int(sid)


# --- exports ----------------------------------------------------------------------------------


def row_to_json(row: EntryRow) -> dict[str, Any]:
    """One line of ``vidsum library list --json``."""
    return {
        "id": row.id,
        "title": row.title,
        "channel": row.channel,
        "created_at": row.created_at,
        "model": row.model_id,
        "duration": row.duration,
        "general_topics": [{"topic": t, "complexity": c} for t, c in row.general_topics],
        "max_complexity": row.max_complexity,
        "flags": list(row.flags),
        "failed": row.failed,
    }


def entry_to_json(entry: Entry) -> dict[str, Any]:
    """The stable scripting shape of ``vidsum library show --json`` (add keys, never rename)."""
    t, p, c = entry.transcript, entry.provenance, entry.coverage
    return {
        "id": entry.id,
        "title": t.title,
        "source": t.source_path,
        "format": t.format,
        "channel": t.channel,
        "url": t.url,
        "video_id": t.video_id,
        "duration": t.duration,
        "content_hash": t.content_hash,
        "created_at": entry.created_at,
        "summary": entry.summary.model_dump(mode="json"),
        "coverage": {
            "fraction": c.fraction,
            "passes": c.passes,
            "truncated": c.truncated,
            "chunks": c.chunks,
        },
        "flags": list(entry.flags),
        "failed": entry.failed,
        "grounding": entry.grounding.as_dict() if entry.grounding else None,
        "provenance": {
            "model": p.model_id,
            "model_path": p.model_path,
            "model_sha256": p.model_sha256,
            "quant": p.quant,
            "prompt_version": p.prompt_version,
            "grammar_version": p.grammar_version,
            "sampling": p.sampling,
            "n_ctx": p.n_ctx,
            "prompt_tokens": p.prompt_tokens,
            "prompt_seconds": p.prompt_seconds,
            "generated_tokens": p.generated_tokens,
            "generation_seconds": p.generation_seconds,
            "vidsum_version": p.vidsum_version,
            "style": p.style,
        },
    }


def grounding_text(g: Grounding) -> str:
    """One phrase for people: "62% of its words are in the transcript, 1% from an example"."""
    return (
        f"{g.grounded:.0%} of its words occur in the transcript, "
        f"{g.leaked:.0%} come from a few-shot example's video"
    )


def failed_sentence(entry: Entry | EntryRow) -> str:
    """The one sentence every face shows for a failed summary: what and what to do."""
    from engine.pipeline.quality import FAILED_ADVICE

    return (
        f"This summary failed the quality check ({entry.failed}), so it is probably not about "
        f"this video. {FAILED_ADVICE}."
    )


def format_time(seconds: float) -> str:
    """``HH:MM:SS`` (always with hours, like video chapter lists)."""
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def entry_to_markdown(entry: Entry) -> str:
    """``vidsum library export --format md``."""
    t, p, c, s = entry.transcript, entry.provenance, entry.coverage, entry.summary
    out = [f"# {t.title}", ""]
    if entry.failed:
        out += [f"> **{failed_sentence(entry)}**", ""]
    meta = [f"- Source: `{t.source_path}`"]
    if t.channel:
        meta.append(f"- Channel: {t.channel}")
    if t.url:
        meta.append(f"- URL: <{t.url}>")
    if t.duration:
        meta.append(f"- Length: {format_time(t.duration)}")
    passes = f"{c.passes} pass" + ("" if c.passes == 1 else "es")
    meta.append(
        f"- Summarized {entry.created_at} by {p.model_id}"
        + (f" ({p.quant})" if p.quant else "")
        + f"; covers {c.fraction:.0%} of the transcript in {passes}"
        + (" (truncated)" if c.truncated else "")
    )
    if entry.grounding is not None:
        meta.append(f"- Grounding: {grounding_text(entry.grounding)}")
    out += meta
    if entry.flags:
        out += ["", "> **Flagged:** " + "; ".join(entry.flags)]
    out += ["", "## Introduction", "", s.introduction, "", "## Sections", ""]
    for sec in s.sections:
        span = ""
        if sec.start is not None and sec.end is not None:
            span = f" ({format_time(sec.start)}–{format_time(sec.end)})"
        out += [f"### {sec.title}{span}", ""]
        if sec.content_times is not None:
            out += [
                f"- [{format_timestamp(t)}] {b}"
                for b, t in zip(sec.content, sec.content_times, strict=True)
            ]
        else:
            out += [f"- {b}" for b in sec.content]
        out += ["", "Topics: " + " · ".join(sec.topics), ""]
    out += ["## Topics", "", " · ".join(s.topics), "", "## General topics", ""]
    out += ["| Field | Complexity | Level |", "|---|---|---|"]
    out += [f"| {g.topic} | {g.complexity:.2f} | {g.level} |" for g in s.general_topics]
    return "\n".join(out) + "\n"
