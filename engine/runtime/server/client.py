"""One endpoint's HTTP: JSON requests and server-sent-event streams, with retries and limits.

What a misbehaving server can do to vidsum is bounded here:

- Retries: connection errors, 429, 503 and other 5xx, with jittered exponential backoff; after
  ``RETRIES`` attempts the endpoint is ``ServerUnavailable`` (the batch moves its work
  elsewhere). A 4xx is ``ServerRejected``: a clear error for that request (file).
- ``Retry-After`` (seconds or an HTTP date) on a 429/5xx is honoured and does not use up an
  attempt (a llama-server still loading its model answers 503 for as long as loading takes),
  within ``server_retry_wait`` seconds in all (setting, default ``RETRY_WAIT_S``); each wait is
  said as progress and a cancel ends it at once. llama-server's 503 "Loading model" carries no
  ``Retry-After``: it is asked again every ``LOADING_POLL_S`` within the same bound.
- A stall: once a stream's headers have come, a server that sends nothing for
  ``server_stall_timeout`` seconds (setting, default ``STALL_S``) is ``ServerUnavailable`` at
  once, naming it (no retry: a stalled server is not coming back within the batch). Before the
  headers the long ``FIRST_BYTE_S`` applies: a llama-server sends them only once the prompt is
  evaluated, which can take minutes on a CPU.
- Size: no answer is read whole. A JSON body over ``body_cap`` (``MAX_BODY_BYTES`` plus room for
  token lists that grow with the request) and a stream over ``MAX_BODY_BYTES`` plus
  ``BYTES_PER_TOKEN`` per token asked for are ``ResponseTooLarge``, refused as soon as the cap is
  passed. The token cap on a stream is counted by its reader (``http._Stream``).

May import: ``engine.runtime.base``, ``sse``, ``engine.settings`` and the ground floor.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from engine.errors import Cancelled, ConfigError
from engine.progress import CancelToken, Progress, ProgressCallback, emit
from engine.runtime.base import ServerError, ServerRejected, ServerUnavailable
from engine.runtime.server.sse import (
    CappedLines,
    Retryable,
    error_detail,
    shut_on_cancel,
    sse_events,
)
from engine.settings import get_settings
from engine.urls import check_server_url

RETRIES = 4  # attempts per request on retryable failures
BACKOFF_S = 0.5  # first backoff; doubles, with +-50% jitter, capped at BACKOFF_MAX_S
BACKOFF_MAX_S = 8.0
CONNECT_TIMEOUT_S = 10.0
FIRST_BYTE_S = 600.0  # a stream's headers: after the whole prompt on a llama-server
STALL_S = 60.0  # silence in the middle of an answer (setting server_stall_timeout)
RETRY_WAIT_S = 120.0  # all Retry-After waits of one request (setting server_retry_wait)
RETRY_AFTER_MIN_S = 0.5  # "Retry-After: 0" again and again still ends within the bound
LOADING_POLL_S = 2.0  # a 503 "Loading model" without Retry-After: asked again this often
NOTICE_EVERY_S = 10.0  # "waiting for ..." said at most this often
MAX_BODY_BYTES = 4 << 20  # any answer; /props, /v1/models and errors are a few KiB
# A tokenize answer lists ids for the text sent: at most a token per byte, under 16 bytes each.
BYTES_PER_REQUEST_BYTE = 16
# A stream event is one token's JSON (~200 bytes on llama-server and vLLM): far under this.
BYTES_PER_TOKEN = 2048


class ResponseTooLarge(ServerError):
    """The endpoint sent more than vidsum reads for one answer."""


def _jitter(attempt: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_S * 2**attempt) * random.uniform(0.5, 1.5)


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class Client:
    """One endpoint's HTTP: JSON requests and server-sent-event streams, with retries."""

    def __init__(self, name: str, url: str, api_key: str | None) -> None:
        try:
            check_server_url(name, url)
        except ConfigError as exc:
            raise ServerError(str(exc)) from None
        parts = urllib.parse.urlsplit(url)
        self.name = name
        self.url = url
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.base = parts.path.rstrip("/")
        self.api_key = api_key
        settings = get_settings()
        self.stall_s = settings.server_stall_timeout or STALL_S
        wait = settings.server_retry_wait
        self.retry_wait_s = RETRY_WAIT_S if wait is None else wait

    def _conn(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=CONNECT_TIMEOUT_S)
        return http.client.HTTPConnection(self.host, self.port, timeout=CONNECT_TIMEOUT_S)

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h

    def where(self, path: str) -> str:
        return f"server {self.name} ({self.url}{path})"

    def _retrying(
        self,
        path: str,
        cancel: CancelToken | None,
        once: Callable[[], Any],
        attempts: int,
        progress: ProgressCallback | None = None,
    ) -> Any:
        """``once()`` until it answers: ``attempts`` tries on failures, plus the waits a
        ``Retry-After`` asks for (within ``retry_wait_s`` in all)."""
        last = ""
        failed = 0
        waited = 0.0
        said = -NOTICE_EVERY_S
        while True:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            after: float | None = None
            try:
                return once()
            except Retryable as exc:
                last, after = str(exc), exc.retry_after
            except (OSError, http.client.HTTPException) as exc:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled() from None
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if after is not None:
                if waited + max(after, RETRY_AFTER_MIN_S) > self.retry_wait_s:
                    raise ServerUnavailable(
                        f"The {self.where(path)} still asked vidsum to wait ({last}; retry in "
                        f"{after:.0f} s) after {waited:.0f} s of waiting; it waits at most "
                        f"{self.retry_wait_s:.0f} s in all (setting server_retry_wait)."
                    )
                if waited - said >= NOTICE_EVERY_S:
                    said = waited
                    why = "loading model" if "loading" in last.lower() else last
                    emit(
                        progress,
                        Progress(
                            "notice",
                            item=self.name,
                            message=f"Waiting for {self.name} ({why}, retry in {after:.0f} s)",
                        ),
                    )
                delay = max(after, RETRY_AFTER_MIN_S)
                waited += delay
            else:
                failed += 1
                if failed >= attempts:
                    break
                delay = _jitter(failed - 1)
            if cancel is not None:
                if cancel.wait(delay):
                    raise Cancelled()
            else:
                time.sleep(delay)
        raise ServerUnavailable(
            f"The {self.where(path)} did not answer after {attempts} attempts: {last}."
        )

    def _check_status(self, path: str, resp: http.client.HTTPResponse) -> None:
        if resp.status < 300:
            return
        body = resp.read(4000).decode("utf-8", "replace")
        detail = error_detail(body)
        if resp.status == 429 or resp.status >= 500:
            after = retry_after(resp.getheader("Retry-After"))
            if after is None and resp.status == 503 and "loading" in detail.lower():
                after = LOADING_POLL_S  # llama-server loading its model says so, without a time
            raise Retryable(f"HTTP {resp.status} {detail}".strip(), after)
        raise ServerRejected(
            f"The {self.where(path)} refused the request with HTTP {resp.status}: "
            f"{detail or resp.reason}."
        )

    def _read_capped(self, path: str, resp: http.client.HTTPResponse, cap: int) -> bytes:
        """The body, refused once it passes ``cap`` bytes (never read whole)."""
        declared = resp.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise self.too_large(path, cap)
        chunks: list[bytes] = []
        size = 0
        while chunk := resp.read(min(1 << 16, cap + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                raise self.too_large(path, cap)
        return b"".join(chunks)

    def too_large(self, path: str, cap: int) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"The {self.where(path)} sent an answer larger than {cap >> 20} MiB, more than "
            "vidsum reads for it; the server is misbehaving or is not an inference server."
        )

    def json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        cancel: CancelToken | None = None,
        attempts: int = RETRIES,
        progress: ProgressCallback | None = None,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        cap = MAX_BODY_BYTES + BYTES_PER_REQUEST_BYTE * len(data or b"")

        def once() -> Any:
            conn = self._conn()
            try:
                conn.request(method, self.base + path, body=data, headers=self._headers())
                resp = conn.getresponse()
                self._check_status(path, resp)
                raw = self._read_capped(path, resp, cap)
            finally:
                conn.close()
            try:
                return json.loads(raw)
            except ValueError:
                raise ServerRejected(
                    f"The {self.where(path)} answered with something that is not JSON."
                ) from None

        return self._retrying(path, cancel, once, attempts, progress)

    def stream(
        self,
        path: str,
        body: Any,
        on_event: Callable[[dict[str, Any]], None],
        *,
        cancel: CancelToken | None,
        reset: Callable[[], None],
        ended: Callable[[], None] | None = None,
        max_tokens: int = 0,
        progress: ProgressCallback | None = None,
    ) -> None:
        """POST ``body`` and call ``on_event`` for every ``data:`` JSON event of the stream.
        ``reset`` runs before each attempt (a retried stream starts again from nothing);
        ``ended`` after the stream's end (it raises ``Retryable`` for a stream cut short)."""
        cap = MAX_BODY_BYTES + BYTES_PER_TOKEN * max_tokens

        def once() -> None:
            reset()
            conn = self._conn()
            done = threading.Event()
            watcher: threading.Thread | None = None
            try:
                conn.request(
                    "POST",
                    self.base + path,
                    body=json.dumps(body).encode("utf-8"),
                    headers={**self._headers(), "Accept": "text/event-stream"},
                )
                sock = conn.sock  # the response keeps it after the connection lets go
                if sock is not None:
                    sock.settimeout(FIRST_BYTE_S)
                if cancel is not None and sock is not None:
                    watcher = threading.Thread(
                        target=shut_on_cancel, args=(sock, cancel, done), daemon=True
                    )
                    watcher.start()
                resp = conn.getresponse()
                self._check_status(path, resp)
                if sock is not None:
                    sock.settimeout(self.stall_s)  # from here on: from the last byte received
                lines = CappedLines(resp, cap, lambda: self.too_large(path, cap))
                try:
                    for event in sse_events(lines, self.where(path)):
                        if cancel is not None and cancel.cancelled:
                            raise Cancelled()
                        on_event(event)
                except TimeoutError:  # socket.timeout is TimeoutError
                    raise ServerUnavailable(
                        f"The {self.where(path)} stopped sending in the middle of its answer: "
                        f"nothing for {self.stall_s:.0f} s (setting server_stall_timeout)."
                    ) from None
                except ServerError:
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled() from None  # a line cut by the cancel, not garbage
                    raise
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                if ended is not None:
                    ended()
            finally:
                done.set()
                conn.close()
                if watcher is not None:
                    watcher.join(1.0)

        self._retrying(path, cancel, once, RETRIES, progress)
