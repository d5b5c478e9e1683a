"""The Models screen's "Servers" table: each inference-server profile and its check state.

Profiles are added and removed with the CLI (``vidsum servers add|rm``); this table lists them
and shows what the last ``Engine.check_server`` said. The checks themselves run in the screen's
thread workers; their states live in the app's ``ServerStates`` (the session's, so the Summarize
screen's Run-on picker shows the same words), and this widget draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

if TYPE_CHECKING:
    from engine.pipeline.server_batch import ServerCheck
    from engine.runtime.base import ServerProfile

NO_SERVERS = "No inference servers. Add one with `vidsum servers add NAME --url URL`."
HINT = "s checks the highlighted server, S all; `vidsum servers add|rm` edits the list."
STATE_WIDTH = 36  # the full reason is in the line under the table
KEYS = ("name", "state", "slots", "dialect", "model", "url")
LABELS = ("Server", "Check", "Slots", "Dialect", "Model", "URL")


def check_label(check: ServerCheck) -> str:
    """The check state in a few words, as the table shows it."""
    if check.grammar == "honoured":
        return "ok: grammar honoured"
    if check.grammar == "schema-only":
        return "schema-only"
    if check.grammar == "ignored":
        return "refused: ignores grammars"
    reason = check.error or "no answer"
    return ("unreachable: " if check.info is None else "check failed: ") + reason


def short(text: str, width: int = STATE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class ServerStates:
    """The session's server checks: the last result of each, and those running now. Not
    stored anywhere: a check says how a server answered, which only holds for a while."""

    checks: dict[str, ServerCheck] = field(default_factory=dict)
    checking: set[str] = field(default_factory=set)

    def label(self, name: str) -> str:
        """The state in a few words: "checking…", the last check's label, or "not checked"."""
        if name in self.checking:
            return "checking…"
        check = self.checks.get(name)
        return check_label(check) if check is not None else "not checked"


class ServerTable(Vertical):
    """Title, table (name, check state, slots, dialect, model, URL) and a detail line."""

    DEFAULT_CSS = """
    ServerTable { height: auto; max-height: 12; }
    ServerTable #servers-title { padding: 0 1; text-style: bold; }
    ServerTable #servers { height: auto; max-height: 8; }
    ServerTable #servers-detail { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, states: ServerStates | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.profiles: dict[str, ServerProfile] = {}
        self.states = states if states is not None else ServerStates()

    def compose(self) -> ComposeResult:
        yield Static("Servers", id="servers-title")
        table: DataTable[str] = DataTable(
            id="servers", cursor_type="row", zebra_stripes=True, classes="-hidden"
        )
        # The check state first: on a narrow terminal the URL is what scrolls out of view.
        for label, key in zip(LABELS, KEYS, strict=True):
            table.add_column(label, key=key)
        yield table
        yield Static("Loading the server list…", id="servers-detail")

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#servers", DataTable)

    def set_profiles(self, profiles: list[ServerProfile]) -> None:
        keep = self.selected()
        self.profiles = {p.name: p for p in profiles}
        for gone in set(self.states.checks) - set(self.profiles):
            del self.states.checks[gone]
        table = self.table
        table.clear()
        for p in profiles:
            table.add_row(*self._cells(p.name), key=p.name)
        table.set_class(not profiles, "-hidden")
        if keep in self.profiles:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self.show_detail()

    def _cells(self, name: str) -> tuple[str, ...]:
        p, check = self.profiles[name], self.states.checks.get(name)
        info = check.info if check is not None else None
        dialect = info.dialect if info else (p.dialect or "auto")
        model = (info.model if info else p.model) or "—"
        slots = str(info.slots) if info else (str(p.concurrency) if p.concurrency else "auto")
        return (p.name, short(self.state(name)), slots, dialect, short(model, 28), p.url)

    def state(self, name: str) -> str:
        return self.states.label(name)

    def set_checking(self, name: str) -> None:
        self.states.checking.add(name)
        self._redraw(name)

    def set_check(self, name: str, check: ServerCheck | None) -> None:
        """A check ended: its result, or None when it was cancelled or failed."""
        self.states.checking.discard(name)
        if check is not None:
            self.states.checks[name] = check
        self._redraw(name)

    def _redraw(self, name: str) -> None:
        if name not in self.profiles:
            return
        table = self.table
        for key, value in zip(KEYS, self._cells(name), strict=True):
            table.update_cell(name, key, value, update_width=True)
        if name == self.selected():
            self.show_detail()

    def selected(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def show_detail(self) -> None:
        name = self.selected()
        if name is None:
            text = NO_SERVERS
        else:
            check = self.states.checks.get(name)
            checking = name in self.states.checking
            said = check_label(check) if check is not None and not checking else ""
            text = f"{name}: {said}" if len(said) > STATE_WIDTH else HINT
        self.query_one("#servers-detail", Static).update(Content(text))
