"""Models screen: the catalog with install and fit state, downloads, default, hardware, and
the inference servers with their check state.

Listing models probes the hardware (nvidia-smi can take seconds), downloads take minutes and a
server check waits on the network: all run in thread workers. A cancelled download keeps its
partial file; pulling again resumes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Footer, ProgressBar, Static

from engine.api import delete_model_question
from engine.errors import Cancelled
from engine.progress import CancelToken, Progress
from tui import format as fmt
from tui.screens.base import VidsumScreen
from tui.widgets.hardware_panel import HardwarePanel
from tui.widgets.server_table import ServerTable
from tui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from pathlib import Path

    from engine.batch.servers import ServerCheck
    from engine.modelstore.catalog import ModelStatus
    from engine.modelstore.manager import Removal


def state_label(status: ModelStatus) -> str:
    if status.installed is not None:
        return "installed" if status.verified else "installed*"
    if status.partial_bytes and status.entry.size:
        return f"partial {status.partial_bytes / status.entry.size:.0%}"
    if status.partial_bytes:
        return "partial"
    return "—"


def default_mark(status: ModelStatus) -> str:
    """The mark before the model a summarize uses: ★ the default set with u, ☆ the automatic
    choice (no default is set)."""
    if status.is_default:
        return "★"
    return "☆" if status.in_use else " "


def model_cell(status: ModelStatus) -> str:
    """The mark and the model's id (what `vidsum models ...` takes). The id, not the longer
    name ("Gemma 3 270M (base) Q4_K_M, offline default"), and the mark in the same cell: the
    whole row fits 80 columns with the widest catalog values and a scrollbar."""
    return f"{default_mark(status)} {status.entry.id}"


def fit_line(status: ModelStatus) -> str:
    """The detail line under the table: the planner's sentence, or a readable one when the
    planner could not judge (its reason is for developers, e.g. an unknown model shape)."""
    e = status.entry
    if status.fit != "unknown" and status.fit_detail:
        text = status.fit_detail
    elif status.installed is None and e.source == "pypi":
        text = (
            "The offline default model; it is re-assembled from the installed package when "
            "a summary needs it."
        )
    elif status.installed is None:
        text = "Its fit on this machine is worked out once the model is downloaded (p)."
    else:
        text = "Its fit on this machine could not be worked out for this model."
    if not text.endswith("."):  # the planner's sentence has no full stop of its own
        text += "."
    if status.is_default:
        text += " ★ It is the default model."
    elif status.in_use:
        text += " ☆ It is used by default (automatic: no default is set)."
    return f"{e.id}: {text}"


class ModelsScreen(VidsumScreen):
    SUB_TITLE = "Models"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pull", "Download"),
        # Not in the footer (the download line says "c cancels"): the rest fits 80 columns.
        Binding("c", "cancel_download", "Cancel download", show=False),
        Binding("u", "use", "Use as default"),
        Binding("d", "delete", "Delete", tooltip="Delete model file"),
        Binding("s", "check_server", "Check server"),
        Binding("S", "check_all_servers", "Check all servers", show=False),
        Binding("r", "reload", "Refresh", show=False),
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
        # Priority: the table's own home/end scroll sideways instead.
        Binding("g,home", "first", "First", show=False, priority=True),
        Binding("G,end", "last", "Last", show=False, priority=True),
    ]

    class DownloadProgress(Message):
        def __init__(self, model_id: str, event: Progress) -> None:
            super().__init__()
            self.model_id, self.event = model_id, event

        def can_replace(self, message: Message) -> bool:
            """A newer event of the same download supersedes this one (the bar shows only the
            latest), so a fast download cannot flood the queue."""
            return isinstance(message, type(self)) and message.model_id == self.model_id

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[str, ModelStatus] = {}
        self.downloading: str | None = None
        self.token: CancelToken | None = None
        self.check_tokens: dict[str, CancelToken] = {}  # server name -> its running check

    def compose(self) -> ComposeResult:
        yield TopBar()
        table: DataTable[str] = DataTable(id="catalog", cursor_type="row", zebra_stripes=True)
        table.add_column("  Model", key="name")
        table.add_column("Size", key="size")
        table.add_column("State", key="state")
        table.add_column("Fit", key="fit")
        yield table
        yield Static("Loading the catalog…", id="fit-detail")
        with Vertical(id="download", classes="-hidden"):
            yield Static(id="download-label")
            yield ProgressBar(id="download-bar", show_eta=False)
        yield ServerTable(self.vidsum.server_states, id="server-list")
        yield HardwarePanel(id="hardware")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#catalog", DataTable).focus()
        self.action_reload()

    def action_move(self, delta: int) -> None:
        table: DataTable[str] = self.query_one("#catalog", DataTable)
        if delta > 0:
            table.action_cursor_down()
        else:
            table.action_cursor_up()

    def action_first(self) -> None:
        self.query_one("#catalog", DataTable).move_cursor(row=0, animate=False)

    def action_last(self) -> None:
        table: DataTable[str] = self.query_one("#catalog", DataTable)
        table.move_cursor(row=max(0, table.row_count - 1), animate=False)

    def action_reload(self) -> None:
        self.call_engine(
            self.engine.list_models, self._set_models, group="models-list", exclusive=True
        )
        self.call_engine(
            self.engine.hardware,
            self.query_one(HardwarePanel).show,
            group="hardware",
            exclusive=True,
        )
        self.call_engine(
            self.engine.list_servers,
            self.query_one(ServerTable).set_profiles,
            group="servers-list",
            exclusive=True,
        )
        self._load_stored_checks()

    def _load_stored_checks(self) -> None:
        """The last check of each server, whichever face ran it (`vidsum servers check` too)."""
        self.call_engine(
            self.engine.last_server_checks,
            self.query_one(ServerTable).set_stored,
            group="servers-checked",
            exclusive=True,
        )

    def _set_models(self, models: list[ModelStatus]) -> None:
        table: DataTable[str] = self.query_one("#catalog", DataTable)
        keep = self._selected_id()
        self.models = {m.entry.id: m for m in models}
        table.clear()
        for m in models:
            size = fmt.size(m.entry.size, approx=not m.entry.size_exact) if m.entry.size else "?"
            fit = m.fit if m.fit != "unknown" else "?"
            table.add_row(model_cell(m), size, state_label(m), fit, key=m.entry.id)
        if keep in self.models:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self._show_fit()

    def _selected_id(self) -> str | None:
        table: DataTable[str] = self.query_one("#catalog", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return key.value

    def _selected(self) -> ModelStatus | None:
        model_id = self._selected_id()
        return self.models.get(model_id) if model_id else None

    @on(DataTable.RowHighlighted, "#catalog")
    def _show_fit(self) -> None:
        status = self._selected()
        if status is None:
            return
        self.query_one("#fit-detail", Static).update(Content(fit_line(status)))

    @on(DataTable.RowSelected, "#catalog")
    def _row_selected(self) -> None:
        self.action_pull()

    # --- download ---------------------------------------------------------------------------

    def action_pull(self) -> None:
        status = self._selected()
        if status is None:
            return
        model_id = status.entry.id
        if self.downloading is not None:
            self.notify(f"{self.downloading} is downloading; cancel it (c) or wait.")
            return
        if status.installed is not None and status.verified:
            self.notify(f"{model_id} is installed.", markup=False)
            return
        if status.entry.source == "local":
            self.notify(f"{model_id} is a local file; nothing to download.", markup=False)
            return
        token = CancelToken()
        self.downloading, self.token = model_id, token
        self._show_download(
            Progress("download", status.partial_bytes, status.entry.size, unit="B", item=model_id)
        )
        self.query_one("#download").remove_class("-hidden")

        def report(ev: Progress) -> None:
            self.post_message(self.DownloadProgress(model_id, ev))

        def pull() -> Path:
            return self.engine.pull_model(model_id, progress=report, cancel=token)

        self.call_engine(
            pull,
            lambda path: self._pulled(model_id, path),
            on_error=self._pull_failed,
            group="download",
        )

    @on(DownloadProgress)
    def _download_progress(self, message: DownloadProgress) -> None:
        if message.model_id == self.downloading:
            self._show_download(message.event)

    def _show_download(self, ev: Progress) -> None:
        bar = self.query_one("#download-bar", ProgressBar)
        bar.update(total=ev.total, progress=ev.done)
        if ev.stage == "verify":
            text = f"Verifying {self.downloading} (sha256)"
        elif ev.stage == "done":
            text = ev.message or f"{self.downloading} is ready"
        else:
            text = f"Downloading {self.downloading}: {fmt.size(ev.done)}"
            if ev.total:
                text += f" of {fmt.size(ev.total)}"
            if ev.rate:
                text += f" · {fmt.rate(ev.rate, 'B')} · {fmt.eta(ev.eta)}"
            text += " · c cancels"
        self.query_one("#download-label", Static).update(Content(text))

    def _download_over(self) -> None:
        self.downloading, self.token = None, None
        self.query_one("#download").add_class("-hidden")
        self.action_reload()

    def _pulled(self, model_id: str, path: Path) -> None:
        self._download_over()
        self.notify(
            f"{model_id} is downloaded and verified: {path}", title="Download", markup=False
        )

    def _pull_failed(self, exc: Exception) -> None:
        self._download_over()
        if isinstance(exc, Cancelled):
            self.notify(str(exc), title="Download cancelled", markup=False)
        else:
            self.vidsum.report_error(exc)

    def action_cancel_download(self) -> None:
        if self.token is None:
            self.notify("No download is running.")
            return
        self.token.cancel()
        self.query_one("#download-label", Static).update(Content(f"Cancelling {self.downloading}…"))

    # --- servers ----------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#servers")
    def _server_highlighted(self) -> None:
        self.query_one(ServerTable).show_detail()

    def action_check_server(self) -> None:
        servers = self.query_one(ServerTable)
        name = servers.selected()
        if name is None:
            self.notify("No inference servers. Add one with `vidsum servers add NAME --url URL`.")
            return
        self._check(name)

    def action_check_all_servers(self) -> None:
        names = list(self.query_one(ServerTable).profiles)
        if not names:
            self.notify("No inference servers. Add one with `vidsum servers add NAME --url URL`.")
        for name in names:
            self._check(name)

    def _check(self, name: str) -> None:
        """One server's check in its own thread worker; its token lets quitting cancel it."""
        if name in self.check_tokens:
            return  # already being checked
        token = CancelToken()
        self.check_tokens[name] = token
        servers = self.query_one(ServerTable)
        servers.set_checking(name)

        def checked(check: ServerCheck) -> None:
            self.check_tokens.pop(name, None)
            servers.set_check(name, check)
            self._load_stored_checks()  # the engine kept it, with its time

        def failed(exc: Exception) -> None:
            self.check_tokens.pop(name, None)
            servers.set_check(name, None)
            if not isinstance(exc, Cancelled):
                self.vidsum.report_error(exc)

        self.call_engine(
            lambda: self.engine.check_server(name, cancel=token),
            checked,
            on_error=failed,
            group=f"server-check-{name}",
        )

    def on_unmount(self) -> None:
        # The app is closing (any way out): the engine thread must not run on unobserved.
        self.cancel_all_work()

    def work_in_progress(self) -> list[str]:
        """What quitting now would lose (the app asks before it quits)."""
        if self.downloading is None:
            return []
        return [
            f"the download of {self.downloading} will stop (what is downloaded is kept; p "
            "resumes it)"
        ]

    def cancel_all_work(self) -> None:
        """Called by the app on quit: the partial file stays for a later resume."""
        if self.token is not None:
            self.token.cancel()
        for token in self.check_tokens.values():
            token.cancel()

    # --- default / delete -------------------------------------------------------------------

    def action_use(self) -> None:
        status = self._selected()
        if status is None:
            return
        model_id = status.entry.id
        installed = status.installed is not None or status.entry.source == "pypi"

        def done(_: None) -> None:
            if installed:
                self.notify(f"{model_id} is now the default model.", markup=False)
            else:
                # As `vidsum models use` says: the default must be downloaded before it runs.
                self.notify(
                    f"{model_id} is now the default model, but it is not installed yet: "
                    "download it with p (or `vidsum models pull "
                    f"{model_id}`) before summarizing.",
                    title="Not installed",
                    severity="warning",
                    timeout=10,
                    markup=False,
                )
            self.action_reload()

        self.call_engine(lambda: self.engine.set_default_model(model_id), done)

    def action_delete(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        status = self._selected()
        if status is None:
            return
        model_id = status.entry.id
        if model_id == self.downloading:
            self.notify("Cancel the download first (c).")
            return
        if status.installed is None and not status.partial_bytes:
            self.notify(f"{model_id} is not downloaded.", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_engine(lambda: self.engine.remove_model(model_id), deleted)

        def deleted(removal: Removal) -> None:
            note = removal.default_note
            self.notify(
                removal.message + (f" {note}" if note else ""),
                title="Model deleted",
                markup=False,
            )
            self.action_reload()

        self.app.push_screen(
            ConfirmScreen(delete_model_question(status), title="Delete model"), answered
        )
