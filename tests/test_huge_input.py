"""A huge transcript (issue 20, finding 2): the estimate comes before any model work, and one
Ctrl-C ends `vidsum summarize` within 2 s while it reads, loads the model and counts tokens,
with nothing stored.

Each test runs the real CLI (`python -m tui.launcher summarize`) on a generated ~50 MB text
with the real Gemma 270M, watches its stderr (not a terminal: one line per stage) for the
stage, and sends one SIGINT to its process group, as a terminal does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.api import Engine
from engine.pipeline.estimate import BIG_TOKENS, estimate, estimate_tokens
from tests.conftest import REPO, SEED, require_shared

VIDSUM = [sys.executable, "-m", "tui.launcher"]
HUGE_BYTES = 50_000_000


@pytest.fixture(scope="module")
def huge_transcript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~50 MB of real transcript sentences (a seed transcript over and over)."""
    require_shared()
    block = (SEED / "transcripts" / "rust.txt").read_text(encoding="utf-8").strip() + "\n"
    path = tmp_path_factory.mktemp("huge") / "huge.txt"
    path.write_text(block * (HUGE_BYTES // len(block) + 1), encoding="utf-8")
    return path


def _interrupt_at(marker: str, transcript: Path, model: Path) -> tuple[float, int, str]:
    """Run summarize, SIGINT once a stderr line holds ``marker``; (seconds to exit, exit
    code, stderr)."""
    proc = subprocess.Popen(
        [*VIDSUM, "summarize", str(transcript), "--model", str(model), "--style", "quotes"],
        cwd=REPO,
        env={**os.environ, "COLUMNS": "120"},
        stdin=subprocess.DEVNULL,  # not a terminal: no question, the estimate is printed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    seen = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if marker in line:
                seen.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert seen.wait(300), f"never saw {marker!r}:\n" + "".join(lines)
        assert proc.poll() is None, "ended before the interrupt:\n" + "".join(lines)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(30)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(5)
    return elapsed, code, "".join(lines)


def _nothing_stored() -> bool:
    engine = Engine()
    try:
        return engine.list_entries() == []
    finally:
        engine.close()


@pytest.mark.parametrize(
    "marker",
    [
        "huge.txt: reading",  # the file is read (seconds of decoding and splitting)
        "loading model",  # the worker starts and loads the model
        "huge.txt: counting tokens",  # the text is cut into units and counted
    ],
)
def test_one_ctrl_c_ends_a_huge_run_within_two_seconds(
    marker: str, huge_transcript: Path, gemma_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elapsed, code, stderr = _interrupt_at(marker, huge_transcript, gemma_path)
    with capsys.disabled():
        print(f"\nCtrl-C at {marker!r}: exited {elapsed:.2f} s after SIGINT")
    assert code == 130, stderr
    assert "Cancelled; nothing partial was saved." in stderr
    assert elapsed < 2.0, stderr
    assert _nothing_stored()
    if marker == "loading model":
        # The estimate came first, before any model work, and says it is a long run.
        estimate_at = stderr.index("Estimate for huge.txt: ~")
        assert estimate_at < stderr.index("loading model"), stderr
        assert "passes" in stderr[estimate_at:].splitlines()[0]


def test_the_estimate_of_a_huge_transcript_is_big_and_a_seed_one_is_not() -> None:
    huge = estimate([HUGE_BYTES], "quotes", 4096, 253_000_000, 2)
    assert huge.big and huge.tokens > BIG_TOKENS and huge.passes > 1000
    assert huge.seconds > 3600 and "h" in huge.words()
    seed = estimate([2797], "quotes", 4096, 253_000_000, 2)
    assert not seed.big and seed.passes == 6 and seed.tokens == estimate_tokens(2797)
    # A model ten times the size is ten times slower on the same threads.
    big_model = estimate([2797], "quotes", 4096, 2_530_000_000, 2)
    assert big_model.seconds == pytest.approx(seed.seconds * 10)
