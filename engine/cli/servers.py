"""``vidsum servers add|list|rm|check``: named inference-server endpoints (through ``Engine``).

May import: ``engine.api`` and the ground floor.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from engine.api import Engine, server_dialects
from engine.errors import VidsumError


def cmd_servers(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``vidsum servers add|list|rm|check``: one branch per subcommand (a dispatch table)."""
    engine = Engine()
    try:
        if args.servers_cmd == "add":
            p = engine.add_server(
                args.name,
                args.url,
                dialect=args.dialect,
                model=args.model,
                api_key_env=args.api_key_env,
                concurrency=args.concurrency,
            )
            print(
                f"Added server {p.name} ({p.url}); check it with: vidsum servers check {p.name}",
                file=err,
            )
            return 0
        if args.servers_cmd == "rm":
            engine.remove_server(args.name)
            print(f"Removed server {args.name}.", file=err)
            return 0
        if args.servers_cmd == "list":
            profiles = engine.list_servers()
            checked = engine.last_server_checks()  # from this face or the TUI
            if args.json:
                rows = [
                    {**p.__dict__, "last_check": _last_check_json(checked.get(p.name))}
                    for p in profiles
                ]
                out.write(json.dumps(rows, indent=2) + "\n")
                return 0
            if not profiles:
                print("No servers yet: vidsum servers add NAME --url http://host:8080", file=out)
            for p in profiles:
                extra = [
                    f"dialect {p.dialect or 'auto'}",
                    *([f"model {p.model}"] if p.model else []),
                    *([f"key from ${p.api_key_env}"] if p.api_key_env else []),
                    *([f"concurrency {p.concurrency}"] if p.concurrency else []),
                ]
                print(f"{p.name:<12} {p.url}  ({', '.join(extra)})", file=out)
                last = checked.get(p.name)
                if last is not None:
                    said = "passed" if last.ok else f"failed: {last.message or last.grammar}"
                    print(f"{'':<12} last check {last.when}: {said}", file=out)
            return 0
        if args.servers_cmd == "check":
            names = args.names or [p.name for p in engine.list_servers()]
            bad = 0
            for name in names:
                try:
                    c = engine.check_server(name)
                except VidsumError as exc:  # one bad profile does not stop the others
                    print(f"vidsum: {exc}", file=err)
                    bad += 1
                    continue
                d: dict[str, Any] = c.as_dict()
                if args.json:
                    out.write(json.dumps(d) + "\n")
                else:
                    print(
                        f"{d['name']}: {d['url']} dialect {d['dialect'] or '?'}, model "
                        f"{d['model'] or '?'}, context {d['context'] or '?'}, slots "
                        f"{d['slots'] or '?'}, grammar {d['grammar']}"
                        + (f", build {d['build']}" if d.get("build") else ""),
                        file=out,
                    )
                    if c.error:
                        print(f"  {c.error}", file=out)
                if c.grammar not in ("honoured", "schema-only"):
                    bad += 1
            return 1 if bad else 0
    finally:
        engine.close()
    raise AssertionError(args.servers_cmd)


def _last_check_json(last: Any) -> dict[str, Any] | None:
    """A server's last check in ``servers list --json`` (None: never checked)."""
    if last is None:
        return None
    return {"at": last.checked_at, "ok": last.ok, "grammar": last.grammar, "message": last.message}


def register(sub: Any) -> None:
    s = sub.add_parser(
        "servers", help="inference servers (llama-server, vLLM, ...) to summarize on"
    )
    ssub = s.add_subparsers(dest="servers_cmd", metavar="ACTION", required=True)
    a = ssub.add_parser("add", help="name an endpoint")
    a.add_argument("name", help="the profile's name (summarize --server NAME)")
    a.add_argument(
        "--url", required=True, help="e.g. http://127.0.0.1:8080 (no password: --api-key-env)"
    )
    a.add_argument("--dialect", choices=server_dialects(), help="default: detected from the server")
    a.add_argument("--model", help="model id to request (servers serving several)")
    a.add_argument("--api-key-env", metavar="VAR", help="environment variable with the API key")
    a.add_argument("--concurrency", type=int, metavar="N", help="requests at once (default: slots)")
    r = ssub.add_parser("rm", help="forget an endpoint")
    r.add_argument("name", help="the profile's name")
    ls = ssub.add_parser("list", help="list endpoints")
    ls.add_argument("--json", action="store_true", help="a JSON array on stdout")
    c = ssub.add_parser("check", help="dialect, model, context, slots; is the grammar honoured?")
    c.add_argument("names", nargs="*", metavar="NAME", help="profiles to check (default: all)")
    c.add_argument("--json", action="store_true", help="one JSON object per server on stdout")
    s.set_defaults(func=cmd_servers)
