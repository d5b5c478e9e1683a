"""sha256 of model files, with verify progress and cancel: the one hashing loop (a model file's
check, resumable from an offset, and the default model's assembly, which also copies).

May import: the ground floor only.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from engine.progress import CancelToken, Progress, ProgressCallback, check, emit

_HASH_BLOCK = 4 * 1024 * 1024


def hash_file(
    path: Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    item: str | None = None,
    digest: Any = None,
    start: int = 0,
) -> str:
    """sha256 of ``path`` (from byte ``start`` into ``digest`` when given) with verify progress."""
    h = digest if digest is not None else hashlib.sha256()
    hash_files(
        [path],
        h,
        total=path.stat().st_size,
        message=f"Checking sha256 of {path.name}",
        item=item,
        progress=progress,
        cancel=cancel,
        start=start,
    )
    return str(h.hexdigest())


def hash_files(
    paths: Sequence[Path],
    digest: Any,
    *,
    total: int,
    message: str,
    item: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    out: BinaryIO | None = None,
    start: int = 0,
    timed: bool = True,
) -> None:
    """Read ``paths`` in order (the first from byte ``start``) into ``digest``, and into ``out``
    when given, with "verify" progress out of ``total`` bytes: every 0.1 s with a rate when
    ``timed``, else every block (assembling the default model shows no rate)."""
    done = start
    t0 = time.monotonic()
    last = 0.0
    for index, path in enumerate(paths):
        with path.open("rb") as f:
            if index == 0:
                f.seek(start)
            while block := f.read(_HASH_BLOCK):
                check(cancel)
                if out is not None:
                    out.write(block)
                digest.update(block)
                done += len(block)
                now = time.monotonic()
                if timed and not (now - last >= 0.1 or done == total):
                    continue
                last = now
                rate = (done - start) / (now - t0) if timed and now > t0 else None
                event = Progress("verify", done, total, rate, "B", message, item)
                emit(progress, event)
