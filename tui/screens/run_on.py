"""The Summarize screen's "Run on" picker: this machine, or any set of server profiles.

One line per choice: "This machine", then each server with its URL and its last check state
(the words of the Models screen's table). Space toggles, Enter confirms, Escape keeps the
previous choice. This machine and servers do not mix (a batch runs either in the local worker
or over servers), so choosing one clears the other; an empty choice is refused in the dialog.
The answer is the chosen server names, ``()`` for this machine, or ``None`` (cancelled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from tui.screens.base import VidsumModal
from tui.widgets.server_table import short

if TYPE_CHECKING:
    from engine.runtime.base import ServerProfile
    from tui.widgets.server_table import ServerStates

LOCAL = "@local"  # server names start with a letter or digit, so this is no server's
HINT = "Space toggles, Enter confirms, Esc keeps the last choice."
EMPTY = "Choose this machine or at least one server (Space toggles), then Enter."
URL_WIDTH = 30
STATE_WIDTH = 30


def choice_label(servers: tuple[str, ...]) -> str:
    """Where the queue runs, in a few words (the Summarize screen shows it)."""
    return ", ".join(servers) if servers else "this machine"


def lines(profiles: list[ServerProfile], states: ServerStates) -> list[tuple[str, str]]:
    """(value, text) per choice: names and URLs in columns, then the check state."""
    name_w = max((len(p.name) for p in profiles), default=0)
    url_w = min(URL_WIDTH, max((len(p.url) for p in profiles), default=0))
    rows = [(LOCAL, "This machine")]
    for p in profiles:
        url = short(p.url, URL_WIDTH)
        rows.append(
            (
                p.name,
                f"{p.name:<{name_w}}  {url:<{url_w}}  {short(states.label(p.name), STATE_WIDTH)}",
            )
        )
    return rows


class RunOnScreen(VidsumModal[tuple[str, ...] | None]):
    """Pick where the Summarize queue runs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: the list's own Enter would toggle the line, as Space does.
        Binding("enter", "confirm", "Run there", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self, profiles: list[ServerProfile], states: ServerStates, current: tuple[str, ...]
    ) -> None:
        super().__init__()
        self.profiles = profiles
        self.states = states
        self.current = current

    def compose(self) -> ComposeResult:
        chosen = set(self.current) or {LOCAL}
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "Run the queue on"
            yield SelectionList[str](
                *[
                    Selection(Content(text), value, value in chosen)
                    for value, text in lines(self.profiles, self.states)
                ],
                id="run-on-list",
            )
            yield Static(HINT, id="run-on-note", markup=False)

    @property
    def picks(self) -> SelectionList[str]:
        return self.query_one("#run-on-list", SelectionList)

    @on(SelectionList.SelectionToggled)
    def _toggled(self, event: SelectionList.SelectionToggled[str]) -> None:
        value = event.selection.value
        picks = self.picks
        if value in picks.selected:
            for other in [LOCAL] if value != LOCAL else [p.name for p in self.profiles]:
                picks.deselect(other)
        note = self.query_one("#run-on-note", Static)
        note.update(HINT)
        note.remove_class("-error")

    def chosen(self) -> tuple[str, ...] | None:
        """The servers picked (in the list's order), () for this machine, None for nothing."""
        selected = set(self.picks.selected)
        if not selected:
            return None
        return tuple(p.name for p in self.profiles if p.name in selected)

    def action_confirm(self) -> None:
        chosen = self.chosen()
        if chosen is None:
            note = self.query_one("#run-on-note", Static)
            note.update(EMPTY)
            note.add_class("-error")
            return
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)
