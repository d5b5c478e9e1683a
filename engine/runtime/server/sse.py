"""Server-sent events and error bodies: the parts of an inference server's HTTP answers that
do not depend on the dialect.

May import: ``engine.progress`` and the standard library.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

from engine.progress import CancelToken

CANCEL_POLL_S = 0.2


class Retryable(Exception):
    """A 429/5xx answer: try again after a backoff."""


def shut_on_cancel(sock: socket.socket, cancel: CancelToken, done: threading.Event) -> None:
    while not done.is_set():
        if cancel.wait(CANCEL_POLL_S):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            return


def sse_events(resp: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
    while True:
        line = resp.readline()
        if not line:
            break
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith("data:"):
            continue
        payload = text[5:].strip()
        if payload == "[DONE]":
            break
        try:
            event = json.loads(payload)
        except ValueError:
            continue
        if isinstance(event, dict):
            if "error" in event and not event.get("choices") and "content" not in event:
                err = event["error"]
                msg = err.get("message", err) if isinstance(err, dict) else err
                raise Retryable(f"the stream ended with an error: {msg}")
            yield event


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
