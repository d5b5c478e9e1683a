"""sha256 of a model file, with verify progress and cancel; resumable from an offset.

May import: the ground floor only.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

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
    total = path.stat().st_size
    done = start
    t0 = time.monotonic()
    last = 0.0
    with path.open("rb") as f:
        f.seek(start)
        while block := f.read(_HASH_BLOCK):
            check(cancel)
            h.update(block)
            done += len(block)
            now = time.monotonic()
            if now - last >= 0.1 or done == total:
                last = now
                rate = (done - start) / (now - t0) if now > t0 else None
                emit(
                    progress,
                    Progress(
                        "verify",
                        done,
                        total,
                        rate=rate,
                        unit="B",
                        message=f"Checking sha256 of {path.name}",
                        item=item,
                    ),
                )
    return str(h.hexdigest())
