"""Test support: run the real CLI and press Ctrl-C at a chosen moment.

One Popen + stderr-watcher for every interrupt test (tests/cli/test_interrupt.py,
tests/batch/test_huge_input.py): the CLI runs in its own process group, as a shell job does,
and one SIGINT goes to the whole group, as a terminal sends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tests.conftest import REPO

VIDSUM = [sys.executable, "-m", "tui.launcher"]


@dataclass(frozen=True)
class Interrupted:
    elapsed: float  # seconds from the SIGINT to the exit
    code: int
    stderr: str


def interrupt_when(
    args: Sequence[str],
    ready: Callable[[str], bool],
    what: str,
    *,
    env: Mapping[str, str] | None = None,
    ready_s: float,
    exit_s: float,
    at_ready: Callable[[subprocess.Popen[str]], None] | None = None,
) -> Interrupted:
    """Run ``vidsum *args``; once a stderr line makes ``ready(line)`` true (within ``ready_s``),
    call ``at_ready(proc)``, then SIGINT the process group and wait up to ``exit_s`` for the
    exit. ``what`` names the moment in the failure message. The group is killed if anything
    fails."""
    proc = subprocess.Popen(
        [*VIDSUM, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,  # not a terminal: no question, the estimate is printed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a shell job
    )
    lines: list[str] = []
    seen = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if ready(line):
                seen.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert seen.wait(ready_s), f"never saw {what}:\n" + "".join(lines)
        if at_ready is not None:
            at_ready(proc)
        assert proc.poll() is None, "ended before the interrupt:\n" + "".join(lines)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(exit_s)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(5)
    return Interrupted(elapsed, code, "".join(lines))
