"""Summary screen: one stored summary, with export, copy, transcript, compare and delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

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
}


class SummaryScreen(EntryScreen):
    SUB_TITLE = "Summary"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("j", "next_section", "Next section", show=False),
        Binding("k", "prev_section", "Previous section", show=False),
        *EXPORT_KEYS,
        Binding("c", "copy", "Copy", show=False, tooltip="Copy summary as Markdown"),
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
