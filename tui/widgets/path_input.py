"""Path entry with shell-like completion (→ or End accepts), and a transcript-only file tree."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import DirectoryTree

from tui.queue import TRANSCRIPT_SUFFIXES


def complete_path(value: str, cwd: Path) -> str | None:
    """The first directory entry completing the last component of ``value`` (dirs end in /)."""
    if not value:
        return None
    expanded = os.path.expanduser(value)
    head, tail = os.path.split(expanded)
    base = Path(head) if head else cwd
    if not base.is_absolute():
        base = cwd / base
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return None
    for name in names:
        if name.startswith(tail) and (tail.startswith(".") or not name.startswith(".")):
            full = base / name
            if not full.is_dir() and full.suffix.lower() not in TRANSCRIPT_SUFFIXES:
                continue
            completion = value[: len(value) - len(tail)] + name
            if full.is_dir():
                completion += os.sep
            return completion if completion != value else None
    return None


class PathSuggester(Suggester):
    """Completes file system paths; directory listing runs off the event loop."""

    def __init__(self, cwd: Path) -> None:
        # Paths are case-sensitive, and the file system changes: no cache.
        super().__init__(use_cache=False, case_sensitive=True)
        self.cwd = cwd

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value, self.cwd)


class TranscriptTree(DirectoryTree):
    """Directories and transcript files only; hidden entries left out. Backspace goes up a
    folder and ``~`` home; the folder shown is the border title."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("backspace", "up", "Up a folder"),
        Binding("tilde", "home", "Home folder"),
    ]

    class RootChanged(Message):
        """The tree now shows another folder."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def on_mount(self) -> None:
        self.border_title = str(self.path)

    def go_to(self, folder: Path) -> None:
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            return
        self.path = folder
        self.border_title = str(folder)
        self.post_message(self.RootChanged(folder))

    def action_up(self) -> None:
        self.go_to(Path(self.path).resolve().parent)

    def action_home(self) -> None:
        self.go_to(Path.home())

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p
            for p in paths
            if not p.name.startswith(".")
            and (p.is_dir() or p.suffix.lower() in TRANSCRIPT_SUFFIXES)
        ]
