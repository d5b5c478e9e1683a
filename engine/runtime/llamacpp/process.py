"""The worker as an operating-system process, seen from the parent: starting a spawn child
without the parent's ``__main__``, describing how it exited, and sweeping the log files of
workers whose parent is gone.

May import: ``engine.paths`` and the standard library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

from engine.paths import get_paths

# Signals of a crash in native code (not of being killed from outside).
NATIVE_CRASHES = {
    int(getattr(signal, name))
    for name in ("SIGSEGV", "SIGABRT", "SIGBUS", "SIGFPE", "SIGILL")
    if hasattr(signal, name)
}
_main_lock = threading.Lock()


@contextlib.contextmanager
def main_module_hidden() -> Iterator[None]:
    """Start a spawn child without it re-running the parent's ``__main__``.

    ``spawn`` re-imports the main script in the child so that functions defined there can be
    targets. The worker's target lives in ``engine.runtime.llamacpp.protocol``, and re-running
    the caller's script
    breaks (``python - <script``), costs time, or recurses in a script without an
    ``if __name__ == "__main__"`` guard. A stand-in main module during ``start()`` (which
    records what the child must import) avoids all three.
    """
    with _main_lock:
        real = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if real is not None:
                sys.modules["__main__"] = real


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown"
        oom = getattr(signal, "SIGKILL", None)  # absent on Windows
        hint = ", often the system running out of memory" if -code == oom else ""
        return f"signal {-code}: {name}{hint}"
    return f"exit status {code}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def sweep_worker_logs(folder: Path | None = None) -> list[Path]:
    """Delete worker logs whose owning (parent) process is gone; return what was deleted."""
    folder = folder if folder is not None else get_paths().worker_logs_dir
    removed = []
    try:
        names = list(folder.glob("worker-*.log"))
    except OSError:
        return []
    for log in names:
        pid_text = log.name.split("-")[1]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            log.unlink()
            removed.append(log)
    return removed
