"""`vidsum models ...` and `vidsum doctor`: the model manager's face on the command line.

``register(subparsers)`` adds the commands to the main parser (``engine.cli.main``). Handlers take
``(args, out, err)`` and return the exit code; errors are ``VidsumError``s printed by
``engine.cli.main.main``. Results go to stdout, progress bars and notes to stderr.
Everything goes through ``engine.api.Engine`` (never the model store underneath), so the CLI and
the TUI do the same thing, e.g. when the default model is removed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from engine.api import Engine
from engine.units import format_bytes

if TYPE_CHECKING:
    from engine.modelstore.catalog import CatalogEntry, ModelStatus


def register(subparsers: Any) -> None:
    m = subparsers.add_parser("models", help="list, download, remove and choose models")
    msub = m.add_subparsers(dest="models_cmd", metavar="ACTION", required=True)

    ml = msub.add_parser("list", help="every catalog model and quant: size, installed, fit")
    ml.add_argument("--json", action="store_true", help="a JSON array on stdout")
    ml.add_argument("--ctx", type=int, default=8192, help="context for the fit verdict (8192)")
    ml.set_defaults(func=cmd_list)

    mp = msub.add_parser("pull", help="download (or resume) a model and verify its sha256")
    mp.add_argument("id", metavar="ID", help="a catalog id from `vidsum models list`")
    mp.add_argument("--retries", type=int, default=2, help="resume this often after a drop (2)")
    mp.add_argument(
        "--stall-timeout",
        type=float,
        default=None,
        metavar="S",
        help="give up after S seconds without data (default 60, or $VIDSUM_DOWNLOAD_STALL_TIMEOUT)",
    )
    mp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    mp.set_defaults(func=cmd_pull)

    mr = msub.add_parser("rm", help="delete a downloaded model (or forget a local one)")
    mr.add_argument("id", metavar="ID", help="an installed catalog model or a local model's name")
    mr.set_defaults(func=cmd_rm)

    mu = msub.add_parser("use", help="make a model the default")
    mu.add_argument("id", metavar="ID", help="a catalog id or a local model's name")
    mu.set_defaults(func=cmd_use)

    ma = msub.add_parser("add", help="register a local .gguf (checked and hashed, not copied)")
    ma.add_argument("path", metavar="PATH", help="the .gguf file (it stays where it is)")
    ma.add_argument("--name", help="display name (default: from the GGUF)")
    ma.add_argument(
        "--chat-format",
        choices=["gguf-template", "mistral-instruct"],
        default=None,
        help="prompt format (default: the GGUF's own chat template)",
    )
    ma.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ma.set_defaults(func=cmd_add)

    mi = msub.add_parser("info", help="everything vidsum knows about one model")
    mi.add_argument("id", metavar="ID", help="a catalog id or a local model's name")
    mi.add_argument("--json", action="store_true", help="a JSON object on stdout")
    mi.add_argument("--ctx", type=int, default=8192, help="context for the fit verdict (8192)")
    mi.set_defaults(func=cmd_info)

    d = subparsers.add_parser("doctor", help="hardware, llama.cpp build, installed models, paths")
    d.add_argument("--json", action="store_true", help="a JSON object on stdout")
    d.set_defaults(func=cmd_doctor)


# --- helpers -----------------------------------------------------------------------------------


def _gb(n: int | None, exact: bool = True) -> str:
    return format_bytes(n, approx=not exact)


def _status_json(s: ModelStatus) -> dict[str, Any]:
    e = s.entry
    return {
        "id": e.id,
        "name": e.name,
        "family": e.family,
        "quant": e.quant,
        "source": e.source,
        "repo": e.repo,
        "revision": e.revision,
        "file": e.file,
        "path": str(e.path) if e.path else None,
        "size": e.size,
        "size_exact": e.size_exact,
        "sha256": e.sha256,
        "n_ctx_train": e.n_ctx_train,
        "sliding_window": e.sliding_window,
        "chat_format": e.chat_format,
        "architecture": e.architecture,
        "recommended": e.recommended,
        "installed": s.installed is not None,
        "installed_path": str(s.installed) if s.installed else None,
        "verified": s.verified,
        "partial_bytes": s.partial_bytes,
        "default": s.is_default,
        "in_use": s.in_use,
        "fit": s.fit,
        "fit_detail": s.fit_detail,
    }


def _installed_cell(s: ModelStatus) -> str:
    if s.installed is not None:
        return "yes" if s.verified else "yes (unverified)"
    if s.partial_bytes and s.entry.size:
        return f"partial {min(99, 100 * s.partial_bytes // s.entry.size)}%"
    return "-"


def _bar(err: TextIO, quiet: bool) -> Any:
    from engine.cli.progress_bar import ProgressBar

    return ProgressBar(err, enabled=not quiet)


# --- models ------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    statuses = Engine().list_models(n_ctx=args.ctx)
    if args.json:
        out.write(json.dumps([_status_json(s) for s in statuses], indent=2) + "\n")
        return 0
    rows = [("", "ID", "SIZE", "INSTALLED", "FIT")]
    for s in statuses:
        mark = "*" if s.in_use else ("+" if s.entry.recommended else "")
        rows.append(
            (mark, s.entry.id, _gb(s.entry.size, s.entry.size_exact), _installed_cell(s), s.fit)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        out.write(
            "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4] + "\n"
        )
    out.write(
        "\n* default: used without --model (set with vidsum models use, else automatic)"
        "   + recommended   ~ approximate size\n"
    )
    return 0


def cmd_pull(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    engine = Engine()
    entry = engine.model_entry(args.id)
    bar = _bar(err, args.quiet)
    try:
        path = engine.pull_model(
            entry.id, progress=bar, retries=args.retries, stall_timeout=args.stall_timeout
        )
    except KeyboardInterrupt:
        bar.close()
        kept = engine.partial_bytes(entry.id)
        err.write(
            f"Interrupted; {kept:,} bytes are kept: run `vidsum models pull {entry.id}` "
            "to resume.\n"
        )
        return 130
    finally:
        bar.close()
    out.write(f"{entry.id}: {path}\n")
    return 0


def cmd_rm(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    removal = Engine().remove_model(args.id)
    out.write(removal.message + "\n")
    if removal.default_note is not None:
        err.write(removal.default_note + "\n")
    return 0


def cmd_use(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    engine = Engine()
    entry = engine.model_entry(args.id)
    engine.set_default_model(entry.id)
    out.write(f"Default model: {entry.id}\n")
    if engine.model_status(entry.id, fit=False).installed is None:
        err.write(f"Note: {entry.id} is not installed yet; run `vidsum models pull {entry.id}`.\n")
    return 0


def cmd_add(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    bar = _bar(err, args.quiet)
    try:
        entry = Engine().add_model(
            Path(args.path), name=args.name, chat_format=args.chat_format, progress=bar
        )
    finally:
        bar.close()
    out.write(f"Added {entry.id} ({entry.path}, sha256 {entry.sha256}).\n")
    return 0


def cmd_info(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    engine = Engine()
    s = engine.model_status(args.id, n_ctx=args.ctx)
    data = _status_json(s)
    page = engine.model_page(s.entry.id)
    if page is not None:
        data["page"] = page
    if args.json:
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    for k, v in data.items():
        out.write(f"{k:15} {v}\n")
    return 0


# --- doctor ------------------------------------------------------------------------------------


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def _hardware() -> dict[str, Any] | str:
    """The detected hardware as JSON values (sizes in bytes), or why it is unknown."""
    try:
        hw = Engine().hardware()
    except ImportError:
        return "unknown (hardware detection is not available in this build)"
    except Exception as exc:  # doctor reports; it does not crash
        return f"unknown (detection failed: {type(exc).__name__}: {exc})"
    data: dict[str, Any] = _jsonable(hw)
    data["ram_plan"] = hw.ram_plan()
    data["build_warning"] = hw.warning()
    return data


def _yes_no(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "unknown")


def doctor_report() -> dict[str, Any]:
    """What `vidsum doctor --json` prints: plain JSON values, sizes in bytes."""
    from engine import __version__

    engine = Engine()
    paths = engine.paths()
    statuses = engine.list_models(fit=False)
    hub = engine.hub_status()
    return _jsonable(
        {
            "vidsum": __version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "hardware": _hardware(),
            "llama_cpp": engine.llama_build(),
            "paths": {
                "data": str(paths.data),
                "config": str(paths.config),
                "cache": str(paths.cache),
                "library": str(paths.library_db),
                "settings": str(paths.settings_file),
                "hf_cache": str(hub.cache_dir),
            },
            "hub": {
                "endpoint": hub.endpoint,
                "offline": hub.offline,
                "offline_reason": hub.offline_reason,
                "token": hub.token,
            },
            "default_model": engine.default_model(),
            "installed": [
                {"id": s.entry.id, "path": str(s.installed), "verified": s.verified}
                for s in statuses
                if s.installed is not None
            ],
            "partial_downloads": [
                {"id": s.entry.id, "bytes": s.partial_bytes} for s in statuses if s.partial_bytes
            ],
        }
    )


def _write_hardware(hw: dict[str, Any] | str, out: TextIO) -> None:
    from engine.api import ram_reserve_words

    out.write("Hardware\n")
    if not isinstance(hw, dict):
        out.write(f"  {hw}\n")
        return
    out.write(f"  platform   {hw['platform']}, {hw['cpu_physical_cores']} physical CPU cores\n")
    if hw["ram_total"]:
        out.write(
            f"  RAM        {format_bytes(hw['ram_total'])} total, "
            f"{format_bytes(hw['ram_available'])} free now\n"
            f"             models are planned on {format_bytes(hw['ram_plan'])} "
            f"({ram_reserve_words()})\n"
        )
    else:
        out.write("  RAM        unknown\n")
    if not hw["gpus"]:
        out.write("  GPU        none found\n")
    for gpu in hw["gpus"]:
        out.write(
            f"  GPU        {gpu['name']}: {format_bytes(gpu['total_bytes'])} total, "
            f"{format_bytes(gpu['free_bytes'])} free ({gpu['backend']})\n"
        )
    for note in hw["notes"]:
        out.write(f"  note       {note}\n")
    if hw["build_warning"]:
        out.write(f"  WARNING    {hw['build_warning']}\n")


def cmd_doctor(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    report = doctor_report()
    if args.json:
        out.write(json.dumps(report, indent=2) + "\n")
        return 0
    out.write(f"vidsum {report['vidsum']}  (Python {report['python']}, {report['platform']})\n\n")
    _write_hardware(report["hardware"], out)
    llama = report["llama_cpp"]
    out.write("\nllama.cpp build\n")
    if llama.get("installed"):
        offload = {True: "yes", False: "no (CPU only)"}.get(llama.get("gpu_offload"), "unknown")
        out.write(f"  version    llama-cpp-python {llama.get('version')}\n")
        out.write(f"  offload    {offload}\n")
        if llama.get("system_info"):
            out.write(f"  features   {llama['system_info'].strip()}\n")
        if llama.get("hint"):
            out.write(f"  hint       {llama['hint']}\n")
        if llama.get("error"):
            out.write(f"  error      {llama['error']}\n")
    else:
        out.write(f"  not usable: {llama.get('error')}\n")
    out.write("\nModels\n")
    out.write(f"  default    {report['default_model'] or 'automatic'}\n")
    for m in report["installed"]:
        out.write(f"  installed  {m['id']}: {m['path']} (verified: {_yes_no(m['verified'])})\n")
    for m in report["partial_downloads"]:
        out.write(
            f"  partial    {m['id']}: {format_bytes(m['bytes'])} kept; "
            f"`vidsum models pull {m['id']}` resumes\n"
        )
    if not report["installed"]:
        out.write(f"  installed  none: run `vidsum models pull {Engine().recommended_model()}`\n")
    hub = report["hub"]
    out.write("\nHub\n")
    out.write(f"  endpoint   {hub['endpoint']}\n")
    out.write(f"  offline    {_yes_no(hub['offline'])} ({hub['offline_reason']})\n")
    out.write(f"  HF_TOKEN   {hub['token']}\n")
    out.write("\nPaths\n")
    for k, v in report["paths"].items():
        out.write(f"  {k:10} {v}\n")
    return 0


def describe(entry: CatalogEntry) -> str:
    """One line for a model, used by the TUI and messages."""
    return f"{entry.name} ({_gb(entry.size, entry.size_exact)})"
