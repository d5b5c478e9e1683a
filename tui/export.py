"""The suggested file name for an exported summary (``Engine.export_to_file`` writes it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

Format = Literal["json", "md"]


def export_path(directory: Path, entry_id: int, title: str, fmt: Format) -> Path:
    """``<dir>/<title-slug>-<id>.<ext>``: readable, and unique per summary."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:60] or "summary"
    return directory / f"{slug}-{entry_id}.{fmt}"
