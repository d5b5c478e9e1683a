"""Summary screen: one stored summary, with export, copy, transcript, compare and delete."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from engine.errors import ExportExists
from engine.timefmt import video_time_url
from tui.export import Format, export_path
from tui.screens.base import VidsumScreen
from tui.widgets.summary_view import SectionView, SummaryView
from tui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from engine.library.records import Entry, EntryRow

# Actions that need the entry loaded (greyed out in the footer until it is).
ENTRY_ACTIONS = {
    "export",
    "copy",
    "transcript",
    "compare",
    "delete",
    "next_section",
    "prev_section",
    "next_line",
    "prev_line",
    "copy_link",
    "open_link",
}
# Shown once the entry is loaded only when its transcript names a video that opens at a time.
LINK_ACTIONS = {"next_line", "prev_line", "copy_link", "open_link"}


class SummaryScreen(VidsumScreen):
    SUB_TITLE = "Summary"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("j", "next_section", "Next section", show=False),
        Binding("k", "prev_section", "Previous section", show=False),
        Binding("e", "export('json')", "JSON"),
        Binding("m", "export('md')", "MD"),
        Binding("c", "copy", "Copy"),
        Binding("]", "next_line", "Next line", show=False),
        Binding("[", "prev_line", "Previous line", show=False),
        Binding("l", "copy_link", "Link"),
        Binding("o", "open_link", "Video"),
        Binding("t", "transcript", "Transcript"),
        Binding("v", "compare", "Compare"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self, entry_id: int, *, title: str = "") -> None:
        super().__init__()
        self.entry_id = entry_id
        self.entry: Entry | None = None
        self.sub_title = title or f"Summary #{entry_id}"

    def compose(self) -> ComposeResult:
        yield TopBar()
        with VerticalScroll(id="body"):
            yield Static("Loading…", id="loading")
        yield Footer()

    def on_mount(self) -> None:
        self.call_engine(
            lambda: self.engine.get_entry(self.entry_id),
            self._show,
            group="summary",
            on_error=self._failed,
        )

    def _show(self, entry: Entry) -> None:
        self.entry = entry
        self.sub_title = entry.title
        body = self.query_one("#body", VerticalScroll)
        body.remove_children()
        body.mount(
            SummaryView(entry, demo_notice=self.engine.demo_notice(entry.provenance.model_id))
        )
        # The body takes focus (arrows scroll from the top); j/k step through the sections.
        body.focus()
        self.refresh_bindings()

    def _failed(self, exc: Exception) -> None:
        self.vidsum.report_error(exc)
        self.query_one("#loading", Static).update("This summary could not be loaded.")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ENTRY_ACTIONS and self.entry is None:
            return None  # shown, but disabled
        if action in LINK_ACTIONS and self.entry is not None:
            # Only where there is a video to open: the footer has no room to spare at 80 columns.
            t = self.entry.transcript
            return video_time_url(t.url, t.video_id, 0) is not None
        return True

    # --- sections ---------------------------------------------------------------------------

    @property
    def sections(self) -> list[SectionView]:
        return list(self.query(SectionView))

    @property
    def current_section(self) -> int:
        """The focused section; -1 before j/k has picked one."""
        focused = self.focused
        return focused.index if isinstance(focused, SectionView) else -1

    def _focus_section(self, index: int) -> None:
        sections = self.sections
        if sections:
            target = sections[max(0, min(len(sections) - 1, index))]
            target.focus()
            target.scroll_visible(animate=False)

    def action_next_section(self) -> None:
        self._focus_section(self.current_section + 1)

    def action_prev_section(self) -> None:
        self._focus_section(max(0, self.current_section - 1))

    # --- links to the video ------------------------------------------------------------------

    def _highlighted_section(self) -> SectionView | None:
        """The focused section (the first one when none is): its highlighted line is linked."""
        if self.current_section < 0:
            self._focus_section(0)
            sections = self.sections
            return sections[0] if sections else None
        focused = self.focused
        return focused if isinstance(focused, SectionView) else None

    def action_next_line(self) -> None:
        section = self._highlighted_section()
        if section is not None:
            section.move_highlight(+1)

    def action_prev_line(self) -> None:
        section = self._highlighted_section()
        if section is not None:
            section.move_highlight(-1)

    def highlighted_link(self) -> str | None:
        """The link to the video at the highlighted line; None (and a note saying why) when
        the summary has no times (the keys are only offered when the video is known)."""
        entry, section = self.entry, self._highlighted_section()
        assert entry is not None
        at = section.highlighted_time if section is not None else None
        t = entry.transcript
        link = video_time_url(t.url, t.video_id, at) if at is not None else None
        if link is None:
            self.notify(
                "No link to the video: this summary has no times (its transcript is untimed).",
                title="Link",
                severity="warning",
            )
        return link

    def action_copy_link(self) -> None:
        link = self.highlighted_link()
        if link is not None:
            self.app.copy_to_clipboard(link)
            self.notify(f"Copied {link}", title="Link", markup=False)

    def action_open_link(self) -> None:
        link = self.highlighted_link()
        if link is not None:
            self.app.open_url(link)
            self.notify(f"Opening {link}", title="Link", markup=False)

    # --- actions ----------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    def action_export(self, fmt: Format) -> None:
        """Ask where (the remembered folder, prefilled), then write through the engine."""
        entry = self.entry
        assert entry is not None
        given = self.vidsum.export_dir

        def ask(folder: Path) -> None:
            from tui.screens.export import ExportScreen

            what = "as JSON" if fmt == "json" else "as Markdown"
            self.app.push_screen(
                ExportScreen(export_path(folder, entry.id, entry.title, fmt), what=what),
                lambda chosen: self._write_export(entry.id, fmt, folder, chosen),
            )

        if given is not None:
            ask(given)
        else:
            self.call_engine(self.engine.export_dir, ask, group="export")

    def _write_export(
        self,
        entry_id: int,
        fmt: Format,
        folder: Path,
        chosen: Path | None,
        overwrite: bool = False,
    ) -> None:
        if chosen is None:
            return

        def write() -> Path:
            written = self.engine.export_to_file(entry_id, fmt, chosen, overwrite=overwrite)
            if written.parent != folder:
                self.engine.set_export_dir(written.parent)  # remembered for the next export
                if self.vidsum.export_dir is not None:
                    self.vidsum.export_dir = written.parent
            return written

        self.call_engine(
            write,
            lambda written: self.notify(
                f"Exported to {written}", title="Export", markup=False, timeout=10
            ),
            group="export",
            on_error=lambda exc: self._export_failed(exc, entry_id, fmt, folder, chosen),
        )

    def _export_failed(
        self, exc: Exception, entry_id: int, fmt: Format, folder: Path, chosen: Path
    ) -> None:
        """A file already there is replaced only when the user says so."""
        from tui.screens.confirm import ConfirmScreen

        if not isinstance(exc, ExportExists):
            self.vidsum.report_error(exc)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._write_export(entry_id, fmt, folder, chosen, overwrite=True)

        self.app.push_screen(
            ConfirmScreen(
                f"{chosen} already exists. Replace it with this export?",
                confirm="Replace",
                title="Export",
            ),
            answered,
        )

    def action_copy(self) -> None:
        entry = self.entry
        assert entry is not None

        def copied(text: str) -> None:
            self.app.copy_to_clipboard(text)
            self.notify(f"Copied the summary as Markdown ({len(text):,} characters).", title="Copy")

        self.call_engine(lambda: self.engine.export_entry(entry.id, "md"), copied, group="copy")

    def action_transcript(self) -> None:
        from tui.screens.transcript import TranscriptScreen

        assert self.entry is not None
        self.app.push_screen(TranscriptScreen(self.entry, max(0, self.current_section)))

    def action_compare(self) -> None:
        entry = self.entry
        assert entry is not None
        self.call_engine(
            lambda: self.engine.same_video(entry.id), self._pick_other, group="compare"
        )

    def _pick_other(self, others: list[EntryRow]) -> None:
        from tui.screens.compare import CompareScreen, PickScreen

        assert self.entry is not None
        left = self.entry
        if not others:
            self.notify(
                "No other summary of this video is in the library. Summarize the same "
                "transcript with another model to compare.",
                title="Compare",
            )
            return

        def open_compare(other_id: int | None) -> None:
            if other_id is not None:
                self.call_engine(
                    lambda: self.engine.get_entry(other_id),
                    lambda right: self.app.push_screen(CompareScreen(left, right)),
                    group="compare",
                )

        if len(others) == 1:
            open_compare(others[0].id)
        else:
            self.app.push_screen(PickScreen(others), open_compare)

    def action_delete(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        entry = self.entry
        assert entry is not None

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_engine(lambda: self.engine.delete_entry(entry.id), deleted)

        def deleted(_: None) -> None:
            self.notify(f"Deleted “{entry.title}” from the library.", markup=False)
            self.dismiss()

        self.app.push_screen(
            ConfirmScreen(
                f"Delete the summary of “{entry.title}” ({entry.provenance.model_id}) from the "
                "library? The transcript file is not touched.",
                title="Delete summary",
            ),
            answered,
        )
