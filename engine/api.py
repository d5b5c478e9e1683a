"""The one facade both faces use: the CLI and the TUI call ``Engine`` and nothing deeper.

It is thin on purpose: each method delegates to the module that owns the job (imported inside
the method, so ``import engine.api`` stays light: ``tests/test_import_hygiene.py``). The wording
and constants the faces show are plain functions in ``engine.api_values``, re-exported here.
UI tests substitute ``tests/tui/fake_engine.FakeEngine``, a subclass of ``Engine`` with the
machine scripted; engine tests use the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.api_values import (  # noqa: F401  (re-exported: the faces import them from here)
    backend_kinds,
    backend_label,
    backend_text,
    default_sampling,
    delete_model_question,
    entry_markdown,
    failed_advice,
    failed_sentence,
    grounding_text,
    passes_words,
    ram_reserve_words,
    row_to_json,
    server_dialects,
)
from engine.progress import CancelToken, ProgressCallback
from engine.runs import Local, Servers, SummarizeOptions, Where

__all__ = ["Engine", "EngineAPI", "Local", "Servers", "SummarizeOptions", "Where"]

if TYPE_CHECKING:
    from engine.batch.server_checks import LastCheck
    from engine.batch.servers import ServerCheck
    from engine.batch.store import FileResult
    from engine.hardware import Hardware
    from engine.library.records import Entry, EntryRow
    from engine.library.store import Library
    from engine.modelstore.catalog import CatalogEntry, ModelStatus, ResolvedModel
    from engine.modelstore.hub import HubStatus
    from engine.modelstore.manager import Removal
    from engine.paths import Paths
    from engine.runtime.server.profiles import ServerProfile
    from engine.transcripts.types import Transcript

Order = Literal[
    "created_desc", "created_asc", "title", "complexity_desc", "duration_desc", "relevance"
]


class Engine:
    def __init__(self, library_path: Path | None = None) -> None:
        self._library_path = library_path
        self._library: Library | None = None
        # The TUI calls from several worker threads at once; one Library must be opened.
        self._library_lock = threading.Lock()

    # --- library ------------------------------------------------------------------------------

    @property
    def library(self) -> Library:
        with self._library_lock:
            if self._library is None:
                from engine.library.store import Library

                self._library = Library(self._library_path)
            return self._library

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
        return self.library.list(
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
        return self.library.count(
            query=query,
            general_topic=general_topic,
            complexity=complexity,
            model=model,
            backend=backend,
            endpoint=endpoint,
        )

    def get_entry(self, entry_id: int) -> Entry:
        return self.library.get(entry_id)

    def delete_entry(self, entry_id: int) -> None:
        self.library.delete(entry_id)

    def same_video(self, entry_id: int) -> list[EntryRow]:
        """Other summaries of the same transcript text (e.g. by another model), newest first."""
        return self.library.same_video(entry_id)

    def filter_options(self) -> tuple[list[str], list[str]]:
        """(general topics present, model ids present) for the library filters."""
        return self.library.general_topics(), self.library.models()

    def export_entry(self, entry: int | Entry, fmt: Literal["json", "md"]) -> str:
        """One summary's export text; ``entry`` is its id, or the entry already in hand (a
        summarize result's ``entry``: no second read)."""
        import json

        from engine.library.export import entry_to_json, entry_to_markdown

        if isinstance(entry, int):
            entry = self.library.get(entry)
        if fmt == "json":
            return json.dumps(entry_to_json(entry), indent=2, ensure_ascii=False)
        return entry_to_markdown(entry)

    def load_transcript(self, path: Path) -> Transcript:
        from engine.transcripts.readers import load_transcript

        return load_transcript(path)

    def load_transcript_bytes(self, data: bytes) -> Transcript:
        """A transcript given as bytes (standard input): its format is sniffed from the text."""
        from engine.transcripts.readers import load_transcript_bytes

        return load_transcript_bytes(data)

    def with_video_url(self, transcript: Transcript, url: str) -> Transcript:
        """``transcript`` with the web page of its video (``summarize --url``): stored with a
        new summary, it links the export's timestamps to the video. ``ConfigError`` for
        anything but an http(s) URL with a host."""
        import dataclasses
        from urllib.parse import urlsplit

        from engine.errors import ConfigError

        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url
        except ValueError:  # e.g. "http://[::1"
            ok = False
        if not ok:
            raise ConfigError(
                f"--url {url!r} is not a web address; give the video's page, e.g. "
                "https://www.youtube.com/watch?v=ID."
            )
        meta = dataclasses.replace(transcript.meta, url=url)
        return dataclasses.replace(transcript, meta=meta)

    # --- summarizing --------------------------------------------------------------------------

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
        """One result per input, each with its stored entry (``engine.batch.run.run``): on
        ``Local(model)`` (None: the default model here) in order, on ``Servers(names)`` as they
        complete. ``options`` not given: ``settings.json``, else defaults. A ``Transcript`` item
        is already read (standard input). ``confirm`` is asked, with the estimate's sentence,
        before a big local batch starts (False: ``Cancelled``, nothing started)."""
        from engine.batch.run import run

        return run(
            paths,
            on,
            library=self.library,
            options=options,
            progress=progress,
            cancel=cancel,
            confirm=confirm,
        )

    def demo_notice(self, model_id: str) -> str | None:
        """What to tell the user about a summary made by ``model_id`` when it is the bundled
        demonstration model (small, quotes only); None for any other model."""
        from engine.modelstore.catalog import demo_model_notice, is_demo_model

        return demo_model_notice() if is_demo_model(model_id) else None

    # --- models (engine.modelstore.manager: the one owner of a model's source) ----------------

    def list_models(self, *, n_ctx: int = 8192, fit: bool = True) -> list[ModelStatus]:
        """Every known model: install state, default / in use, and (``fit``) the fit verdict
        at ``n_ctx`` tokens of context."""
        from engine.modelstore.manager import list_models

        return list_models(fit=fit, n_ctx=n_ctx)

    def model_status(self, model_id: str, *, n_ctx: int = 8192, fit: bool = True) -> ModelStatus:
        """One model's row of ``list_models`` (any id spelling the catalog accepts)."""
        from engine.modelstore.manager import model_status

        return model_status(model_id, n_ctx, fit=fit)

    def model_entry(self, model_id: str) -> CatalogEntry:
        """The catalog entry for an id (case-insensitive; a family means its recommended quant);
        unknown ids raise ``ModelNotFound``."""
        from engine.modelstore.catalog import get_entry

        return get_entry(model_id)

    def model_page(self, model_id: str) -> str | None:
        """The model's page on the hub; None when it is not a hub model."""
        from engine.modelstore.catalog import get_entry
        from engine.modelstore.manager import model_page

        return model_page(get_entry(model_id))

    def recommended_model(self) -> str:
        """The catalog's recommended first download."""
        from engine.modelstore.catalog import recommended_id

        return recommended_id()

    def resolve_model(
        self,
        model: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ResolvedModel:
        """The model a summarize would run (``model``: id or .gguf path; None: the default,
        else the automatic choice, saying so through ``progress`` after a removed default)."""
        from engine.modelstore.manager import resolve_model

        return resolve_model(model, progress=progress, cancel=cancel)

    def pull_model(
        self,
        model_id: str,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        retries: int = 2,
        stall_timeout: float | None = None,
    ) -> Path:
        from engine.modelstore.manager import pull

        return pull(
            model_id, progress=progress, cancel=cancel, retries=retries, stall_timeout=stall_timeout
        )

    def partial_bytes(self, model_id: str) -> int:
        """Bytes of an unfinished download of ``model_id`` kept for resume (0: none)."""
        from engine.modelstore.manager import partial_bytes

        return partial_bytes(model_id)

    def add_model(
        self,
        path: Path,
        *,
        name: str | None = None,
        chat_format: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> CatalogEntry:
        """Register a local .gguf (checked, hashed, stored by reference)."""
        from engine.batch.model_check import llama_check
        from engine.modelstore.manager import add_local

        return add_local(
            path,
            name=name,
            check=llama_check,
            chat_format=chat_format,
            progress=progress,
            cancel=cancel,
        )

    def remove_model(self, model_id: str) -> Removal:
        """Delete (or forget) a model and clear the default if it names it (one owner:
        ``engine.modelstore.manager.remove_model``, also behind `vidsum models rm`)."""
        from engine.modelstore.manager import remove_model

        return remove_model(model_id)

    def set_default_model(self, model_id: str) -> None:
        """Make ``model_id`` the default (stored by its canonical id)."""
        from engine.modelstore.manager import set_default_model

        set_default_model(model_id)

    def default_model(self) -> str | None:
        """The default model set with `vidsum models use` (None: automatic)."""
        from engine.settings import get_default_model

        return get_default_model()

    def hub_status(self) -> HubStatus:
        """The hub endpoint, whether it can be reached now (and why not), the token's state
        and the cache dir, for `vidsum doctor`."""
        from engine.modelstore.hub import hub_status

        return hub_status()

    # --- settings -----------------------------------------------------------------------------

    def export_dir(self) -> Path:
        """Where exports go unless the user picks another folder: the folder chosen last, else
        the user's Downloads folder, else home (never the folder vidsum happened to start in)."""
        from engine.settings import get_export_dir

        chosen = get_export_dir()
        if chosen is not None:
            return chosen
        downloads = Path.home() / "Downloads"
        return downloads if downloads.is_dir() else Path.home()

    def set_export_dir(self, path: Path) -> None:
        from engine.settings import set_export_dir

        set_export_dir(path)

    def export_to_file(
        self, entry: int | Entry, fmt: Literal["json", "md"], path: Path, *, overwrite: bool = False
    ) -> Path:
        """Write the export of one summary to ``path`` atomically, with the usual permissions
        (umask); the absolute path written. A file already there is ``ExportExists`` unless
        ``overwrite``; a folder that cannot be written is an ``ExportError`` naming it."""
        from engine.errors import ExportError, ExportExists
        from engine.fsutil import atomic_write_text

        text = self.export_entry(entry, fmt)
        target = path.expanduser().absolute()
        if not overwrite and (target.exists() or target.is_symlink()):
            raise ExportExists(f"{target} already exists; it was not overwritten.")
        try:
            atomic_write_text(target, text if text.endswith("\n") else text + "\n", private=False)
        except OSError as exc:
            raise ExportError(
                f"{target}: the export could not be written ({exc.strerror or exc})."
            ) from exc
        return target

    def paths(self) -> Paths:
        """Where vidsum keeps its files (``VIDSUM_HOME`` honoured)."""
        from engine.paths import get_paths

        return get_paths()

    def llama_build(self) -> dict[str, Any]:
        """The llama-cpp-python build: version, GPU offload, system info (for `vidsum doctor`)."""
        from engine.runtime.llamacpp.build_info import llama_build

        return llama_build()

    def hardware(self) -> Hardware:
        from engine.hardware import detect

        return detect()

    # --- inference servers (engine.runtime.server) ------------------------------------------------

    def list_servers(self) -> list[ServerProfile]:
        from engine.runtime.server.profiles import load_profiles

        return list(load_profiles().values())

    def add_server(
        self,
        name: str,
        url: str,
        *,
        dialect: str | None = None,
        model: str | None = None,
        api_key_env: str | None = None,
        concurrency: int | None = None,
    ) -> ServerProfile:
        from engine.batch.server_checks import forget
        from engine.runtime.server.dialects import as_dialect
        from engine.runtime.server.profiles import ServerProfile, add_profile

        profile = add_profile(
            ServerProfile(name, url, as_dialect(dialect), model, api_key_env, concurrency)
        )
        forget(profile.name)  # a check of an earlier profile of that name says nothing now
        return profile

    def remove_server(self, name: str) -> None:
        from engine.batch.server_checks import forget
        from engine.runtime.server.profiles import remove_profile

        remove_profile(name)
        forget(name)

    def check_server(self, name: str, *, cancel: CancelToken | None = None) -> ServerCheck:
        """Dialect, model, context, slots, and whether the server enforces a grammar; kept as
        the server's last check (``last_server_checks``) for both faces."""
        from engine.batch.server_checks import record
        from engine.batch.servers import check_server

        check = check_server(name, cancel)
        record(check)
        return check

    def last_server_checks(self) -> dict[str, LastCheck]:
        """Each server's last check (from either face): when, passed or not, what it said."""
        from engine.batch.server_checks import last_checks

        return last_checks()

    def close(self) -> None:
        """Release everything: model workers still running (a job the app is quitting from)
        end now, and their calls raise ``Cancelled``; then the library is closed."""
        from engine.runtime.llamacpp.runner import close_all

        close_all()
        if self._library is not None:
            self._library.close()
            self._library = None


# What the faces hold: the engine itself. No Protocol mirrors ``Engine`` (one more copy of
# every signature to keep in step); the TUI's tests pass ``tests/tui/fake_engine.FakeEngine``, a
# subclass whose overrides mypy checks against these methods (``tests/test_lint.py``).
EngineAPI = Engine
