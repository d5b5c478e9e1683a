"""A fake Hugging Face Hub on 127.0.0.1 for download tests (real HTTP, no mocks).

Two ``ThreadingHTTPServer``s share one state, like the real hub and its CDN:

- the hub (``FakeHub.url``, used as ``HF_ENDPOINT``): ``HEAD/GET /{repo}/resolve/{rev}/{file}``
  answers 302 to the CDN with ``X-Repo-Commit``, ``ETag``, ``X-Linked-Etag`` (the sha256) and
  ``X-Linked-Size``; ``POST /api/models/{repo}/paths-info/{rev}`` gives the LFS sha256;
- the CDN (another port, so another origin: huggingface_hub does not follow the redirect and
  the token must not reach it): ``HEAD/GET /lfs/{sha256}`` with ``Range`` -> 206.

Faults per file (``FakeHub.fault``): an HTTP status (with ``X-Error-Code``), drop the connection
after N body bytes, stall after N bytes, corrupt bytes at the same size, ignore ``Range``, and a
throttle. ``served`` counts body bytes actually written per file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

_CHUNK = 64 * 1024


@dataclass
class Fault:
    status: int | None = None  # answer every request for the file with this status
    error_code: str | None = None  # X-Error-Code sent with ``status`` (GatedRepo, EntryNotFound...)
    drop_after: int | None = None  # GET: close the connection after this many body bytes
    stall_after: int | None = None  # GET: stop sending after this many bytes (until released)
    corrupt: bool = False  # serve different bytes of the same length
    ignore_range: bool = False  # answer Range requests with 200 and the whole file
    rate: float | None = None  # bytes per second
    times: int | None = None  # the body faults apply to this many GETs, then stop


@dataclass
class HubFile:
    repo: str
    name: str
    data: bytes
    commit: str
    sha256: str = ""
    fault: Fault = field(default_factory=Fault)
    served: int = 0  # body bytes written by the CDN
    gets: int = 0

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


class FakeHub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], HubFile] = {}
        self.requests: list[dict[str, str | None]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends stalls
        self.active = 0  # bodies being streamed right now
        self.connections: set[socket.socket] = set()
        self._hub = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, "hub"))
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, "cdn"))
        for srv in (self._hub, self._cdn):
            srv.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._hub.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self._cdn.server_address[1]}"
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            for s in (self._hub, self._cdn)
        ]

    def start(self) -> FakeHub:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        """Stop both servers and cut kept-alive connections (a hub that is really gone)."""
        self.release.set()
        for srv in (self._hub, self._cdn):
            srv.shutdown()
            srv.server_close()
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def add(self, repo: str, name: str, data: bytes, commit: str | None = None) -> HubFile:
        commit = commit or hashlib.sha1(f"{repo}@{len(self.files)}".encode()).hexdigest()
        f = HubFile(repo, name, data, commit)
        self.files[(repo, name)] = f
        return f

    def fault(self, repo: str, name: str, **kw: object) -> HubFile:
        f = self.files[(repo, name)]
        f.fault = Fault(**kw)  # type: ignore[arg-type]
        f.gets = 0  # ``times`` counts from now
        return f

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no body is being streamed (so ``served`` is final)."""
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self.active, "the fake hub is still streaming"

    def by_sha(self, sha: str) -> HubFile | None:
        return next((f for f in self.files.values() if f.sha256 == sha), None)

    def find(self, repo: str, rev: str, name: str) -> tuple[HubFile | None, bool]:
        """(file, repo_and_rev_exist)."""
        f = self.files.get((repo, name))
        repo_files = [x for x in self.files.values() if x.repo == repo]
        rev_ok = any(rev in ("main", x.commit) for x in repo_files)
        if f is not None and rev not in ("main", f.commit):
            f = None
        return f, bool(repo_files) and rev_ok


def _make_handler(hub: FakeHub, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            with hub.lock:
                hub.connections.add(self.connection)

        def finish(self) -> None:
            with hub.lock:
                hub.connections.discard(self.connection)
            super().finish()

        def _log(self) -> None:
            with hub.lock:
                hub.requests.append(
                    {
                        "role": role,
                        "method": self.command,
                        "path": self.path,
                        "range": self.headers.get("Range"),
                        "authorization": self.headers.get("Authorization"),
                    }
                )

        def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str | None = None, commit: str | None = None) -> None:
            headers = {"Content-Type": "application/json"}
            if code:
                headers["X-Error-Code"] = code
                headers["X-Error-Message"] = code
            if commit:
                headers["X-Repo-Commit"] = commit
            self._send(status, headers, json.dumps({"error": code or str(status)}).encode())

        # --- hub ------------------------------------------------------------------------------

        def _resolve(self) -> None:
            m = re.match(r"^/(.+?/.+?)/resolve/([^/]+)/(.+)$", urlsplit(self.path).path)
            if not m:
                return self._error(404, "RepoNotFound")
            repo, rev, name = unquote(m.group(1)), unquote(m.group(2)), unquote(m.group(3))
            f, repo_ok = hub.find(repo, rev, name)
            if f is not None and f.fault.status:
                return self._error(f.fault.status, f.fault.error_code, f.commit)
            if not repo_ok:
                return self._error(
                    404,
                    "RevisionNotFound"
                    if hub.files and any(x.repo == repo for x in hub.files.values())
                    else "RepoNotFound",
                )
            if f is None:
                return self._error(404, "EntryNotFound")
            self._send(
                302,
                {
                    "Location": f"{hub.cdn_url}/lfs/{f.sha256}",
                    "X-Repo-Commit": f.commit,
                    "ETag": f'"{hashlib.sha1(f.data[:64]).hexdigest()}"',
                    "X-Linked-Etag": f'"{f.sha256}"',
                    "X-Linked-Size": str(len(f.data)),
                    "Content-Length": "0",
                },
            )

        def _paths_info(self) -> None:
            m = re.match(r"^/api/models/(.+?/.+?)/paths-info/([^/]+)$", urlsplit(self.path).path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            if not m:
                return self._error(404, "RepoNotFound")
            repo, rev = unquote(m.group(1)), unquote(m.group(2))
            out = []
            for name in form.get("paths", []):
                f, _ = hub.find(repo, rev, name)
                if f is not None and f.fault.status:
                    return self._error(f.fault.status, f.fault.error_code, f.commit)
                if f is not None:
                    out.append(
                        {
                            "type": "file",
                            "path": name,
                            "size": len(f.data),
                            "oid": hashlib.sha1(f.sha256.encode()).hexdigest(),
                            "lfs": {"oid": f.sha256, "size": len(f.data), "pointerSize": 134},
                        }
                    )
            self._send(200, {"Content-Type": "application/json"}, json.dumps(out).encode())

        # --- cdn ------------------------------------------------------------------------------

        def _lfs(self) -> None:
            m = re.match(r"^/lfs/([0-9a-f]{64})$", urlsplit(self.path).path)
            f = hub.by_sha(m.group(1)) if m else None
            if f is None:
                return self._error(404)
            fault = f.fault
            data = f.data
            active = True
            if self.command == "GET":
                with hub.lock:
                    f.gets += 1
                    active = fault.times is None or f.gets <= fault.times
            if fault.corrupt and active:
                data = bytes(b ^ 0xFF for b in data[:4096]) + data[4096:]
            size = len(data)
            start = 0
            rng = self.headers.get("Range")
            status = 200
            if rng and not (fault.ignore_range and active):
                rm = re.match(r"bytes=(\d+)-$", rng)
                if not rm:
                    return self._error(416)
                start = int(rm.group(1))
                if start >= size:
                    return self._send(416, {"Content-Range": f"bytes */{size}"})
                status = 206
            headers = {
                "Content-Type": "application/octet-stream",
                "Accept-Ranges": "bytes",
                "ETag": f'"cdn-{f.sha256[:16]}"',
                "Content-Length": str(size - start),
            }
            if status == 206:
                headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command == "HEAD":
                return None
            self._stream(f, data, start, fault if active else Fault())
            return None

        def _stream(self, f: HubFile, data: bytes, start: int, fault: Fault) -> None:
            sent = 0
            pos = start
            t0 = time.monotonic()
            with hub.lock:
                hub.active += 1
            try:
                while pos < len(data):
                    n = _CHUNK
                    for limit in (fault.drop_after, fault.stall_after):
                        if limit is not None and sent < limit:
                            n = min(n, limit - sent)
                    if fault.drop_after is not None and sent >= fault.drop_after:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if fault.stall_after is not None and sent >= fault.stall_after:
                        hub.release.wait(30)
                        self.close_connection = True
                        return
                    chunk = data[pos : pos + n]
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    sent += len(chunk)
                    pos += len(chunk)
                    with hub.lock:
                        f.served += len(chunk)
                    if fault.rate:
                        ahead = sent / fault.rate - (time.monotonic() - t0)
                        if ahead > 0:
                            time.sleep(ahead)
            except OSError:  # the client went away
                self.close_connection = True
            finally:
                with hub.lock:
                    hub.active -= 1

        # --- dispatch -------------------------------------------------------------------------

        def do_HEAD(self) -> None:
            self._log()
            self._resolve() if role == "hub" else self._lfs()

        def do_GET(self) -> None:
            self._log()
            self._resolve() if role == "hub" else self._lfs()

        def do_POST(self) -> None:
            self._log()
            if role == "hub" and "/paths-info/" in self.path:
                self._paths_info()
            else:
                self._error(404)

    return Handler


# --- pytest helpers ------------------------------------------------------------------------------


def start_hub(monkeypatch: object) -> FakeHub:
    """Start a FakeHub and point HF_ENDPOINT (and huggingface_hub's import-time copy) at it."""
    import huggingface_hub.constants as hf_constants

    hub = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # type: ignore[attr-defined]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # type: ignore[attr-defined]
    # huggingface_hub's own side requests (agent-harness registry) use the import-time value.
    monkeypatch.setattr(hf_constants, "ENDPOINT", hub.url)  # type: ignore[attr-defined]
    return hub


def add_catalog_file(
    hub: FakeHub, model_id: str, size: int, seed: int = 0, commit: str | None = None
) -> HubFile:
    """Serve random bytes under a catalog entry's repo and file name."""
    from engine.modelstore.catalog import get_entry

    e = get_entry(model_id)
    assert e.repo and e.file
    rev = commit or (e.revision if e.revision and len(e.revision) == 40 else None)
    return hub.add(e.repo, e.file, random_bytes(size, seed), commit=rev)
