"""The SQLite file under the library: opening it (writable, else read-only with the reason
kept), bringing its schema up to date, and the one-transaction-per-call plumbing.

Every write is one ``BEGIN IMMEDIATE`` transaction: there is never half a summary, and the
write lock is taken up front so two writers queue on ``busy_timeout`` instead of deadlocking.

May import: ``engine.library.migrations``, ``engine.errors``, ``engine.paths``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import LibraryBusy, LibraryError, LibraryReadOnly
from engine.library import migrations
from engine.paths import get_paths

DEFAULT_BUSY_TIMEOUT = 10.0  # seconds a writer waits for another writer's transaction
SQLITE_MAGIC = b"SQLite format 3\x00"


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


class LibraryConnection:
    """The open library file; :class:`engine.library.store.Library` adds the records on top.

    Safe to share between threads: every call takes ``_lock``.
    """

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
            self._open_waiting()
        except BaseException:
            self._conn = None
            conn.close()
            raise

    def _open_waiting(self) -> None:
        """``_open``, retried until ``busy_timeout`` while another process holds a lock.

        SQLite's own busy wait does not cover all of opening: switching a new file to WAL from
        within a read (the schema check) while another process holds its write lock fails at
        once with "database is locked", which is what two vidsum processes starting on a fresh
        library meet. Every step of ``_open`` may be repeated, so the whole of it is retried.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                with self._guard("be opened"):
                    self._open()
                return
            except LibraryBusy:
                if time.monotonic() >= deadline:
                    raise
            # Jittered, so two processes that collided do not collide again in step.
            time.sleep(random.uniform(0.005, 0.05))

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
        if version < migrations.SCHEMA_VERSION:
            raise LibraryReadOnly(
                f"The library {self.path} is read-only ({self.read_only_reason}) and was written "
                f"by an older vidsum (schema version {version}), so it cannot be upgraded to "
                f"version {migrations.SCHEMA_VERSION}; make it writable once so vidsum can "
                "upgrade it."
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
        if "schema_migrations" not in tables or self._version() < migrations.SCHEMA_VERSION:
            self._migrate()

    def _version(self) -> int:
        return migrations.schema_version(self._db())

    def _refuse_newer(self, version: int) -> None:
        if version > migrations.SCHEMA_VERSION:
            raise LibraryError(
                f"The library at {self.path} was written by a newer vidsum (schema version "
                f"{version}; this vidsum knows up to {migrations.SCHEMA_VERSION}). Upgrade vidsum "
                "to use it."
            )

    def _migrate(self) -> None:
        migrations.migrate(self._db(), self._refuse_newer)

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
