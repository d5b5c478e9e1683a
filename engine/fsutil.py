"""Small filesystem helpers: state on disk is replaced atomically or not at all."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import ConfigError

_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def _new_temp(path: Path, perms: int) -> tuple[int, str]:
    """A new hidden ``.<name>.<random>.tmp`` beside ``path``, created with ``perms`` (less the
    umask), as ``mkstemp`` does with 0600."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, perms), str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name beside {path}")


@contextmanager
def atomic_output(
    path: Path, *, mode: int | None = None, private: bool = True
) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` when the block ends, fsynced first; an error in the
    block deletes it instead. A crash at any point leaves either the old file or the new one
    (and at worst a hidden ``.<name>.*.tmp`` beside it). ``mode``: the new file's permissions;
    without it, state is private to the user (0600) and, with ``private=False``, a file made
    for the user (an export) gets the usual 0666 less the umask (0644 under umask 022).

    The one temp-file-then-replace writer in vidsum: state files, grammars, exports and the
    assembled default model all go through here.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _new_temp(path, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes, *, private: bool = True) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    with atomic_output(path, private=private) as f:
        f.write(data)


def atomic_write_text(path: Path, text: str, *, private: bool = True) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text, written as given (no newline translation)."""
    atomic_write_bytes(path, text.encode("utf-8"), private=private)


def read_json_state(path: Path, what: str, *, missing: Any = None) -> Any:
    """The parsed JSON of a state file vidsum owns (settings, registries, records, manifests).

    ``missing`` is returned when the file does not exist. Anything else that stops the file
    being read (permissions, bytes that are not UTF-8, text that is not JSON) raises
    ``ConfigError`` with one sentence naming the file, the problem and the fix; a caller that
    needs a particular shape checks it and raises through :func:`state_error`.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return missing
    except IsADirectoryError as exc:
        raise state_error(path, what, "is a directory, not a file") from exc
    except OSError as exc:
        raise state_error(path, what, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise state_error(
            path, what, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise state_error(
            path, what, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except RecursionError as exc:
        raise state_error(path, what, "is nested too deeply to be valid") from exc


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """:func:`read_json_state` for files that hold one JSON object ({} when missing)."""
    data = read_json_state(path, what, missing={})
    if not isinstance(data, dict):
        raise state_error(path, what, f"must hold a JSON object, not {_json_kind(data)}")
    return data


def state_error(path: Path, what: str, problem: str) -> ConfigError:
    """The one error shape for a bad state file: names it, says what is wrong, says the fix."""
    return ConfigError(f"{path}: the {what} {problem}; fix or delete the file.")


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"
