"""Summarize screen: queue transcript files and watch them become summaries.

The queue runs as one ``Engine.summarize`` batch in a thread worker: on this machine, so one
model load serves every file, or, when server profiles are chosen ("Run on", o: a picker of this
machine or any set of servers, remembered for the session), on exactly those servers, several
files in flight, each row naming its server.
Progress and results come back as messages; a failed file is marked and the batch goes on.
Cancelling one item cancels the batch and requeues the rest (nothing partial is kept).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DirectoryTree, Footer, Input, ListView, Select, Static

from engine.api import Local, Servers
from engine.errors import Cancelled
from engine.progress import CancelToken, Progress
from tui.queue import RETRYABLE, Batch, Queue, QueueItem, expand
from tui.screens.confirm import ConfirmScreen
from tui.screens.export import EXPORT_KEYS_UNSHOWN
from tui.screens.run_on_choice import RunOnChoice
from tui.widgets.path_input import PathSuggester, TranscriptTree
from tui.widgets.queue_row import QueueListItem
from tui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from engine.batch.store import FileResult
    from engine.modelstore.catalog import ModelStatus


class SummarizeScreen(RunOnChoice):
    SUB_TITLE = "Summarize"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add file"),
        Binding("b", "browse", "Browse"),
        Binding("s", "start", "Start"),
        Binding("x", "cancel_item", "Cancel", tooltip="Cancel item"),
        Binding("r", "retry", "Retry", tooltip="Retry failed item"),
        Binding("X", "cancel_all", "Cancel all", show=False),
        Binding("c", "clear_finished", "Clear done", show=False),
        Binding("o", "run_on", "Run on (this machine / servers)", show=False),
        Binding("escape", "focus_queue", "Queue", show=False),
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
        *EXPORT_KEYS_UNSHOWN,  # the highlighted file's summary, once it is made
    ]

    class ItemProgress(Message):
        def __init__(self, batch: Batch, event: Progress) -> None:
            super().__init__()
            self.batch, self.event = batch, event

        def can_replace(self, message: Message) -> bool:
            """A newer event about the same item supersedes this one (the item shows only its
            latest state), so a fast decode cannot flood the queue; notices are all shown."""
            return (
                isinstance(message, type(self))
                and message.batch is self.batch
                and message.event.item == self.event.item
                and "notice" not in (self.event.stage, message.event.stage)
            )

    class ItemResult(Message):
        def __init__(self, batch: Batch, result: FileResult) -> None:
            super().__init__()
            self.batch, self.result = batch, result

    class BatchEnded(Message):
        def __init__(self, batch: Batch, error: Exception | None = None) -> None:
            super().__init__()
            self.batch, self.error = batch, error

    def __init__(self) -> None:
        super().__init__()
        self.queue = Queue()
        self.running: Batch | None = None
        self.token: CancelToken | None = None
        self.server_names: list[str] = []  # the profiles, as last listed
        self.server_note = ""  # "checking server s1" while a server batch starts

    def compose(self) -> ComposeResult:
        yield TopBar()
        # The path on a line of its own, so its placeholder fits at 80 columns; the model and
        # where the queue runs below it.
        yield Input(
            placeholder="a  Path to a transcript or a folder (→ completes, Enter adds)",
            suggester=PathSuggester(self.vidsum.start_dir),
            id="path",
            compact=True,
        )
        with Horizontal(id="run-bar"):
            yield Select[str]([], prompt="Default model", id="model", compact=True)
            # Shown once there are server profiles.
            yield Static(id="runs-on", markup=False, classes="-hidden")
        with Horizontal(id="work"):
            yield TranscriptTree(self.vidsum.browse_dir, id="tree", classes="-hidden")
            with Vertical(id="queue-pane"):
                yield ListView(id="queue")
                yield Static(
                    "Add transcript files (a, or b to browse), then press s to start.",
                    id="detail",
                )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#queue", ListView).focus()
        self.call_engine(self.engine.list_models, self._set_models, group="models")
        self.call_engine(self.engine.list_servers, self._set_servers, group="servers")

    def _set_models(self, models: list[ModelStatus]) -> None:
        installed = [m.entry.id for m in models if m.installed is not None]
        self.query_one("#model", Select).set_options([(m, m) for m in installed])

    # --- adding -----------------------------------------------------------------------------

    def add_paths(self, paths: list[Path]) -> int:
        view = self.query_one("#queue", ListView)
        added = 0
        for path in paths:
            item = self.queue.add(path)
            if item is not None:
                # The rule (tui.queue.QUEUED_WORDS): join the active run, else wait for s.
                item.wait = "run" if self.running is not None else "start"
                view.append(QueueListItem(item))
                added += 1
        if added and view.index is None:
            view.index = 0
        self._show_detail()
        return added

    @on(Input.Submitted, "#path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        raw = event.value.strip()
        if not raw:
            return
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = self.vidsum.start_dir / path
        if not path.exists():
            self.notify(f"{path}: no such file or folder.", severity="error", markup=False)
            return
        files = expand(path)
        if not files:
            self.notify(
                f"{path}: no transcript files (.txt .srt .vtt .json) in this folder.",
                severity="warning",
                markup=False,
            )
            return
        added = self.add_paths(files)
        event.input.value = ""
        self.vidsum.browse_dir = path if path.is_dir() else path.parent
        # Back to the queue: the screen's keys (a, b, s…) work again at once.
        self.action_focus_queue()
        self.notify(f"Added {added} file{'s' if added != 1 else ''} to the queue.")

    @on(DirectoryTree.FileSelected)
    def _file_picked(self, event: DirectoryTree.FileSelected) -> None:
        self.vidsum.browse_dir = event.path.parent
        if self.add_paths([event.path]):
            self.notify(f"Added {event.path.name} to the queue.", markup=False)

    @on(TranscriptTree.RootChanged)
    def _browsed(self, event: TranscriptTree.RootChanged) -> None:
        self.vidsum.browse_dir = event.path

    # --- running ----------------------------------------------------------------------------

    def action_start(self) -> None:
        if self.running is not None:
            self.notify("The queue is already running.")
            return
        waiting = self.queue.waiting()
        if not waiting:
            self.notify("Nothing is queued. Add files with a or b.")
            return
        for item in waiting:
            if item.wait:
                item.wait = ""
                self._redraw(item)
        servers = self.chosen_servers()
        batch = Batch(waiting, servers=tuple(servers))
        token = CancelToken()
        self.running, self.token = batch, token
        model_value = self.query_one("#model", Select).value
        model = None if model_value is Select.NULL else str(model_value)
        paths = [item.path for item in waiting]

        def results() -> Iterator[FileResult]:
            return self.engine.summarize(
                paths,
                on=Servers(tuple(servers)) if servers else Local(model),
                progress=report,
                cancel=token,
                confirm=self._confirmer(batch, token),
            )

        def report(ev: Progress) -> None:
            # Runs on the engine's thread, so a waiting item the user cancelled is stopped the
            # moment the engine starts on it, before any of its work is stored.
            if ev.stage in ("prompt", "generate") and ev.item:
                named = next((i for i in batch.items if i.name == ev.item), None)
                if named is not None and named.cancel_requested:
                    token.cancel()
            self.post_message(self.ItemProgress(batch, ev))

        def run() -> None:
            # Thread: every engine event and result goes back as a message (non-blocking).
            try:
                for result in results():
                    self.post_message(self.ItemResult(batch, result))
            except Cancelled:
                self.post_message(self.BatchEnded(batch))
            except Exception as exc:
                self.post_message(self.BatchEnded(batch, exc))
            else:
                self.post_message(self.BatchEnded(batch))

        self.run_worker(run, thread=True, group="summarize", exit_on_error=False)
        self._show_detail()

    def _confirmer(self, batch: Batch, token: CancelToken) -> Callable[[str], bool]:
        """``Engine.summarize``'s ``confirm`` for a long run: called on the engine's thread, it
        shows the dialog on the app's and waits (a cancel or a quit meanwhile answers no). A
        declined batch ends cancelled (not requeued, which would ask again)."""

        def confirm(line: str) -> bool:
            answered = threading.Event()
            answer = [False]

            def done(yes: bool | None) -> None:
                answer[0] = bool(yes)
                answered.set()

            question = f"{line}\nThat is a long run. Start it?"
            self.app.call_from_thread(
                lambda: self.app.push_screen(
                    ConfirmScreen(question, confirm="Start", title="Long run"), done
                )
            )
            while not answered.wait(0.1):
                if token.cancelled:
                    return False
            if not answer[0]:
                batch.cancel_all = True
            return answer[0]

        return confirm

    @on(ItemProgress)
    def _progress(self, message: ItemProgress) -> None:
        ev, batch = message.event, message.batch
        if ev.stage == "notice":
            self.notify(ev.message, title="Summarize", markup=False)
            return
        if batch.servers and ev.stage == "load" and ev.item in batch.servers:
            self.server_note = ev.message or f"checking server {ev.item}"
            self._show_detail()
            return
        item = batch.target(ev)
        if item is None:
            return
        item.apply(ev)  # "read" and "done" change only the endpoint shown
        self.server_note = ""  # the servers are answering: the queue rows say the rest
        self._redraw(item)

    @on(ItemResult)
    def _result(self, message: ItemResult) -> None:
        result = message.result
        item = message.batch.result_item(result.file)
        if item is None:
            return
        item.title = result.title
        item.entry_id = result.id
        if result.error is not None:
            item.state, item.error = "failed", result.error
        else:
            item.state = "skipped" if result.skipped else "done"
            item.quality_failed = result.failed
        item.stage = ""
        self._redraw(item)

    @on(BatchEnded)
    def _ended(self, message: BatchEnded) -> None:
        batch = message.batch
        error = message.error
        for item in batch.finish(str(error) if error is not None else None):
            self._redraw(item)
        self.running, self.token = None, None
        self.server_note = ""
        if error is not None:
            self.vidsum.report_error(error)
        if error is None and not batch.cancel_all and self.queue.waiting():
            self.action_start()  # requeued after a single cancel, or joined meanwhile
        else:
            for item in self.queue.waiting():  # the run is over: they wait for s
                item.wait = "start"
                self._redraw(item)
        self._show_detail()

    # --- cancelling -------------------------------------------------------------------------

    def current_entry(self) -> tuple[int, str] | None:
        item = self._selected()
        if item is None or item.entry_id is None:
            return None
        return item.entry_id, item.title or item.name

    def _selected(self) -> QueueItem | None:
        highlighted = self.query_one("#queue", ListView).highlighted_child
        return highlighted.item if isinstance(highlighted, QueueListItem) else None

    def action_cancel_item(self) -> None:
        item = self._selected()
        if item is None or item.final:
            return
        in_batch = self.running is not None and item in self.running.items
        if in_batch:
            # Marked for the engine thread: the batch stops if it reaches this file.
            item.cancel_requested = True
        if item.state == "running" and self.token is not None:
            self.token.cancel()  # "cancelling…" until the engine has stopped
        else:
            item.state = "cancelled"  # waiting: nothing of it runs, so it is cancelled now
        self._redraw(item)
        self._show_detail()

    def action_retry(self) -> None:
        """r: the highlighted failed or cancelled file again; it starts now, or joins the
        active run."""
        item = self._selected()
        if item is None or item.state not in RETRYABLE:
            self.notify("Only a failed or cancelled file can be retried (r).")
            return
        if any(i.path == item.path and not i.final for i in self.queue.items):
            self.notify(f"{item.name} is already in the queue.", markup=False)
            return
        in_batch = self.running is not None and item in self.running.items
        item.reset()
        item.wait = "" if in_batch else "run"
        self._redraw(item)
        if self.running is None:
            self.action_start()
        self._show_detail()

    def action_cancel_all(self) -> None:
        self.cancel_all_work()
        for item in self.queue.items:
            if item.state == "queued" and (self.running is None or item not in self.running.items):
                item.state = "cancelled"
                self._redraw(item)

    def on_unmount(self) -> None:
        # The app is closing (any way out): the engine thread must not run on unobserved.
        self.cancel_all_work()

    def work_in_progress(self) -> list[str]:
        """What quitting now would lose (the app asks before it quits)."""
        if self.running is None:
            return []
        active = [i for i in self.running.items if not i.final]
        running = sum(1 for i in active if i.state == "running") or min(1, len(active))
        waiting = len(active) - running
        said = [f"{running} summar{'y' if running == 1 else 'ies'} in progress will be lost"]
        if waiting:
            said.append(
                f"{waiting} queued file{'s' if waiting != 1 else ''} will not be summarized"
            )
        return [", ".join(said)] if running else []

    def cancel_all_work(self) -> None:
        """Also called by the app on quit."""
        if self.running is not None and self.token is not None:
            self.running.cancel_all = True
            self.token.cancel()

    def action_clear_finished(self) -> None:
        for item in self.queue.clear_finished():
            self.query_one(f"#q{item.key}").remove()

    # --- the rest ---------------------------------------------------------------------------

    def action_add(self) -> None:
        self.set_focus(self.query_one("#path", Input))

    def action_browse(self) -> None:
        tree = self.query_one("#tree", TranscriptTree)
        tree.toggle_class("-hidden")
        if tree.has_class("-hidden"):
            self.query_one("#queue", ListView).focus()
        else:
            if tree.path != self.vidsum.browse_dir:
                tree.go_to(self.vidsum.browse_dir)  # the last folder used
            tree.focus()

    def action_move(self, delta: int) -> None:
        view = self.query_one("#queue", ListView)
        if delta > 0:
            view.action_cursor_down()
        else:
            view.action_cursor_up()

    def action_focus_queue(self) -> None:
        self.query_one("#queue", ListView).focus()

    @on(ListView.Selected, "#queue")
    def _open(self, event: ListView.Selected) -> None:
        from tui.screens.summary import SummaryScreen

        item = event.item.item if isinstance(event.item, QueueListItem) else None
        if item is not None and item.entry_id is not None:
            self.app.push_screen(SummaryScreen(item.entry_id, title=item.title or ""))

    @on(ListView.Highlighted, "#queue")
    def _highlighted(self) -> None:
        self._show_detail()

    def _redraw(self, item: QueueItem) -> None:
        for row in self.query(QueueListItem):
            if row.item is item:
                row.redraw()
        if item is self._selected():
            self._show_detail()

    def _shown(self, path: Path) -> str:
        """Paths under the start folder are shown relative to it: shorter, and what was typed."""
        try:
            return str(path.relative_to(self.vidsum.start_dir))
        except ValueError:
            return str(path)

    def _show_detail(self) -> None:
        item = self._selected()
        items = self.queue.items
        counts = {s: sum(1 for i in items if i.state == s) for s in ("done", "failed", "queued")}
        head = (
            f"{len(items)} file{'s' if len(items) != 1 else ''}: {counts['done']} done, "
            f"{counts['failed']} failed, {counts['queued']} queued"
            + (" · running" if self.running is not None else "")
        )
        servers = self.running.servers if self.running is not None else self.chosen_servers()
        if servers:
            head += " · on " + ", ".join(servers)
        if self.server_note and self.running is not None:
            head += f" · {self.server_note}"
        if item is None:
            text = head if items else "Add transcript files (a, or b to browse), then s to start."
        else:
            text = f"{head}\n{self._shown(item.path)}"
            if item.title:
                text += f" · {item.title}"
            if item.error:
                text += f"\n{item.error}"
            if item.state in RETRYABLE:
                text += "\nr retries it."
            elif item.entry_id is not None:
                text += "\nEnter opens the summary."
        self.query_one("#detail", Static).update(Content(text))
