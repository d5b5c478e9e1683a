"""The vidsum terminal UI: library, summarize queue and model manager, all by keyboard.

Three modes (one screen stack each) so a running queue or download keeps its screen while
the user browses the library. The app talks to ``engine.api.Engine`` only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen

from engine.api import Engine, EngineAPI
from engine.errors import VidsumError
from tui.screens.compare import CompareScreen
from tui.screens.library import LibraryScreen
from tui.screens.models import ModelsScreen
from tui.screens.summarize import SummarizeScreen
from tui.screens.summary import SummaryScreen
from tui.screens.transcript import TranscriptScreen
from tui.widgets.entry_table import EntryTable
from tui.widgets.path_input import TranscriptTree
from tui.widgets.server_table import ServerStates

if TYPE_CHECKING:
    from tui.host import VidsumHost

MODE_TITLES: dict[str, str] = {
    "library": "Library",
    "summarize": "Summarize files",
    "models": "Models and hardware",
}


# Keys that mean nothing from another screen (cursor, focus, back, and actions on the summary
# highlighted there), left out of the palette's lists of the other screens' actions.
NOT_FROM_ELSEWHERE = (
    "move",
    "focus_queue",
    "back",
    "quit",
    "help",
    "command_palette",
    "export",
    "retry",
)


# Moving a cursor or switching mode by key: not commands (the palette has "Go to ..." for modes).
NOT_COMMANDS = ("cursor_", "page_", "first", "last", "move", "scroll", "switch_mode", "focus_queue")


def palette_label(binding: Binding) -> str:
    """The full label: the tooltip where the footer's word is short ("JSON"), else the word."""
    return binding.tooltip or binding.description


def vidsum_keys(node: DOMNode) -> set[tuple[str, str]]:
    """(key, action) of every binding vidsum's own classes declare in the node's class tree:
    Textual's (ctrl+q, cursor keys, copy) are not vidsum actions."""
    return {
        (key.strip(), b.action)
        for cls in type(node).__mro__
        if cls.__module__.split(".")[0] == "tui"
        for b in cls.__dict__.get("BINDINGS", ())
        if isinstance(b, Binding)
        for key in b.key.split(",")
    }


class VidsumApp(App[int]):
    TITLE = "vidsum"
    CSS_PATH = "vidsum.tcss"
    ENABLE_COMMAND_PALETTE = True
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "library": LibraryScreen,
        "summarize": SummarizeScreen,
        "models": ModelsScreen,
    }
    DEFAULT_MODE: ClassVar[str] = "library"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Quit vidsum"),
        # Not in the footer: the top bar says "? help" on every screen.
        Binding("question_mark", "help", "Help", show=False),
        Binding("1", "switch_mode('library')", "Library", show=False),
        Binding("2", "switch_mode('summarize')", "Summarize", show=False),
        Binding("3", "switch_mode('models')", "Models", show=False),
    ]

    def __init__(
        self,
        engine: EngineAPI | None = None,
        *,
        export_dir: Path | None = None,
        start_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.engine: EngineAPI = engine if engine is not None else Engine()
        # The export dialog's folder: this one if given (tests), else the engine's choice (the
        # folder used last, else Downloads or home; never the folder vidsum started in).
        self.export_dir = export_dir
        self.start_dir = (start_dir or Path.cwd()).resolve()
        # The folder the browser shows next: the last one used in this session.
        self.browse_dir = self.start_dir
        # Server checks (Models screen) and where the queue runs ("Run on", o: server profile
        # names, () for this machine): both for this session only, never written to settings.
        self.server_states = ServerStates()
        self.run_on: tuple[str, ...] = ()

    def on_load(self) -> None:
        # While the app runs, Textual replaces sys.stderr with an object whose fileno() is -1.
        # The first llama.cpp worker (a spawned process) starts multiprocessing's resource
        # tracker, which hands stderr's fd to its child and fails there with "bad value(s) in
        # fds_to_keep": no summary could be made. Start the tracker now, before the redirect.
        if os.name == "posix":
            from multiprocessing import resource_tracker

            resource_tracker.ensure_running()

    # --- actions ----------------------------------------------------------------------------

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_sections()))

    async def action_quit(self) -> None:
        """Quit at once when nothing runs; otherwise ask first and say what would be lost."""
        lost = self.work_in_progress()
        if not lost:
            self._quit_now()
            return
        from tui.screens.confirm import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):
            return
        what = "; ".join(lost)
        self.push_screen(
            ConfirmScreen(
                f"{what[0].upper()}{what[1:]}. Quit anyway?", confirm="Quit", title="Quit vidsum"
            ),
            lambda yes: self._quit_now() if yes else None,
        )

    def _quit_now(self) -> None:
        self.cancel_long_work()
        self.exit(0)

    def work_in_progress(self) -> list[str]:
        """What quitting now would lose, one phrase per running job (empty: nothing runs)."""
        lost: list[str] = []
        for stack in self._screen_stacks.values():
            for screen in stack:
                describe = getattr(screen, "work_in_progress", None)
                if describe is not None:
                    lost.extend(describe())
        return lost

    def cancel_long_work(self) -> None:
        """Signal every running job to stop: a cancelled download keeps its partial file for
        resume, a cancelled summary stores nothing. Worker threads end soon after."""
        for stack in self._screen_stacks.values():
            for screen in stack:
                cancel = getattr(screen, "cancel_all_work", None)
                if cancel is not None:
                    cancel()

    def report_error(self, exc: BaseException) -> None:
        """Engine errors are full sentences meant for the user; anything else is a bug."""
        if isinstance(exc, VidsumError):
            self.notify(str(exc), title="Error", severity="error", timeout=12, markup=False)
        else:
            self.notify(
                f"{type(exc).__name__}: {exc}",
                title="Unexpected error",
                severity="error",
                timeout=12,
                markup=False,
            )

    # --- command palette --------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """vidsum's own actions only, by their full labels (Textual's cursor, focus and copy
        commands are no part of vidsum): the current screen's keys (its focused widget's
        included), the other screens with their actions, and help."""
        seen = {"command_palette", "help"}
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen or not active.enabled:
                continue
            if (binding.key, binding.action) not in vidsum_keys(active.node):
                continue
            if binding.action.startswith(NOT_COMMANDS):
                continue
            seen.add(binding.action)
            yield SystemCommand(
                palette_label(binding),
                f"Key: {self.get_key_display(binding)}",
                lambda node=active.node, action=binding.action: self._palette_run(node, action),
            )
        for mode, title in MODE_TITLES.items():
            if mode == self.current_mode:
                continue
            yield SystemCommand(
                f"Go to {title}",
                f"Switch to the {title.lower()} screen",
                lambda mode=mode: self.switch_mode(mode),
            )
            # The other screens' actions too: the palette switches there and runs them.
            screen_class = self.MODES[mode]
            assert isinstance(screen_class, type) and issubclass(screen_class, Screen)
            short = title.split()[0]
            for bound in screen_class.BINDINGS:
                if not isinstance(bound, Binding) or not bound.description:
                    continue
                if bound.action.startswith(NOT_FROM_ELSEWHERE):
                    continue
                yield SystemCommand(
                    f"{short}: {palette_label(bound)}",
                    f"Switches to {title} · key {bound.key.split(',')[0]} there",
                    lambda mode=mode, action=bound.action: self._palette_run_in(mode, action),
                )
        yield SystemCommand("Keys and help", "Show every key binding", self.action_help)

    def _palette_run(self, node: DOMNode, action: str) -> None:
        self.call_later(self.run_action, action, node)

    def _palette_run_in(self, mode: str, action: str) -> None:
        async def switch_and_run() -> None:
            await self.switch_mode(mode)
            await self.run_action(action, self.screen)

        self.call_later(switch_and_run)

    async def on_unmount(self) -> None:
        # Screens cancelled their own work when they were unmounted, just before this.
        self.engine.close()


def help_sections() -> list[tuple[str, list[BindingType]]]:
    """The help screen's sections: each screen's own keys, straight from the classes' BINDINGS."""
    return [
        ("Everywhere", VidsumApp.BINDINGS),
        ("Library", LibraryScreen.BINDINGS + EntryTable.BINDINGS),
        ("Summary", SummaryScreen.BINDINGS),
        ("Transcript", TranscriptScreen.BINDINGS),
        ("Compare", CompareScreen.BINDINGS),
        ("Summarize", SummarizeScreen.BINDINGS + TranscriptTree.BINDINGS),
        ("Models", ModelsScreen.BINDINGS),
    ]


if TYPE_CHECKING:

    def _app_is_a_host(app: VidsumApp) -> VidsumHost:
        return app  # mypy fails here when the app drifts from what the screens use


def run() -> int:
    """Console entry point (``vidsum`` without arguments): the exit status."""
    app = VidsumApp()
    app.run()
    return app.return_code or 0
