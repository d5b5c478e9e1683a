"""``vidsum library list|search|show|export|delete``: the stored summaries (through ``Engine``).

May import: ``engine.api``, the record types and the ground floor.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from engine.api import Engine, backend_kinds, backend_label, row_to_json
from engine.errors import ExportExists
from engine.timefmt import format_timestamp

if TYPE_CHECKING:
    from engine.library.records import Entry


def _fmt_time(seconds: float | None) -> str:
    return "?" if seconds is None else format_timestamp(max(0.0, seconds))


def cmd_library(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    engine = Engine()
    try:
        if args.library_cmd in ("list", "search"):
            rows = engine.list_entries(
                query=args.query,
                backend=args.backend,
                endpoint=args.endpoint,
                limit=args.limit,
                offset=0,
            )
            if args.json:
                out.write(
                    json.dumps([row_to_json(r) for r in rows], ensure_ascii=False, indent=2) + "\n"
                )
                return 0
            if not rows:
                narrowed = args.query or args.backend or args.endpoint
                print("No match." if narrowed else "The library is empty.", file=out)
            for r in rows:
                gts = ", ".join(f"{t} {c:.2f}" for t, c in r.general_topics)
                badge = "[FAILED] " if r.failed else ""
                # Server summaries name where they ran; local ones are the plain case.
                where = "" if r.is_local else f" on {backend_label(r.backend, r.endpoint)}"
                print(
                    f"#{r.id:<5} {r.created_at[:10]}  {_fmt_time(r.duration)}  {badge}{r.title}"
                    f"  [{r.model_id}{where}]  {gts}",
                    file=out,
                )
            return 0
        if args.library_cmd == "show":
            # --json: the same text as `export --format json` (``entry_to_json``, indented).
            out.write(engine.export_entry(args.id, "json" if args.json else "md") + "\n")
            return 0
        if args.library_cmd == "export":
            if args.output:
                written = export_file(engine, args.id, args.format, Path(args.output), args.force)
                print(f"Wrote {written}", file=err)
            else:
                out.write(engine.export_entry(args.id, args.format) + "\n")
            return 0
        if args.library_cmd == "delete":
            engine.delete_entry(args.id)
            print(f"Deleted #{args.id}", file=err)
            return 0
    finally:
        engine.close()
    raise AssertionError(args.library_cmd)


def export_file(engine: Engine, entry: int | Entry, fmt: Any, path: Path, force: bool) -> Path:
    """``-o FILE`` of `library export` and `summarize` (``entry``: an id, or the entry a
    summarize result carries): an existing file only with --force."""
    try:
        return engine.export_to_file(entry, fmt, path, overwrite=force)
    except ExportExists as exc:
        raise ExportExists(f"{exc} Add --force to replace it.") from None


def _add_filters(parser: argparse.ArgumentParser) -> None:
    """Where the summaries ran: ``--backend`` and ``--endpoint`` (list and search)."""
    parser.add_argument(
        "--backend",
        choices=backend_kinds(),
        help="only summaries made there: local (this machine's llama.cpp worker) or a server "
        "dialect",
    )
    parser.add_argument(
        "--endpoint", metavar="NAME", help="only summaries made on this server profile"
    )


def register(sub: Any) -> None:
    lib = sub.add_parser("library", help="list, show and export stored summaries")
    lsub = lib.add_subparsers(dest="library_cmd", metavar="ACTION", required=True)
    as_json = "JSON on stdout instead of text (a stable shape for scripts)"
    at_most = "at most this many (default: %(default)s)"
    ll = lsub.add_parser("list", help="list stored summaries")
    ll.add_argument("--json", action="store_true", help=as_json)
    ll.add_argument("--query", "-s", help="only summaries with these words (full-text search)")
    ll.add_argument("--limit", type=int, default=1000, help=at_most)
    _add_filters(ll)
    lq = lsub.add_parser("search", help="search stored summaries (same as list -s QUERY)")
    lq.add_argument("query", metavar="QUERY", help="words to find (title, summary, transcript)")
    lq.add_argument("--json", action="store_true", help=as_json)
    lq.add_argument("--limit", type=int, default=1000, help=at_most)
    _add_filters(lq)
    which = "the summary's number (#ID in `vidsum library list`)"
    ls_ = lsub.add_parser("show", help="show one summary")
    ls_.add_argument("id", type=int, metavar="ID", help=which)
    ls_.add_argument(
        "--json", action="store_true", help="the `export --format json` object, not Markdown"
    )
    le = lsub.add_parser("export", help="export one summary")
    le.add_argument("id", type=int, metavar="ID", help=which)
    le.add_argument(
        "--format",
        choices=["json", "md"],
        default="md",
        help="Markdown or the `show --json` object (default: %(default)s)",
    )
    le.add_argument("-o", "--output", metavar="FILE", help="write to this file instead of stdout")
    le.add_argument("--force", action="store_true", help="replace FILE if it exists")
    ld = lsub.add_parser("delete", help="delete one summary")
    ld.add_argument("id", type=int, metavar="ID", help=which)
    lib.set_defaults(func=cmd_library)
