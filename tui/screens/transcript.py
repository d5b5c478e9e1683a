"""Transcript viewer: the transcript behind a summary, opened at one section's time range.

With timings (srt, vtt, json) each line is one caption with its start time and the section's
lines are selected. Without timings only the stored text exists, so the position shown is
proportional and says so.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Footer, Static, TextArea
from textual.widgets.text_area import Selection

from engine.errors import VidsumError
from tui import format as fmt
from tui.screens.export import EXPORT_KEYS_UNSHOWN, EntryScreen
from tui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from engine.library.records import Entry


@dataclass(frozen=True)
class TranscriptText:
    lines: list[str]
    starts: list[float] | None  # start time of each line; None: no timings
    note: str = ""  # why the view is approximate, if it is


def timed_lines(segments: Sequence[Any]) -> TranscriptText:
    return TranscriptText(
        [f"{fmt.hms(s.start)}  {s.text}" for s in segments], [s.start for s in segments]
    )


def untimed_lines(text: str, note: str) -> TranscriptText:
    # Sentence-ish lines keep the viewer navigable without inventing structure.
    lines: list[str] = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            line = f"{line} {word}" if line else word
            # Auto-captions have no punctuation: cap the length as well.
            if (word.endswith((".", "?", "!")) and len(line) > 60) or len(line) > 100:
                lines.append(line)
                line = ""
        if line:
            lines.append(line)
    return TranscriptText(lines or [""], None, note)


def section_rows(
    view: TranscriptText, index: int, start: float | None, end: float | None, n_sections: int
) -> tuple[int, int]:
    """First and last line (inclusive) of a section in the view."""
    n = len(view.lines)
    if view.starts is not None and start is not None and end is not None:
        first = max(0, bisect.bisect_right(view.starts, start) - 1)
        last = max(first, bisect.bisect_left(view.starts, end) - 1)
        return first, min(last, n - 1)
    first = n * index // n_sections
    last = max(first, n * (index + 1) // n_sections - 1)
    return first, min(last, n - 1)


class TranscriptScreen(EntryScreen):
    SUB_TITLE = "Transcript"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("n", "section(1)", "Next section"),
        Binding("p", "section(-1)", "Previous section"),
        *EXPORT_KEYS_UNSHOWN,  # the summary this transcript belongs to
    ]

    def __init__(self, entry: Entry, section: int = 0) -> None:
        super().__init__()
        self.entry = entry
        self.section = section
        self.view: TranscriptText | None = None
        self.sub_title = f"Transcript · {entry.title}"

    def compose(self) -> ComposeResult:
        yield TopBar()
        yield Static("Loading the transcript…", id="where")
        yield TextArea("", read_only=True, soft_wrap=True, id="transcript")
        yield Footer()

    def current_entry(self) -> tuple[int, str] | None:
        return self.entry.id, self.entry.title

    def on_mount(self) -> None:
        entry = self.entry
        source = entry.transcript.source_path

        def load() -> TranscriptText:
            # The source file has the timings; the library keeps the text in case it moved.
            try:
                transcript = self.engine.load_transcript(Path(source))
            except (VidsumError, OSError):
                return untimed_lines(
                    entry.transcript.text,
                    f"{source} could not be read; showing the stored text, positions approximate",
                )
            if transcript.segments:
                return timed_lines(transcript.segments)
            return untimed_lines(
                transcript.text, "this transcript has no timings; positions approximate"
            )

        self.call_engine(load, self._loaded, group="transcript")

    def _loaded(self, view: TranscriptText) -> None:
        self.view = view
        area = self.query_one(TextArea)
        area.load_text("\n".join(view.lines))
        self._select()
        area.focus()

    def _select(self) -> None:
        view = self.view
        if view is None:
            return
        sections = self.entry.summary.sections
        self.section = max(0, min(len(sections) - 1, self.section))
        s = sections[self.section]
        first, last = section_rows(view, self.section, s.start, s.end, len(sections))
        area = self.query_one(TextArea)
        # Selection ends at its start so the cursor, and the scroll, land on the first line.
        area.selection = Selection((last, len(view.lines[last])), (first, 0))
        area.scroll_cursor_visible(center=True, animate=False)
        span = fmt.time_range(s.start, s.end)
        where = s.title + (f"  {span}" if span else "")
        if view.note:
            where += f"  ({view.note})"
        self.query_one("#where", Static).update(Content(where))

    def action_section(self, delta: int) -> None:
        self.section += delta
        self._select()

    def action_back(self) -> None:
        self.dismiss()
