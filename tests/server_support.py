"""Helpers shared by the tests that start real inference servers on 127.0.0.1
(``test_servers_real.py``: llama-server; ``test_servers_lcp.py``: llama-cpp-python's server)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from engine.errors import Cancelled
from engine.progress import CancelToken, Progress
from engine.runs import SummarizeOptions
from engine.runtime.base import Sampling
from engine.runtime.server.http import ServerBackend, canary
from tests.conftest import SEED

FILES = sorted((SEED / "transcripts").glob("*.txt"))
# Scheduling, failover and resume are the point of these tests, not Gemma's quality retries:
# one attempt per summary keeps them inside CI's time (issue 13).
ONE_ATTEMPT = SummarizeOptions(attempts=1)
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, what: str) -> None:
    """Wait until ``url`` answers 200; kill the process and raise with its log's tail if it
    exits or does not answer in ``START_TIMEOUT_S``."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.3)
    stop(proc)
    raise RuntimeError(f"{what} did not start: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def head(src: Path, dst: Path, blocks: int) -> Path:
    """The first ``blocks`` blank-line-separated blocks of a subtitle file (a short talk)."""
    text = src.read_text(encoding="utf-8").replace("\r\n", "\n")
    dst.write_text("\n\n".join(text.split("\n\n")[:blocks]) + "\n", encoding="utf-8")
    return dst


def cancel_mid_stream(backend: ServerBackend, prompt: str) -> None:
    """Cancel a long answer at its 5th streamed token: ``Cancelled`` within a second, and the
    server answers the grammar canary afterwards (it dropped the request; its slot is free)."""
    cancel = CancelToken()
    seen: list[float] = []

    def progress(ev: Progress) -> None:
        if ev.stage == "generate":
            seen.append(time.monotonic())
            if len(seen) == 5:
                cancel.cancel()

    with pytest.raises(Cancelled):
        backend.generate(
            prompt,
            constraint=None,
            sampling=Sampling(max_tokens=2000),
            progress=progress,
            cancel=cancel,
        )
    assert time.monotonic() - seen[4] < 1.0
    assert canary(backend) == "ok-42"
