"""Where the Summarize screen's queue runs: this machine or a set of server profiles ("Run on",
o), chosen for the session, shown under the path, and checked against the profiles as listed.

A base of ``SummarizeScreen`` so that screen keeps to the queue; the picker itself is
``tui.screens.run_on.RunOnScreen``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Select, Static

from tui.screens.export import EntryScreen
from tui.screens.run_on import RunOnScreen, choice_label

if TYPE_CHECKING:
    from engine.batch.server_checks import LastCheck
    from engine.runtime.base import ServerProfile


class RunOnChoice(EntryScreen):
    """The "Run on" choice of a screen with ``#model`` (a Select) and ``#runs-on`` (a Static)."""

    server_names: list[str]  # the profiles, as last listed

    def _show_detail(self) -> None:
        """Redraw what depends on the choice (the subclass's detail pane)."""
        raise NotImplementedError

    def _set_servers(self, profiles: list[ServerProfile]) -> None:
        self.server_names = [p.name for p in profiles]
        gone = [n for n in self.vidsum.run_on if n not in self.server_names]
        if gone:  # removed with `vidsum servers rm` meanwhile
            rest = tuple(n for n in self.vidsum.run_on if n not in gone)
            self.notify(
                f"No server profile named {', '.join(gone)} any more; the queue runs on "
                f"{choice_label(rest)}.",
                severity="warning",
                markup=False,
            )
            self.set_run_on(rest)
        self.query_one("#runs-on", Static).set_class(not profiles, "-hidden")
        self._show_run_on()

    def chosen_servers(self) -> list[str]:
        """The server profiles the next batch runs on; [] for this machine."""
        return list(self.vidsum.run_on)

    def set_run_on(self, servers: tuple[str, ...]) -> None:
        """Run the next batches on these servers (() for this machine), for this session."""
        self.vidsum.run_on = servers
        self._show_run_on()
        self._show_detail()

    def _show_run_on(self) -> None:
        servers = self.vidsum.run_on
        self.query_one("#runs-on", Static).update(f"Run on (o): {choice_label(servers)}")
        # The model choice is this machine's: a server runs the model it serves.
        self.query_one("#model", Select).disabled = bool(servers)

    def action_run_on(self) -> None:
        """List the profiles afresh (one may have been added since), then open the picker."""

        def profiles_and_checks() -> tuple[list[ServerProfile], dict[str, LastCheck]]:
            return self.engine.list_servers(), self.engine.last_server_checks()

        self.call_engine(
            profiles_and_checks, lambda got: self._pick_run_on(*got), group="run-on", exclusive=True
        )

    def _pick_run_on(self, profiles: list[ServerProfile], checks: dict[str, LastCheck]) -> None:
        self.vidsum.server_states.stored = checks  # the picker says what the last check found
        self._set_servers(profiles)
        if self.app.screen is not self:
            return  # a picker is open already (o twice), or the user went elsewhere meanwhile
        if not profiles:
            self.notify(
                "The queue runs on this machine. Add an inference server with "
                "`vidsum servers add NAME --url URL`.",
                markup=False,
            )
            return

        def chosen(servers: tuple[str, ...] | None) -> None:
            if servers is not None:  # None: Escape keeps the previous choice
                self.set_run_on(servers)

        self.app.push_screen(
            RunOnScreen(profiles, self.vidsum.server_states, self.vidsum.run_on), chosen
        )
