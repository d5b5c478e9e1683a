"""A batch's inputs: read once, and what the library already holds.

Both strategies read through ``read_all`` (every file read before any work, a bad one its error
sentence, so no model is loaded for it) and ask ``Dedupe`` whether
an input is stored already under one of the identities its summary would have (a local model's
sha256, or each server's ``server:<model file>``). The local batch asks just before each file
(an input given twice is then summarized once); the server batch asks before it starts.

Reading a 50 MB transcript is seconds of C calls (decoding, whitespace splitting) that cannot
look at a cancel token, so each file is read in a thread of its own while the caller's thread
watches the token: a cancel returns at once and the abandoned read finishes unobserved (it
has no side effects).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.batch.store import summary_key
from engine.errors import Cancelled, VidsumError
from engine.library.store import Library
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit
from engine.runs import Pick
from engine.transcripts.readers import load_transcript
from engine.transcripts.types import Transcript

__all__ = ["Dedupe", "Loaded", "read_all", "read_one"]

_POLL_S = 0.05

Loaded = tuple[Path, Transcript | None, str | None]  # (file, transcript, error)


def read_all(
    paths: Sequence[Path | str | Transcript],
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> list[Loaded]:
    """Every input read (an already loaded ``Transcript`` kept as is); a bad file is its error
    sentence, so it is reported without a model being loaded."""
    loaded: list[Loaded] = []
    for raw in paths:
        if isinstance(raw, Transcript):
            loaded.append((raw.source, raw, None))
            continue
        path = Path(raw)
        check(cancel)
        try:
            size: float | None = path.stat().st_size
        except OSError:
            size = None  # the reader says what is wrong
        emit(
            progress,
            Progress("read", 0, size, unit="B", item=path.name, message=f"Reading {path.name}"),
        )
        try:
            loaded.append((path, read_one(path, cancel), None))
        except Cancelled:
            raise
        except VidsumError as exc:
            loaded.append((path, None, str(exc)))
    check(cancel)
    return loaded


def read_one(path: Path, cancel: CancelToken | None) -> Transcript:
    """``load_transcript(path)``, given up as soon as ``cancel`` is set (see the module doc)."""
    if cancel is None:
        return load_transcript(path)
    box: list[Transcript | BaseException] = []

    def work() -> None:
        try:
            box.append(load_transcript(path))
        except BaseException as exc:  # handed to the caller's thread below
            box.append(exc)

    reader = threading.Thread(target=work, name="vidsum-read", daemon=True)
    reader.start()
    while reader.is_alive():
        reader.join(_POLL_S)
        check(cancel)
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return result


@dataclass(frozen=True)
class Dedupe:
    """Which stored summary makes an input's work unneeded (none with ``force``)."""

    identities: tuple[str, ...]  # model identities, in the order they are tried
    style: Literal["abstractive", "quotes"]
    pick: Pick = "rank"
    force: bool = False

    def stored(self, lib: Library, transcript: Transcript) -> int | None:
        """The id of the summary already stored for ``transcript``; None: summarize it."""
        if self.force:
            return None
        for identity in dict.fromkeys(self.identities):
            found = lib.find(summary_key(transcript, identity, self.style, self.pick))
            if found is not None:
                return found
        return None
