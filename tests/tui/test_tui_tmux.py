"""The installed ``vidsum`` in a real terminal (tmux): it shows a seeded library, searches,
opens a summary, and quits with status 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tui.seed import TITLES, seed_library

VIDSUM = Path(sys.executable).with_name("vidsum")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True
        )
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "vidsum")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "vidsum", *keys)

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(0.2)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux(f"vidsum-test-{uuid.uuid4().hex[:8]}")
    yield t
    subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True)


def test_vidsum_in_tmux_searches_opens_and_quits(tmux: Tmux, tmp_path: Path) -> None:
    assert VIDSUM.is_file(), f"vidsum is not installed in {VIDSUM.parent}"
    seed_library()  # into VIDSUM_HOME, which tests/conftest.py set for this test
    status = tmp_path / "status"
    env = {k: os.environ[k] for k in ("VIDSUM_HOME", "HF_HOME", "PATH", "HOME") if k in os.environ}
    exports = " ".join(f"{k}={v!s}" for k, v in env.items())
    command = f"cd {tmp_path} && env {exports} TERM=xterm-256color {VIDSUM}; echo $? > {status}"
    tmux.run("new-session", "-d", "-s", "vidsum", "-x", "100", "-y", "30", command)

    tmux.wait_for(lambda s: TITLES["webassembly"] in s and TITLES["cpu-caches"] in s, "the library")
    tmux.keys("/")
    # Keys already on their way when "/" moves the focus still go to the table (Textual
    # routes a burst of keys to the widget focused when it arrived): wait for the box, as a
    # person does, by watching the footer lose the table's keys.
    tmux.wait_for(lambda s: "Filters" not in s.rstrip().splitlines()[-1], "the search box")
    tmux.keys("-l", "webassem")
    tmux.wait_for(
        lambda s: TITLES["webassembly"] in s and TITLES["cpu-caches"] not in s, "the search"
    )
    tmux.keys("Enter")
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "Section 1: " in s and "Introduction" in s, "the summary")
    tmux.keys("q")
    deadline = time.monotonic() + 30
    while not status.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status.read_text().strip() == "0"
