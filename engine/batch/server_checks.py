"""The last check of each inference server, kept so that both faces say what it found and when.

``vidsum servers check`` and the TUI's s/S both go through ``Engine.check_server``, which records
the result here; the TUI's Servers table and ``vidsum servers list`` read it. One small JSON
object in ``engine.paths`` (``server_checks_file``), written atomically (``engine.fsutil``),
name -> the last result: when, whether it passed, what the server said. A profile that is
removed or added again (``Engine.remove_server`` / ``add_server``) loses its record: a check
says how that URL answered, not a new one.

May import: ``engine.batch.servers`` (the ``ServerCheck`` it records) and the ground floor.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from engine.batch.servers import ServerCheck
from engine.errors import ConfigError
from engine.fsutil import atomic_write_text, read_json_object, state_error
from engine.paths import get_paths

WHAT = "server check record"
PASSED = ("honoured", "schema-only")


@dataclass(frozen=True)
class LastCheck:
    """One server's last check, as stored."""

    name: str
    checked_at: str  # ISO 8601, UTC, to the second
    ok: bool  # grammar honoured, or a schema-only endpoint (nothing to prove)
    grammar: str  # ServerCheck.grammar: "honoured" | "ignored" | "schema-only" | "unknown"
    reached: bool  # the server answered at all (ServerCheck.info is not None)
    message: str = ""  # the error, "" when it passed
    dialect: str | None = None
    model: str | None = None
    slots: int | None = None

    @classmethod
    def of(cls, check: ServerCheck, at: datetime) -> LastCheck:
        info = check.info
        return cls(
            name=check.profile.name,
            checked_at=at.astimezone(timezone.utc).isoformat(timespec="seconds"),
            ok=check.grammar in PASSED,
            grammar=check.grammar,
            reached=info is not None,
            message=check.error or "",
            dialect=info.dialect if info else None,
            model=info.model if info else None,
            slots=info.slots if info else None,
        )

    @property
    def when(self) -> str:
        """``2026-12-06 21:05 UTC``: when the check ran, for people."""
        try:
            at = datetime.fromisoformat(self.checked_at)
        except ValueError:
            return self.checked_at
        return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _load() -> dict[str, Any]:
    return read_json_object(get_paths().server_checks_file, WHAT)


def _save(records: dict[str, Any]) -> None:
    text = json.dumps(records, indent=2, sort_keys=True) + "\n"
    atomic_write_text(get_paths().server_checks_file, text)


def last_checks() -> dict[str, LastCheck]:
    """Every recorded check by server name. A file that cannot be read, or a record of another
    shape, raises ``ConfigError`` naming the file (the next check replaces it)."""
    out: dict[str, LastCheck] = {}
    for name, raw in _load().items():
        try:
            out[name] = LastCheck(**{**raw, "name": name})
        except TypeError as exc:
            problem = f"has a record for {name!r} that is not a check"
            raise state_error(get_paths().server_checks_file, WHAT, problem) from exc
    return out


def record(check: ServerCheck, at: datetime | None = None) -> LastCheck:
    """Keep ``check`` as its server's last one (replacing a file that cannot be read: the new
    result is what counts)."""
    last = LastCheck.of(check, at or datetime.now(timezone.utc))
    try:
        records = _load()
    except ConfigError:
        records = {}
    records[last.name] = {k: v for k, v in asdict(last).items() if k != "name"}
    _save(records)
    return last


def forget(name: str) -> None:
    """Drop a server's record (its profile was removed or replaced)."""
    try:
        records = _load()
    except ConfigError:
        records = {}
    if records.pop(name, None) is not None:
        _save(records)
