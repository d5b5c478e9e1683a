"""The Models screen's "Servers" table: each inference-server profile and its check state.

Profiles are added and removed with the CLI (``vidsum servers add|rm``); this table lists them
and shows what the last ``Engine.check_server`` said: this session's check, else the last one
the engine kept (``Engine.last_server_checks``: a `vidsum servers check` too), with its time.
The checks themselves run in the screen's thread workers; their states live in the app's
``ServerStates`` (so the Summarize screen's Run-on picker shows the same words), and this widget
draws them. Below 100 columns the model and URL leave the table for the line under it, so
nothing in the table is cut at 80.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

if TYPE_CHECKING:
    from engine.batch.server_checks import LastCheck
    from engine.batch.servers import ServerCheck
    from engine.runtime.base import ServerProfile

NO_SERVERS = "No inference servers. Add one with `vidsum servers add NAME --url URL`."
HINT = "s checks the highlighted server, S all; `vidsum servers add|rm` edits the list."
STATE_WIDTH = 36  # the full reason is in the line under the table
KEYS = ("name", "state", "slots", "dialect", "model", "url")
LABELS = ("Server", "Check", "Slots", "Dialect", "Model", "URL")
NARROW_KEYS = KEYS[:4]  # below WIDE columns: model and URL are said under the table
WIDE = 100


def check_words(grammar: str, error: str | None, reached: bool) -> str:
    """A check's result in a few words, as the table shows it."""
    if grammar == "honoured":
        return "ok: grammar honoured"
    if grammar == "schema-only":
        return "schema-only"
    if grammar == "ignored":
        return "refused: ignores grammars"
    reason = error or "no answer"
    return ("check failed: " if reached else "unreachable: ") + reason


def check_label(check: ServerCheck) -> str:
    """This session's check in a few words."""
    return check_words(check.grammar, check.error, check.info is not None)


def stored_label(last: LastCheck) -> str:
    """A kept check (maybe from the CLI) in a few words."""
    return check_words(last.grammar, last.message, last.reached)


def short(text: str, width: int = STATE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class ServerStates:
    """The session's server checks: the last result of each, and those running now. Not
    stored anywhere: a check says how a server answered, which only holds for a while."""

    checks: dict[str, ServerCheck] = field(default_factory=dict)
    checking: set[str] = field(default_factory=set)
    stored: dict[str, LastCheck] = field(default_factory=dict)  # the engine's, any face's

    def label(self, name: str) -> str:
        """The state in a few words: "checking…", the last check's label, or "not checked"."""
        if name in self.checking:
            return "checking…"
        check, last = self.checks.get(name), self.stored.get(name)
        if check is not None:
            return check_label(check)
        return stored_label(last) if last is not None else "not checked"

    def when(self, name: str) -> str:
        """When the last check ran ("" for none): the engine records every check."""
        last = self.stored.get(name)
        return last.when if last is not None else ""


class ServerTable(Vertical):
    """Title, table (name, check state, slots, dialect, model, URL) and a detail line."""

    DEFAULT_CSS = """
    ServerTable { height: auto; max-height: 12; }
    ServerTable #servers-title { padding: 0 1; text-style: bold; }
    ServerTable #servers { height: auto; max-height: 8; }
    ServerTable #servers-detail { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, states: ServerStates | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.profiles: dict[str, ServerProfile] = {}
        self.states = states if states is not None else ServerStates()
        self.keys: tuple[str, ...] = ()  # the columns shown (set by the first resize)

    def compose(self) -> ComposeResult:
        yield Static("Servers", id="servers-title")
        yield DataTable(id="servers", cursor_type="row", zebra_stripes=True, classes="-hidden")
        yield Static("Loading the server list…", id="servers-detail")

    def on_resize(self, event: events.Resize) -> None:
        keys = KEYS if event.size.width >= WIDE else NARROW_KEYS
        if keys != self.keys:
            self.keys = keys
            self._refill(rebuild=True)

    def _refill(self, *, rebuild: bool = False) -> None:
        table, keep = self.table, self.selected()
        table.clear(columns=rebuild)
        if rebuild:
            for label, key in zip(LABELS, KEYS, strict=True):
                if key in self.keys:
                    table.add_column(label, key=key)
        for name in self.profiles:
            table.add_row(*self._cells(name), key=name)
        if keep in self.profiles:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self.show_detail()

    def set_stored(self, stored: dict[str, LastCheck]) -> None:
        """The engine's last check of each server (from either face)."""
        self.states.stored = stored
        for name in self.profiles:
            self._redraw(name)
        self.show_detail()

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#servers", DataTable)

    def set_profiles(self, profiles: list[ServerProfile]) -> None:
        self.profiles = {p.name: p for p in profiles}
        for gone in set(self.states.checks) - set(self.profiles):
            del self.states.checks[gone]
        self.table.set_class(not profiles, "-hidden")
        if self.keys:
            self._refill()

    def _model_slots_dialect(self, name: str) -> tuple[str, str, str]:
        """What the last check found (this session's, else the kept one), else the profile's."""
        p, check, last = self.profiles[name], self.states.checks.get(name), None
        info = check.info if check is not None else None
        if info is not None:
            return info.model or "—", str(info.slots), info.dialect
        if check is None and (last := self.states.stored.get(name)) and last.reached:
            return last.model or "—", str(last.slots or "?"), last.dialect or "?"
        slots = str(p.concurrency) if p.concurrency else "auto"
        return p.model or "—", slots, p.dialect or "auto"

    def _cells(self, name: str) -> tuple[str, ...]:
        model, slots, dialect = self._model_slots_dialect(name)
        url = self.profiles[name].url
        cells = (name, short(self.state(name)), slots, dialect, short(model, 28), url)
        by_key = dict(zip(KEYS, cells, strict=True))
        return tuple(by_key[k] for k in self.keys)

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
        if not self.keys or name not in table.rows:
            return
        for key, value in zip(self.keys, self._cells(name), strict=True):
            table.update_cell(name, key, value, update_width=True)
        if name == self.selected():
            self.show_detail()

    def selected(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def show_detail(self) -> None:
        """The highlighted server: its URL and model where the table has no room for them,
        a check result too long for its cell, and when the last check ran."""
        name = self.selected()
        if name is None:
            text = NO_SERVERS if not self.profiles else HINT
        else:
            said = "" if name in self.states.checking else self.state(name)
            parts = []
            if self.keys == NARROW_KEYS:
                model = self._model_slots_dialect(name)[0]
                parts.append(f"{self.profiles[name].url}, model {model}")
            if len(said) > STATE_WIDTH:
                parts.append(said)
            if self.states.when(name) and name not in self.states.checking:
                parts.append(f"checked {self.states.when(name)}")
            text = f"{name}: " + " · ".join(parts) if parts else HINT
        self.query_one("#servers-detail", Static).update(Content(text))
