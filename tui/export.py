"""Writing an exported summary to a file the user can find (the directory vidsum started in)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Literal

Format = Literal["json", "md"]


def export_path(directory: Path, entry_id: int, title: str, fmt: Format) -> Path:
    """``<dir>/<title-slug>-<id>.<ext>``: readable, and unique per summary."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:60] or "summary"
    return directory / f"{slug}-{entry_id}.{fmt}"


def write_export(path: Path, text: str) -> Path:
    """Atomic: a crash leaves the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
