"""Two summaries of the same video side by side (e.g. two models), scrolled together."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from engine.api import backend_label
from tui import format as fmt
from tui.screens.base import VidsumModal, VidsumScreen
from tui.widgets.summary_view import SummaryView
from tui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from engine.library.records import Entry, EntryRow


# How each side's bullets were made (``Provenance.style``): quotes are sentences of the
# transcript, an abstractive summary is the model's own wording.
STYLE_WORDS = {
    "quotes": "quotes (verbatim sentences)",
    "abstractive": "abstractive (model's words)",
}


def pane_title(entry: Entry) -> str:
    """``#4 · style``, the model, then ``where it ran · date``: one line each, so neither a long
    model name nor a server name pushes another out of a half-width pane; a line too long for
    it wraps."""
    p = entry.provenance
    where = backend_label(p.backend, p.endpoint)
    style = STYLE_WORDS.get(p.style, p.style)
    return f"#{entry.id} · {style}\n{p.model_id}\n{where} · {fmt.date(entry.created_at)}"


class CompareScreen(VidsumScreen):
    SUB_TITLE = "Compare"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("j,down", "scroll(1)", "Scroll down", show=False),
        Binding("k,up", "scroll(-1)", "Scroll up", show=False),
        Binding("pagedown,space", "scroll(10)", "Page down", show=False),
        Binding("pageup", "scroll(-10)", "Page up", show=False),
        Binding("x", "swap", "Swap sides"),
    ]

    def __init__(self, left: Entry, right: Entry) -> None:
        super().__init__()
        self.left, self.right = left, right
        self.sub_title = f"Compare · {left.title}"

    def compose(self) -> ComposeResult:
        yield TopBar()
        # The video's whole title (the top bar has room for its start only at 80 columns).
        yield Static(Content(self.left.title), id="compare-title")
        # The titles in one row (as tall as the taller), so the panes below start level.
        with Horizontal(id="pane-titles"):
            for entry in (self.left, self.right):
                yield Static(pane_title(entry), classes="pane-title", markup=False)
        with Horizontal(id="panes"):
            for side, entry in (("left", self.left), ("right", self.right)):
                with VerticalScroll(id=side, can_focus=False, classes="pane"):
                    yield SummaryView(
                        entry,
                        demo_notice=self.engine.demo_notice(entry.provenance.model_id),
                        focusable=False,
                        classes="-compare",
                    )
        yield Footer()

    def action_scroll(self, lines: int) -> None:
        # Both panes move together: the same section stays side by side.
        for pane in self.query(VerticalScroll):
            pane.scroll_relative(y=lines, animate=False)

    async def action_swap(self) -> None:
        self.left, self.right = self.right, self.left
        await self.recompose()

    def action_back(self) -> None:
        self.dismiss()


class PickScreen(VidsumModal[int | None]):
    """Choose which other summary of the video to compare with."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, rows: list[EntryRow]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "Compare with"
            yield OptionList(
                *[
                    Option(
                        f"#{r.id}  {r.model_id}  {backend_label(r.backend, r.endpoint)}  "
                        f"{fmt.date(r.created_at)}",
                        id=str(r.id),
                    )
                    for r in self.rows
                ]
            )

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None
        self.dismiss(int(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)
