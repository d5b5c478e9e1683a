"""A PROTOCOL FAKE of the servers that cannot run here (vLLM, generic OpenAI-compatible ones).

It is a real stdlib HTTP server on 127.0.0.1 that speaks their request/response shapes
(``/v1/models``, ``/version``, ``/tokenize``, streamed ``/v1/completions``) but has no model:
an answer is the canary string when the request's grammar allows only that, else a fixed valid
summary. Faults are injected on purpose:

- ``ignore_grammar``: answers the canary with free text (a server that ignores grammars);
- ``fail_statuses``: the next ``/v1/completions`` requests answer these statuses (429, 503, 400);
- ``cut_off``: the next N summaries stop early with ``finish_reason: "length"``;
- ``loading``: the next requests (any route) answer 503 "Loading model" with these
  ``Retry-After`` values (None: no header), as a server still loading its model;
- ``stream_fault`` on every summary (canary requests still pass): ``"stall"`` (headers, then
  nothing), ``"endless"`` (pieces forever, never finished), ``"long-line"`` (one event line that
  never ends), ``"error-line"`` (llama-server's ``error:`` event), ``"garbage"`` (text that is
  not events), ``"cut"`` (half the answer, then the connection closes without a
  finish_reason), ``"no-grammar"`` (free text, as a server that passed the canary and then
  dropped the grammar);
- ``big_get``: ``/props`` and ``/v1/models`` answer a JSON body this many bytes long;
- ``piece_delay``: seconds between streamed pieces (a slow server, for Ctrl-C).

Everything llama.cpp itself can do runs on real llama-server processes
(tests/batch/test_servers_real.py).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CANARY_GRAMMAR = 'root ::= "ok-42"'


@dataclass
class FakeState:
    dialect: str = "vllm"  # "vllm" | "openai" (no /version, owned_by "openai")
    answer: str = ""  # the summary JSON every grammar request gets
    ignore_grammar: bool = False
    fail_statuses: list[int] = field(default_factory=list)
    cut_off: int = 0
    loading: list[str | None] = field(default_factory=list)
    stream_fault: str = ""
    big_get: int = 0
    piece_delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)  # /v1/completions bodies
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)  # ends stalls and endless


def _handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _loading(self) -> bool:
            with state.lock:
                if not state.loading:
                    return False
                after = state.loading.pop(0)
            data = b'{"error": {"code": 503, "message": "Loading model"}}'
            self.send_response(503)
            if after is not None:
                self.send_header("Retry-After", after)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True

        def _big(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")  # no length: the client must count
            self.end_headers()
            self.wfile.write(b'{"total_slots": 1, "pad": "')
            chunk = b"x" * (1 << 16)
            for _ in range(state.big_get >> 16):
                self.wfile.write(chunk)
            self.wfile.write(b'"}')
            self.close_connection = True

        def do_GET(self) -> None:
            if self._loading():
                return
            if state.big_get and self.path in ("/props", "/v1/models"):
                with contextlib.suppress(OSError):  # the client stops reading at its cap
                    self._big()
            elif self.path == "/v1/models":
                owner = "vllm" if state.dialect == "vllm" else "openai"
                self._json(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {
                                "id": "fake/model-7b",
                                "object": "model",
                                "owned_by": owner,
                                "root": "fake/model-7b",
                                "max_model_len": 32768,
                            }
                        ],
                    },
                )
            elif self.path == "/version" and state.dialect == "vllm":
                self._json(200, {"version": "0.12.0-fake"})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self._loading():
                return
            if self.path == "/tokenize" and state.dialect == "vllm":
                text = body.get("prompt", "")
                self._json(200, {"tokens": [len(w) for w in text.split()], "count": 0})
                return
            if self.path != "/v1/completions":
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            with state.lock:
                state.requests.append(body)
                status = state.fail_statuses.pop(0) if state.fail_statuses else 200
            if status != 200:
                self._json(status, {"error": {"message": f"injected HTTP {status}"}})
                return
            grammar = (body.get("structured_outputs") or {}).get("grammar") or body.get("grammar")
            finish = "stop"
            if grammar == CANARY_GRAMMAR and not state.ignore_grammar:
                text = "ok-42"
            elif grammar == CANARY_GRAMMAR:
                text = " there was a dragon who could not fly."
            else:
                text = state.answer
                with state.lock:
                    if state.cut_off > 0:
                        state.cut_off -= 1
                        text, finish = text[: len(text) // 2], "length"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client hung up (cancel, caps, stalls)
                if grammar != CANARY_GRAMMAR and state.stream_fault:
                    self._misbehave(state.stream_fault, text)
                else:
                    self._answer(text, finish, body)

        def _answer(self, text: str, finish: str, body: dict[str, Any]) -> None:
            pieces = [text[i : i + 40] for i in range(0, len(text), 40)] or [""]
            for n, piece in enumerate(pieces):
                if state.piece_delay and state.stop.wait(state.piece_delay):
                    return
                self._event(piece, finish if n == len(pieces) - 1 else None)
            usage = {
                "prompt_tokens": len(body.get("prompt", "").split()),
                "completion_tokens": len(pieces),
            }
            self.wfile.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, piece: str, finish: str | None = None) -> None:
            event = {"choices": [{"index": 0, "text": piece, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())

        def _misbehave(self, fault: str, text: str) -> None:
            """One summary answer, misbehaving as ``fault`` says (see the module docstring)."""
            if fault == "stall":
                state.stop.wait(120)
            elif fault == "endless":
                while not state.stop.is_set():
                    self._event("x")
            elif fault == "long-line":
                self.wfile.write(b'data: {"choices": [{"text": "')
                while not state.stop.is_set():
                    self.wfile.write(b"y" * (1 << 16))
            elif fault == "error-line":  # as llama-server reports an error mid-stream
                self.wfile.write(b'error: {"error": {"message": "injected failure"}}\n\n')
            elif fault == "garbage":
                self.wfile.write(b"<html><body>502 Bad Gateway</body></html>\n")
            elif fault == "cut":
                self._event(text[: len(text) // 2])
            elif fault == "no-grammar":
                self._event("Sure! Here is a summary of the video: it is about ")
                self._event("many things.", "stop")
                self.wfile.write(b"data: [DONE]\n\n")

    return Handler


@contextmanager
def fake_openai_server(state: FakeState) -> Iterator[str]:
    """Serve ``state`` on a free loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
