"""The fake engine's inference servers (a UI fake, mixed into ``FakeEngine``).

Profiles live in a dict, checks answer from a scripted dict of results (held by a ``Gate`` when
a test wants to see "checking…"), and ``summarize`` on ``Servers`` hands the files to the servers in
turn, starting one per server at once, and tags every event with ``extra["endpoint"]`` as the
real scheduler does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.api import SummarizeOptions
from engine.batch.server_checks import LastCheck
from engine.batch.servers import ServerCheck
from engine.batch.store import FileResult
from engine.errors import Cancelled, ConfigError, VidsumError
from engine.progress import CancelToken, Progress, ProgressCallback
from engine.runtime.base import ServerInfo
from engine.runtime.server.dialects import as_dialect
from engine.runtime.server.profiles import ServerProfile

CHECKED_AT = datetime(2026, 12, 6, 21, 5, tzinfo=timezone.utc)


def server_info(profile: ServerProfile, slots: int = 2) -> ServerInfo:
    return ServerInfo(
        name=profile.name,
        url=profile.url,
        dialect=profile.dialect or "llama-server",
        model="gemma-3-270m-it-Q8_0.gguf",
        model_path="/models/gemma-3-270m-it-Q8_0.gguf",
        n_ctx=8192,
        slots=slots,
        build="b6000",
    )


def check_result(profile: ServerProfile, grammar: str, error: str | None = None) -> ServerCheck:
    """A check as the engine reports it: "honoured", "schema-only", "ignored", or
    "unreachable" (no info, an error)."""
    if grammar == "unreachable":
        return ServerCheck(profile, None, "unknown", error or "no answer")
    return ServerCheck(profile, server_info(profile), grammar, error)


class FakeServers:
    """Mixed into ``FakeEngine``: it provides ``_call``, ``_summarize`` and the gates."""

    servers: dict[str, ServerProfile]
    server_checks: dict[str, str]  # name -> "honoured" | "schema-only" | "ignored" | "unreachable"
    stored_checks: dict[str, LastCheck]  # each server's last check, as the engine keeps them
    check_gate: Any  # a Gate holding every check, or None
    _call: Callable[..., None]
    _summarize: Callable[..., Iterator[FileResult]]

    def add_fake_server(self, name: str, url: str, grammar: str = "honoured") -> ServerProfile:
        profile = ServerProfile(name, url, "llama-server", None, None, 2)
        self.servers[name] = profile
        self.server_checks[name] = grammar
        return profile

    def list_servers(self) -> list[ServerProfile]:
        self._call("list_servers")
        return list(self.servers.values())

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
        self._call("add_server", name, url)
        profile = ServerProfile(name, url, as_dialect(dialect), model, api_key_env, concurrency)
        self.servers[name] = profile
        self.stored_checks.pop(name, None)
        return profile

    def remove_server(self, name: str) -> None:
        self._call("remove_server", name)
        self.servers.pop(name, None)
        self.stored_checks.pop(name, None)

    def check_server(self, name: str, *, cancel: CancelToken | None = None) -> ServerCheck:
        self._call("check_server", name)
        if self.check_gate is not None:
            self.check_gate.wait(cancel)
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        grammar = self.server_checks.get(name, "unreachable")
        error = {
            "ignored": f"Server {name} answered outside the grammar: it ignores grammars.",
            "unreachable": f"Server {name} ({self.servers[name].url}) did not answer: "
            "connection refused.",
        }.get(grammar)
        check = check_result(self.servers[name], grammar, error)
        # As the engine: kept as the server's last check (a fixed time: snapshots).
        self.stored_checks[name] = LastCheck.of(check, CHECKED_AT)
        return check

    def last_server_checks(self) -> dict[str, LastCheck]:
        self._call("last_server_checks")
        return dict(self.stored_checks)

    def _summarize_on_servers(
        self,
        paths: Sequence[Path],
        servers: Sequence[str],
        options: SummarizeOptions | None,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> Iterator[FileResult]:
        """``summarize`` on ``Servers``: refused as the engine refuses, else ``_on_servers``."""
        if options is not None and (options.style == "quotes" or options.force):
            raise ConfigError(
                "--style quotes and --force are not available with --server yet; summarize "
                "locally for those."
            )
        for name in servers:
            if name not in self.servers:
                raise VidsumError(f"No server named {name}; see `vidsum servers list`.")
        return self._on_servers(list(paths), list(servers), progress, cancel)

    def _on_servers(
        self,
        paths: list[Path],
        servers: list[str],
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> Iterator[FileResult]:
        """Round-robin over the servers: every server's first file starts before any result
        (several in flight), then each file runs the local fake's steps tagged with its
        endpoint."""
        where = {Path(p).name: servers[i % len(servers)] for i, p in enumerate(paths)}

        def tagged(ev: Progress) -> None:
            if progress is None:
                return
            endpoint = where.get(ev.item or "")
            if endpoint is not None and ev.stage == "load":
                return  # a server has its model loaded: no per-file load
            if endpoint is not None:
                ev = replace(ev, extra={**ev.extra, "endpoint": endpoint})
            progress(ev)

        for name in servers:
            tagged(Progress("load", 0, 1, item=name, message=f"Checking server {name}"))
        for p in paths[: len(servers)]:
            name = Path(p).name
            tagged(Progress("prompt", item=name, message=f"on {where[name]}"))
        yield from self._summarize(paths, None, tagged, cancel)
