"""A stand-in for ``engine.api.Engine`` for UI tests: the real ``Engine`` with the machine
scripted.

``FakeEngine`` subclasses ``Engine``, so it has every method the faces call, with the same
signatures (mypy checks each override). The library is real: a SQLite file of the fake's own
(``fake_library.StoredEntries``, which tests use as a dict of entries by id), so lists, counts,
search, filters, sorting, deleting and exports run the engine's own code. What depends on the
machine is scripted: models and downloads, the hardware, inference servers (``FakeServers``), and
summarizing, which reports progress and honours ``CancelToken`` so tests can hold a job half-way,
look at the screen, and cancel it. Every scripted call (and the library calls the tests watch) is
recorded in ``calls`` and can be made to fail with ``fail``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.api import Engine, Local, Order, Servers, SummarizeOptions, Where
from engine.batch.server_checks import LastCheck
from engine.batch.store import FileResult
from engine.errors import Cancelled, TranscriptError, VidsumError
from engine.hardware import Hardware
from engine.library.records import Entry, EntryRow
from engine.modelstore.catalog import CatalogEntry, ModelStatus, ResolvedModel
from engine.modelstore.hub import HubStatus
from engine.modelstore.manager import Removal
from engine.progress import CancelToken, Progress, ProgressCallback
from engine.runtime.server.profiles import ServerProfile
from engine.transcripts.types import Transcript, TranscriptMeta
from tests.tui.fake_data import (
    MODELS,
    bundled_default_status,
    example_summaries,
    hardware_fixture,
    make_entry,
    models_fixture,
    sample_entries,
    segments_for,
)
from tests.tui.fake_library import StoredEntries
from tests.tui.fake_servers import FakeServers


class Gate:
    """Holds scripted work at a point until the test releases it (or the job is cancelled)."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def wait(self, cancel: CancelToken | None, limit: float = 30.0) -> None:
        self.reached.set()
        deadline = time.monotonic() + limit  # a failing test must not hang the suite
        while not self.release.is_set() and time.monotonic() < deadline:
            if cancel is not None and cancel.cancelled:
                return
            self.release.wait(0.01)


class FakeEngine(FakeServers, Engine):
    def __init__(
        self, entries: Sequence[Entry] | None = None, *, source_dir: Path | None = None
    ) -> None:
        # The fake's own library file (two fakes never share one), removed with the fake.
        folder = tempfile.mkdtemp(prefix="vidsum-fake-library-")
        weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        super().__init__(Path(folder) / "library.sqlite3")
        self.entries = StoredEntries(lambda: self.library)
        self.entries.store(entries if entries is not None else sample_entries())
        self.models = models_fixture()
        self.hw = hardware_fixture()
        self.source_dir = source_dir
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, VidsumError] = {}  # method name -> error to raise
        self.summarize_gate: dict[str, Gate] = {}  # file name -> hold during prompt eval
        self.pull_gate: Gate | None = None
        self.delay = 0.0
        self.closed = False
        self.home = Path.home()  # tests point it at a temporary folder
        self.chosen_export_dir: Path | None = None
        self.servers: dict[str, ServerProfile] = {}
        self.server_checks: dict[str, str] = {}
        self.stored_checks: dict[str, LastCheck] = {}
        self.check_gate: Gate | None = None

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.fail:
            raise self.fail[name]

    # --- library: the engine's own, with the calls the tests watch recorded -------------------

    def list_entries(
        self,
        *,
        query: str | None = None,
        general_topic: str | None = None,
        complexity: tuple[float, float] = (0.0, 1.0),
        model: str | None = None,
        backend: str | None = None,
        endpoint: str | None = None,
        order: Order = "created_desc",
        offset: int = 0,
        limit: int = 100,
    ) -> list[EntryRow]:
        self._call("list_entries", query, general_topic, complexity, model, order, offset, limit)
        return super().list_entries(
            query=query,
            general_topic=general_topic,
            complexity=complexity,
            model=model,
            backend=backend,
            endpoint=endpoint,
            order=order,
            offset=offset,
            limit=limit,
        )

    def count_entries(
        self,
        *,
        query: str | None = None,
        general_topic: str | None = None,
        complexity: tuple[float, float] = (0.0, 1.0),
        model: str | None = None,
        backend: str | None = None,
        endpoint: str | None = None,
    ) -> int:
        self._call("count_entries", query, general_topic, complexity, model)
        return super().count_entries(
            query=query,
            general_topic=general_topic,
            complexity=complexity,
            model=model,
            backend=backend,
            endpoint=endpoint,
        )

    def load_transcript(self, path: Path) -> Transcript:
        self._call("load_transcript", path)
        for e in self.entries.values():
            if e.transcript.source_path == str(path) and e.transcript.duration:
                t = e.transcript
                return Transcript(
                    source=path,
                    format="srt",
                    text=t.text,
                    segments=segments_for(t.text, t.duration or 0),
                    meta=TranscriptMeta(title=t.title, duration=t.duration),
                )
        raise TranscriptError(path, "no such file")

    # --- summarizing ----------------------------------------------------------------------

    def summarize(
        self,
        paths: Sequence[Path | Transcript],
        *,
        on: Where | None = None,
        options: SummarizeOptions | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        confirm: Callable[[str], bool] | None = None,
    ) -> Iterator[FileResult]:
        files = [p.source if isinstance(p, Transcript) else Path(p) for p in paths]
        on = on or Local()
        self._call("summarize", [p.name for p in files], on)
        if isinstance(on, Servers):
            return self._summarize_on_servers(files, on.names, options, progress, cancel)
        return self._summarize(files, on.model, progress, cancel)

    def _summarize(
        self,
        paths: list[Path],
        model: str | None,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> Iterator[FileResult]:
        def emit(ev: Progress) -> None:
            if progress is not None:
                progress(ev)

        def check() -> None:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()

        examples = example_summaries()
        loaded = False
        for path in paths:
            path = Path(path)
            check()
            if "bad" in path.name:
                yield FileResult(file=path, error=f"{path.name}: line 3: a cue has no end time.")
                continue
            known = next(
                (e for e in self.entries.values() if e.transcript.source_path == str(path)), None
            )
            if known is not None:
                yield FileResult(
                    file=path,
                    id=known.id,
                    title=known.title,
                    summary=known.summary,
                    skipped=True,
                    failed=known.failed,
                    grounding=known.grounding,
                )
                continue
            if not loaded:
                emit(Progress("load", 0, 1, item=path.name))
                emit(Progress("load", 1, 1, item=path.name))
                loaded = True
            total = 4000
            for step in range(1, 11):
                check()
                done = total * step // 10
                emit(Progress("prompt", done, total, rate=800.0, unit="tok", item=path.name))
                if step == 5 and path.name in self.summarize_gate:
                    self.summarize_gate[path.name].wait(cancel)
                    check()
            for n in range(0, 600, 150):
                check()
                emit(Progress("generate", n, None, rate=18.5, unit="tok", item=path.name))
            check()
            emit(Progress("store", item=path.name))
            name = sorted(examples)[len(self.entries) % len(examples)]
            new_id = max(self.entries, default=0) + 1
            entry = make_entry(
                new_id,
                name,
                examples[name],
                title=path.stem.replace("-", " ").title(),
                model_id=model or MODELS[0],
                created_at="2024-06-01T12:00:00",
                text=f"transcript of {path.name}",
            )
            entry = replace(entry, transcript=replace(entry.transcript, source_path=str(path)))
            self.entries[new_id] = entry
            emit(Progress("done", item=path.name))
            yield FileResult(file=path, id=new_id, title=entry.title, summary=entry.summary)

    # --- models ---------------------------------------------------------------------------

    def list_models(self, *, n_ctx: int = 8192, fit: bool = True) -> list[ModelStatus]:
        self._call("list_models")
        return list(self.models)

    def model_status(self, model_id: str, *, n_ctx: int = 8192, fit: bool = True) -> ModelStatus:
        self._call("model_status", model_id)
        return next(m for m in self.models if m.entry.id == model_id)

    def model_entry(self, model_id: str) -> CatalogEntry:
        return self.model_status(model_id).entry

    def model_page(self, model_id: str) -> str | None:
        repo = self.model_entry(model_id).repo
        return f"https://huggingface.co/{repo}" if repo else None

    def recommended_model(self) -> str:
        return next(m.entry.id for m in self.models if m.entry.recommended)

    def resolve_model(
        self,
        model: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ResolvedModel:
        self._call("resolve_model", model)
        status = next(m for m in self.models if (m.entry.id == model if model else m.in_use))
        e = status.entry
        return ResolvedModel(
            e.id,
            status.installed or Path(f"/hf/{e.id}.gguf"),
            "0" * 64,
            e.quant,
            e.n_ctx_train,
            e.sliding_window,
            e.chat_format,
            e.source,
        )

    def partial_bytes(self, model_id: str) -> int:
        return self.model_status(model_id).partial_bytes

    def add_model(
        self,
        path: Path,
        *,
        name: str | None = None,
        chat_format: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> CatalogEntry:
        raise NotImplementedError("the TUI does not add local models")

    def default_model(self) -> str | None:
        return next((m.entry.id for m in self.models if m.is_default), None)

    def hub_status(self) -> HubStatus:
        return HubStatus("https://huggingface.co", False, "answered", "not set", self.home / "hf")

    def _replace_model(self, model_id: str, **changes: Any) -> None:
        self.models = [replace(m, **changes) if m.entry.id == model_id else m for m in self.models]

    def pull_model(
        self,
        model_id: str,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        retries: int = 2,
        stall_timeout: float | None = None,
    ) -> Path:
        self._call("pull_model", model_id)
        status = next(m for m in self.models if m.entry.id == model_id)
        size = status.entry.size or 1000
        done = status.partial_bytes
        for step in range(1, 11):
            if cancel is not None and cancel.cancelled:
                self._replace_model(model_id, partial_bytes=done)
                raise Cancelled(
                    f"Download of {model_id} cancelled; {done:,} of {size:,} bytes are "
                    f"kept: run `vidsum models pull {model_id}` to resume."
                )
            done = max(done, size * step // 10)
            if progress is not None:
                progress(
                    Progress("download", done, size, rate=12.5 * 1024**2, unit="B", item=model_id)
                )
            if step == 4 and self.pull_gate is not None:
                self.pull_gate.wait(cancel)
        if progress is not None:
            progress(Progress("verify", size, size, unit="B", item=model_id))
        path = Path(f"/hf/{model_id}.gguf")
        self._replace_model(model_id, installed=path, verified=True, partial_bytes=0)
        return path

    def remove_model(self, model_id: str) -> Removal:
        """As the engine: the default is cleared if it names the model, and the model in use
        moves to the first installed one (else the bundled default, not in this catalog)."""
        self._call("remove_model", model_id)
        status = next(m for m in self.models if m.entry.id == model_id)
        self._replace_model(
            model_id, installed=None, verified=False, partial_bytes=0, is_default=False
        )
        installed = [m.entry.id for m in self.models if m.installed is not None]
        now_used = installed[0] if installed else "gemma-3-270m:Q4_K_M"
        if status.in_use:
            self.models = [replace(m, in_use=m.entry.id == now_used) for m in self.models]
        return Removal(
            entry=status.entry,
            removed=(status.installed,) if status.installed is not None else (),
            kept=None,
            cleared_default=status.is_default,
            now_used=now_used,
        )

    def set_default_model(self, model_id: str) -> None:
        self._call("set_default_model", model_id)
        self.models = [
            replace(m, is_default=m.entry.id == model_id, in_use=m.entry.id == model_id)
            for m in self.models
        ]

    # --- settings and the machine ----------------------------------------------------------

    def export_dir(self) -> Path:
        self._call("export_dir")
        return self.chosen_export_dir or self.home / "Downloads"

    def set_export_dir(self, path: Path) -> None:
        self._call("set_export_dir", path)
        self.chosen_export_dir = path

    def hardware(self) -> Hardware:
        self._call("hardware")
        return self.hw

    def llama_build(self) -> dict[str, Any]:
        self._call("llama_build")
        return {"installed": True, "version": "fake", "gpu_offload": False}

    def close(self) -> None:
        """As the app quits: no model worker to end, and the library stays open so a test can
        look at the entries afterwards."""
        self.closed = True


def with_bundled_default(fake: FakeEngine, folder: Path | None, *, is_default: bool) -> None:
    """The catalog's models with the bundled default last, as the model in use (set as the
    default, or the automatic choice); no other model is the default."""
    fake.models = [replace(m, is_default=False, in_use=False) for m in fake.models]
    fake.models.append(bundled_default_status(folder, is_default=is_default, in_use=True))


__all__ = ["FakeEngine", "Gate", "with_bundled_default"]
