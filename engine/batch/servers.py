"""The servers strategy: a batch of transcripts spread over server endpoints.

Before any work every endpoint is asked what it is and given the grammar canary: one that
ignores grammars refuses the whole batch (schema-only endpoints are labelled, not refused). Each
endpoint then gets one thread per slot (``/props`` ``total_slots`` or the profile's
``--concurrency``); threads take the longest pending transcript first and run the same pipeline
as the local strategy (``engine.batch.summary.summarize_styled``: long-form, or quotes with
``--style quotes``; ``auto`` is abstractive on a server, see ``quotes.resolve_style``) on a
``ServerBackend``. An endpoint that stops answering has its transcript put back at the head of
the queue for the others. Results are stored by the calling thread only (the library stays
single-writer), through ``engine.batch.store`` as the local strategy's (``--force`` replaces the
old entry in the storing transaction), so a batch killed half-way continues where it stopped:
the dedupe key (``engine.batch.store.summary_key``) holds the server's model identity
(``server:<model file>``), which keeps server summaries apart from local ones of the same model,
and the style.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from engine.batch.inputs import Dedupe, read_all
from engine.batch.options import Job
from engine.batch.store import FileResult, Made, Result, from_library, new_entry, store
from engine.batch.summary import chat_spec, summarize_styled
from engine.errors import Cancelled, ConfigError, VidsumError
from engine.pipeline.quotes.summary import resolve_style
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit
from engine.runtime.base import (
    Backend,
    GrammarNotHonoured,
    Sampling,
    ServerError,
    ServerInfo,
    ServerProfile,
    ServerUnavailable,
)
from engine.runtime.server.dialects import api_key_from_env, connect
from engine.runtime.server.http import ServerBackend, canary
from engine.runtime.server.profiles import get_profile
from engine.transcripts.types import Transcript

_FORWARD_EVERY_S = 0.5


@dataclass
class Endpoint:
    profile: ServerProfile
    info: ServerInfo
    api_key: str | None
    dead: str | None = None  # why it was dropped mid-batch
    done: int = 0
    free: int = 0  # slots not running a pass (set when the batch starts; under _Shared.cond)


@dataclass(frozen=True)
class ServerCheck:
    """``vidsum servers check``: what the endpoint is and whether it enforces grammars."""

    profile: ServerProfile
    info: ServerInfo | None
    grammar: str  # "honoured" | "ignored" | "schema-only" | "unknown"
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        i = self.info
        return {
            "name": self.profile.name,
            "url": self.profile.url,
            "dialect": i.dialect if i else self.profile.dialect,
            "model": i.model if i else self.profile.model,
            "model_path": i.model_path if i else None,
            "context": i.n_ctx if i else None,
            "slots": i.slots if i else None,
            "build": i.build if i else None,
            "grammar": self.grammar,
            "error": self.error,
        }


def open_endpoint(
    profile: ServerProfile,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> Endpoint:
    key = api_key_from_env(profile.name, profile.api_key_env)
    info = connect(
        profile.name,
        profile.url,
        dialect=profile.dialect,
        model=profile.model,
        api_key=key,
        concurrency=profile.concurrency,
        cancel=cancel,
        progress=progress,
    )
    return Endpoint(profile, info, key)


def prove_grammar(ep: Endpoint, cancel: CancelToken | None = None) -> str:
    """Run the canary; "schema-only" for a JSON-schema endpoint (no grammar to prove)."""
    if ep.info.schema_only:
        return "schema-only"
    canary(ServerBackend(ep.info, ep.api_key), cancel)
    return "honoured"


def check_server(name: str, cancel: CancelToken | None = None) -> ServerCheck:
    profile = get_profile(name)
    try:
        ep = open_endpoint(profile, cancel)
    except Cancelled:
        raise
    except VidsumError as exc:
        return ServerCheck(profile, None, "unknown", str(exc))
    try:
        return ServerCheck(profile, ep.info, prove_grammar(ep, cancel))
    except GrammarNotHonoured as exc:
        return ServerCheck(profile, ep.info, "ignored", str(exc))
    except ServerError as exc:
        return ServerCheck(profile, ep.info, "unknown", str(exc))


@dataclass
class _Item:
    path: Path
    transcript: Transcript
    started: float = 0.0
    endpoint: str = ""


@dataclass
class _Shared:
    pending: collections.deque[_Item]
    attempts: int  # RunOptions.attempts
    style: Literal["abstractive", "quotes"]  # resolved for a server (quotes.resolve_style)
    cond: threading.Condition = field(default_factory=threading.Condition)
    in_flight: int = 0
    events: queue.Queue[tuple[Any, ...]] = field(default_factory=queue.Queue)


def run_servers(
    paths: Sequence[Path | str | Transcript],
    servers: Sequence[str],
    job: Job,
) -> Iterator[FileResult]:
    """Summarize ``paths`` on the named server profiles, yielding results as they complete
    (see ``engine.batch.run.run``).

    Raises ``GrammarNotHonoured`` before any work when an endpoint ignores grammars, and
    ``ServerUnavailable`` when no endpoint answers. Cancel raises ``Cancelled`` once every
    request is closed; nothing partial is stored.
    """
    if not servers:
        raise ConfigError("Name at least one server (--server NAME).")
    library, options, progress = job.library, job.options, job.progress
    style = resolve_style(options.style, "server")
    cancel = job.cancel or CancelToken()
    endpoints = _open_endpoints(list(dict.fromkeys(servers)), progress, cancel)
    dedupe = Dedupe(tuple(ep.info.identity for ep in endpoints), style, force=options.force)
    items: list[_Item] = []
    for path, transcript, error in read_all(paths, progress, cancel):
        found = None if transcript is None else dedupe.stored(library, transcript)
        if transcript is None:
            yield FileResult(file=path, error=error)
        elif found is not None:
            yield from_library(path, library, found)
        else:
            items.append(_Item(path, transcript))
    if not items:
        return
    items.sort(key=lambda it: len(it.transcript.text), reverse=True)
    shared = _Shared(collections.deque(items), options.attempts, style)
    yield from _spread(items, endpoints, shared, job, cancel)


def _spread(
    items: list[_Item],
    endpoints: list[Endpoint],
    shared: _Shared,
    job: Job,
    cancel: CancelToken,
) -> Iterator[FileResult]:
    """One thread per endpoint slot; the calling thread collects and stores."""
    for ep in endpoints:
        ep.free = max(1, ep.info.slots)
    threads = [
        threading.Thread(
            target=_work,
            args=(ep, shared, job.options.sampling, cancel),
            name=f"vidsum-server-{ep.info.name}-{slot}",
            daemon=True,
        )
        for ep in endpoints
        for slot in range(max(1, ep.info.slots))
    ]
    for t in threads:
        t.start()
    try:
        yield from _collect(items, endpoints, shared, threads, job, cancel)
    finally:
        cancel_all = any(t.is_alive() for t in threads)
        if cancel_all:
            cancel.cancel()
        for t in threads:
            t.join(5.0)


def _open_endpoints(
    names: Sequence[str], progress: ProgressCallback | None, cancel: CancelToken
) -> list[Endpoint]:
    """The named servers that answer, each proven to honour grammars (or schema-only)."""
    endpoints: list[Endpoint] = []
    unreachable: list[str] = []
    for name in names:
        profile = get_profile(name)
        emit(progress, Progress("load", 0, 1, item=name, message=f"Checking server {name}"))
        try:
            ep = open_endpoint(profile, cancel, progress)
        except ServerUnavailable as exc:
            unreachable.append(str(exc))
            emit(progress, Progress("notice", message=f"Skipping server {name}: {exc}"))
            continue
        grammar = prove_grammar(ep, cancel)  # GrammarNotHonoured refuses the batch
        if grammar == "schema-only":
            emit(
                progress,
                Progress(
                    "notice",
                    message=f"Server {name} is schema-only (JSON schema, no grammar): its "
                    "answers are validated and retried, but their shape is not enforced.",
                ),
            )
        endpoints.append(ep)
    if not endpoints:
        raise ServerUnavailable("No server answered: " + " ".join(unreachable))
    return endpoints


def _work(ep: Endpoint, shared: _Shared, sampling: Sampling, cancel: CancelToken) -> None:
    backend = ServerBackend(ep.info, ep.api_key)
    try:
        chat = chat_spec(ep.info, backend)
    except VidsumError as exc:  # the endpoint died before its first file: the others go on
        with shared.cond:
            ep.dead = str(exc)
            shared.cond.notify_all()
        return
    while True:
        with shared.cond:
            while True:
                if cancel.cancelled or ep.dead:
                    return
                if shared.pending and ep.free > 0:
                    item = shared.pending.popleft()
                    shared.in_flight += 1
                    ep.free -= 1
                    break
                if shared.in_flight == 0:
                    return
                shared.cond.wait(0.2)
        item = replace(item, started=time.monotonic(), endpoint=ep.info.name)
        shared.events.put(("start", item))

        def forward(ev: Progress, item: _Item = item) -> None:
            shared.events.put(("progress", item, ev))

        try:
            result = summarize_styled(
                shared.style,
                item.transcript,
                backend,
                chat,
                sampling=sampling,
                progress=forward,
                cancel=cancel,
                max_attempts=shared.attempts,
                lanes=_SlotLanes(ep, shared),
            )
        except Cancelled:
            _finish(ep, shared)
            return
        except ServerUnavailable as exc:
            with shared.cond:
                ep.dead = str(exc)
                shared.pending.appendleft(replace(item, started=0.0, endpoint=""))
                shared.in_flight -= 1
                ep.free += 1
                shared.cond.notify_all()
            shared.events.put(("moved", item, ep, str(exc)))
            return
        except VidsumError as exc:
            shared.events.put(("failed", item, str(exc)))
        except Exception as exc:  # a bug must still end this file, not hang the batch
            shared.events.put(("failed", item, f"{item.path}: internal error: {exc!r}"))
        else:
            ep.done += 1
            shared.events.put(("ok", item, ep, result))
        _finish(ep, shared)


def _finish(ep: Endpoint, shared: _Shared) -> None:
    with shared.cond:
        shared.in_flight -= 1
        ep.free += 1
        shared.cond.notify_all()


class _SlotLanes:
    """An endpoint's idle slots, lent to the notes passes of a transcript it is summarizing
    (``engine.pipeline.passes.lanes``). Only when no file is waiting: a waiting file takes a free
    slot first (it is longer, and a whole file keeps a slot busy longer than one pass). Lanes stay
    on the same endpoint, so every pass of a summary is made by the same model."""

    def __init__(self, ep: Endpoint, shared: _Shared) -> None:
        self.ep = ep
        self.shared = shared

    def borrow(self, want: int) -> list[Backend]:
        with self.shared.cond:
            if self.shared.pending or self.ep.dead:
                return []
            n = min(want, self.ep.free)
            self.ep.free -= n
        return [ServerBackend(self.ep.info, self.ep.api_key) for _ in range(n)]

    def give_back(self, backends: list[Backend]) -> None:
        for backend in backends:
            backend.close()
        with self.shared.cond:
            self.ep.free += len(backends)
            self.shared.cond.notify_all()


def _collect(
    items: list[_Item],
    endpoints: list[Endpoint],
    shared: _Shared,
    threads: list[threading.Thread],
    job: Job,
    cancel: CancelToken,
) -> Iterator[FileResult]:
    """The calling thread: forwards progress, stores results, yields them."""
    remaining = {id(it.transcript): it for it in items}
    in_flight: list[str] = []  # file names, oldest first: its progress drives the bar
    last_forward: dict[str, float] = {}
    while remaining:
        try:
            event = shared.events.get(timeout=0.1)
        except queue.Empty:
            event = None
        # After the wait: a cancel ends the workers without an event (they are not "gone"),
        # and what they sent while it came is dropped (nothing more is stored or reported).
        check(cancel)
        if event is None:
            if not any(t.is_alive() for t in threads) and shared.events.empty():
                # Every endpoint is gone: what is left cannot be done in this batch.
                yield from _abandon(remaining, endpoints)
            continue
        kind = event[0]
        if kind in ("start", "progress", "moved"):
            _report(event, in_flight, last_forward, job.progress)
        elif kind in ("failed", "ok"):
            it = event[1]
            _drop(in_flight, it.path.name)
            del remaining[id(it.transcript)]
            if kind == "failed":
                yield FileResult(file=it.path, title=it.transcript.display_title, error=event[2])
            else:
                yield _store(it, event[2], event[3], job, shared.style)


def _abandon(remaining: dict[int, _Item], endpoints: Sequence[Endpoint]) -> Iterator[FileResult]:
    """An error result for every file left when no endpoint is."""
    why = "; ".join(ep.dead or "" for ep in endpoints if ep.dead)
    for it in list(remaining.values()):
        del remaining[id(it.transcript)]
        yield FileResult(
            file=it.path,
            title=it.transcript.display_title,
            error=f"{it.path}: no server was left to summarize it ({why})",
        )


def _report(
    event: tuple[Any, ...],
    in_flight: list[str],
    last_forward: dict[str, float],
    progress: ProgressCallback | None,
) -> None:
    """Forward a worker's start, progress or moved event (progress of the oldest file only,
    its generation steps at most every ``_FORWARD_EVERY_S``)."""
    kind = event[0]
    if kind == "start":
        it = event[1]
        in_flight.append(it.path.name)
        emit(
            progress,
            Progress(
                "prompt",
                item=it.path.name,
                message=f"on {it.endpoint}",
                extra={"endpoint": it.endpoint},
            ),
        )
    elif kind == "progress":
        it, ev = event[1], event[2]
        name = it.path.name
        now = time.monotonic()
        if (
            in_flight
            and in_flight[0] == name
            and (ev.stage != "generate" or now - last_forward.get(name, 0.0) >= _FORWARD_EVERY_S)
        ):
            last_forward[name] = now
            emit(
                progress,
                replace(ev, item=name, extra={**ev.extra, "endpoint": it.endpoint}),
            )
    elif kind == "moved":
        it, ep, why = event[1], event[2], event[3]
        _drop(in_flight, it.path.name)
        emit(
            progress,
            Progress(
                "notice",
                message=f"Server {ep.info.name} stopped answering; its work moves to the "
                f"other servers ({why})",
            ),
        )


def _drop(names: list[str], name: str) -> None:
    if name in names:
        names.remove(name)


def _store(
    it: _Item,
    ep: Endpoint,
    result: Result,
    job: Job,
    style: Literal["abstractive", "quotes"],
) -> FileResult:
    """Store one server's summary as the local strategy does (``engine.batch.store``)."""
    info, options = ep.info, job.options
    made = _made_on(info, result.n_ctx)
    new = new_entry(it.transcript, result, made, options.sampling, style)
    title = it.transcript.display_title
    gen, lib = result.generation, job.library
    return store(it.path, title, new, gen, it.started, lib, options.force, job.progress, info.name)


def _made_on(info: ServerInfo, n_ctx: int) -> Made:
    """Where a server's summary was made. The model fields hold the server's model identity
    (the dedupe key's, see the module docstring). The sampling record keeps its "backend"
    object as before (with the served model's id and the schema-only mark) for scripts that
    read it: stored rows stay as they were."""
    return Made(
        model_id=info.identity,
        model_path=info.model_path or info.model,
        model_sha256=info.identity,
        quant=None,
        backend=info.dialect,
        n_ctx=n_ctx,
        endpoint=info.name,
        endpoint_url=info.url,
        server_build=info.build or None,
        sampling={
            "backend": {
                "kind": info.dialect,
                "endpoint": info.name,
                "url": info.url,
                "model": info.model,
                "model_path": info.model_path,
                "build": info.build,
                "schema_only": info.schema_only,
            }
        },
        flags=("schema_only: the server took a JSON schema, not the grammar",)
        if info.schema_only
        else (),
    )
