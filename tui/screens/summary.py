"""Summary screen: one stored summary, with export, copy, transcript, compare and delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from engine.timefmt import video_time_url
from tui.screens.export import EXPORT_KEYS, EntryScreen
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


class SummaryScreen(EntryScreen):
    SUB_TITLE = "Summary"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("j", "next_section", "Next section", show=False),
        Binding("k", "prev_section", "Previous section", show=False),
        *EXPORT_KEYS,
        Binding("c", "copy", "Copy", show=False, tooltip="Copy summary as Markdown"),
        Binding("]", "next_line", "Next line", show=False),
        Binding("[", "prev_line", "Previous line", show=False),
        # Not in the footer (no room at 80 columns): the screen says them when the video is known.
        Binding(
            "l",
            "copy_link",
            "Link",
            show=False,
            tooltip="Copy the link to the video at the highlighted line",
        ),
        Binding(
            "o", "open_link", "Video", show=False, tooltip="Open the video at the highlighted line"
        ),
        Binding("t", "transcript", "Transcript", tooltip="Show transcript"),
        Binding("v", "compare", "Compare", tooltip="Compare with another summary of this video"),
        Binding("d", "delete", "Delete", tooltip="Delete summary"),
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
        if video_time_url(entry.transcript.url, entry.transcript.video_id, 0) is not None:
            # The link keys are not in the footer (no room at 80 columns): say them here.
            body.mount(
                Static(
                    "[ ] picks a line · l copies its link to the video · o opens it",
                    id="link-keys",
                    markup=False,
                )
            )
        body.mount(
            SummaryView(entry, demo_notice=self.engine.demo_notice(entry.provenance.model_id))
        )
        # The body takes focus (arrows scroll from the top); j/k step through the sections.
        body.focus()
        self.refresh_bindings()

    def _failed(self, exc: Exception) -> None:
        self.vidsum.report_error(exc)
        self.query_one("#loading", Static).update("This summary could not be loaded.")

    def current_entry(self) -> tuple[int, str] | None:
        return (self.entry.id, self.entry.title) if self.entry is not None else None

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
