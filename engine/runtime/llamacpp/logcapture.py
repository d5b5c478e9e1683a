"""llama.cpp's log in the worker: one append-only file per worker (the parent reads its tail
after a crash) and a ring buffer (for load-failure messages).

fds 1 and 2 point at the same file, so native ``GGML_ABORT`` messages and Python tracebacks land
there too and never on the caller's terminal (a TUI may own it).

May import: the standard library only (llama.cpp is handed in).
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

_LOG_ERROR = 4  # GGML_LOG_LEVEL_ERROR
_LOG_CONT = 5  # continues the previous message
_LOG_DEBUG = 1  # GGML_LOG_LEVEL_DEBUG: noise


@dataclass
class Log:
    """llama.cpp's log: appended to a file (survives a crash) and kept in a ring buffer."""

    fd: int
    path: str
    lines: collections.deque[tuple[int, str]] = field(
        default_factory=lambda: collections.deque(maxlen=400)
    )
    partial: str = ""
    level: int = 0
    offset: int = 0  # size of the file at mark()

    def write(self, level: int, text: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, text.encode("utf-8", "replace"))
        if level != _LOG_CONT:
            self.level = level
        text = self.partial + text
        *done, self.partial = text.split("\n")
        self.lines.extend((self.level, line) for line in done if line.strip())

    def mark(self) -> None:
        """Forget what came before: reason() explains only what happens from here on."""
        self.lines.clear()
        self.partial = ""
        with contextlib.suppress(OSError):
            self.offset = os.fstat(self.fd).st_size

    def raw_since_mark(self) -> list[str]:
        """Everything written to the file since mark(), fd 2 included (some of llama.cpp, the
        grammar parser for one, prints to stderr rather than through the log callback)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(65536)
        except OSError:
            return []
        return [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]

    def reason(self) -> str:
        """llama.cpp's most specific error since mark(), for a user-facing message."""
        errors = []
        for level, line in self.lines:
            if level != _LOG_ERROR:
                continue
            text = line.strip()
            low = text.lower()
            if "error loading model:" in low:
                text = text[low.index("error loading model:") + 20 :].strip()
            head, sep, tail = text.partition(": ")
            if sep and head.replace("_", "").isalnum():  # "gguf_init_from_reader: ..." -> "..."
                text = tail
            # Generic wrappers ("failed to load model from X") say nothing the caller doesn't know.
            if "failed to load model" not in text and text not in errors:
                errors.append(text)
        if errors:
            return "; ".join(errors[-2:])
        return "llama.cpp gave no reason"


def capture_output(log_path: str) -> Log:
    """Point fds 1 and 2 (and ``sys.stderr``) of this process at the log file."""
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    # Native code prints aborts and assertion failures straight to stdout/stderr: keep them,
    # and keep the terminal (a TUI may own it) clean.
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    # ggml's crash handler would otherwise attach gdb for a backtrace: slow, and noise here.
    os.environ["GGML_NO_BACKTRACE"] = "1"
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    return Log(fd, log_path)


def route_llama_log(L: Any, log: Log) -> Any:
    """Send llama.cpp's log callback to ``log``; returns the ctypes callback, which the caller
    must keep referenced for as long as llama.cpp may call it."""

    def on_log(level: int, text: bytes, _data: Any) -> None:
        if level != _LOG_DEBUG:
            log.write(level, text.decode("utf-8", "replace"))

    log_cb = L.llama_log_callback(on_log)
    L.llama_log_set(log_cb, None)
    return log_cb
