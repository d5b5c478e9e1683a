"""Server-sent events and error bodies: the parts of an inference server's HTTP answers that
do not depend on the dialect.

May import: ``engine.progress``, ``engine.runtime.base`` (its errors) and the standard library.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from engine.progress import CancelToken
from engine.runtime.base import ServerRejected

CANCEL_POLL_S = 0.2


class Retryable(Exception):
    """A 429/5xx answer: try again after a backoff, or after ``retry_after`` seconds when the
    server said so (``Retry-After``)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def shut_on_cancel(sock: socket.socket, cancel: CancelToken, done: threading.Event) -> None:
    while not done.is_set():
        if cancel.wait(CANCEL_POLL_S):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            return


class CappedLines:
    """The lines of a response, refused (``too_large()`` raised) once more than ``cap`` bytes
    have come: a line that never ends is not read whole."""

    def __init__(
        self, resp: http.client.HTTPResponse, cap: int, too_large: Callable[[], Exception]
    ) -> None:
        self.resp = resp
        self.left = cap
        self.too_large = too_large

    def readline(self) -> bytes:
        line = self.resp.readline(self.left + 1)
        self.left -= len(line)
        if self.left < 0:
            raise self.too_large()
        return line


# Lines of an event stream that carry no data: fields vidsum does not use, and comments
# (": ping" keep-alives).
_OTHER_FIELDS = (b"event:", b"id:", b"retry:", b":")


def sse_events(lines: CappedLines, where: str) -> Iterator[dict[str, Any]]:
    """The ``data:`` JSON objects of a stream; anything that is not an event stream (a line
    that is not a field, data that is not JSON) is ``ServerRejected``, naming ``where``."""
    while True:
        line = lines.readline()
        if not line:
            break
        raw = line.strip()
        if not raw or raw.startswith(_OTHER_FIELDS):
            continue
        text = raw.decode("utf-8", "replace")
        field, _, payload = text.partition(":")
        if field not in ("data", "error"):  # llama-server sends "error: {...}" mid-stream
            raise _garbage(where, text)
        payload = payload.strip()
        if payload == "[DONE]":
            break
        if not payload:
            continue
        try:
            event = json.loads(payload)
        except ValueError:
            raise _garbage(where, text) from None
        if field == "error" and not (isinstance(event, dict) and "error" in event):
            event = {"error": event}
        if isinstance(event, dict):
            if "error" in event and not event.get("choices") and "content" not in event:
                err = event["error"]
                msg = err.get("message", err) if isinstance(err, dict) else err
                raise Retryable(f"the stream ended with an error: {msg}")
            yield event


def _garbage(where: str, text: str) -> ServerRejected:
    return ServerRejected(
        f"The {where} sent a stream that is not JSON server-sent events (it sent "
        f"{text[:60]!r}); the server is misbehaving or is not an inference server."
    )


def error_detail(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:300]
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message", "")))
        if isinstance(err, dict):
            err = err.get("message", json.dumps(err))
        return str(err)[:300]
    return str(data)[:300]
