"""Ctrl-C ends vidsum quickly: nothing stored, no worker process and no worker log left behind.

The end-to-end test runs the real `vidsum summarize` on a 1-hour talk with the real Gemma 270M
model, waits until the prompt is being processed, and sends SIGINT to the whole process group,
as a terminal does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.api import Local
from engine.paths import get_paths
from engine.progress import Progress
from engine.runtime.base import LoadOptions
from engine.runtime.llamacpp.runner import LlamaRunner, sweep_worker_logs
from tests.conftest import REPO, TALKS, require_shared
from tests.support_cli import VIDSUM, interrupt_when

TALK = "talkpython_512_jit_compiler_for_cpython.youtube.vtt"  # 1:08:24


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _interrupt_during_prompt(home: Path, model: Path) -> tuple[float, list[int], str]:
    """Start `vidsum summarize`, SIGINT its process group once the prompt is being processed.
    Returns (seconds from SIGINT to exit, worker pids seen, stderr)."""
    workers: list[int] = []

    def find_workers(proc: subprocess.Popen[str]) -> None:
        time.sleep(1.0)  # well inside llama_decode
        workers.extend(c for c in _children(proc.pid) if "resource_tracker" not in _cmdline(c))
        assert workers, "no worker process found"

    run = interrupt_when(
        ["summarize", str(TALKS / TALK), "--model", str(model), "--brief"],
        lambda line: "prompt" in line.lower(),
        "prompt processing",
        env={"VIDSUM_HOME": str(home), "HF_HOME": str(home / "hf")},
        ready_s=240,
        exit_s=60,
        at_ready=find_workers,
    )
    return run.elapsed, workers, run.stderr


@pytest.mark.slow
def test_ctrl_c_during_prompt_processing_ends_fast(
    isolated_home: Path, gemma_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_shared()
    elapsed, workers, stderr = _interrupt_during_prompt(isolated_home, gemma_path)
    with capsys.disabled():
        print(f"\nCtrl-C during prompt processing: exited {elapsed:.2f} s after SIGINT")
    assert elapsed < 5.0, stderr
    assert "Cancelled; nothing partial was saved." in stderr
    for pid in workers:
        assert not _alive(pid), f"worker {pid} outlived vidsum: {_cmdline(pid)}"
    assert not list(get_paths().worker_logs_dir.glob("*.log"))
    listed = subprocess.run(
        [*VIDSUM, "library", "list", "--json"],
        env={**os.environ, "VIDSUM_HOME": str(isolated_home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def _long_prompt(runner: LlamaRunner, tokens: int) -> str:
    words = (TALKS / "gotime_100_rob_pike_robert_griesemer.txt").read_text().split()
    text = " ".join(words[: tokens * 2 // 3])
    while len(runner.tokenize(text)) > tokens:
        text = text[: len(text) * 9 // 10]
    return text


def test_close_after_interrupt_kills_a_busy_worker_at_once(gemma_path: Path) -> None:
    """A KeyboardInterrupt unwinding out of generate() leaves the worker deep in llama_decode;
    close() must not wait for it to finish the prompt (it used to wait up to 10 s)."""
    require_shared()
    runner = LlamaRunner(LoadOptions(gemma_path, n_ctx=8192, n_threads=1))
    runner.load()
    prompt = _long_prompt(runner, 7000)  # tens of seconds of prompt processing on one thread
    pid = runner.pid
    assert pid is not None

    def interrupt(ev: Progress) -> None:
        if ev.stage == "prompt":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.generate(prompt, constraint=None, progress=interrupt)
    time.sleep(0.5)  # the worker is busy evaluating the prompt
    assert _alive(pid)
    t0 = time.monotonic()
    runner.close()
    assert time.monotonic() - t0 < 1.0
    assert not _alive(pid)
    assert not list(get_paths().worker_logs_dir.glob("*.log"))


def test_worker_log_lives_under_vidsum_home(isolated_home: Path, tiny_llama_path: Path) -> None:
    with LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=256, n_threads=1)) as runner:
        runner.load()
        logs = list(get_paths().worker_logs_dir.glob("*.log"))
        assert len(logs) == 1
        assert logs[0].is_relative_to(isolated_home)
        assert logs[0].name.startswith(f"worker-{os.getpid()}-")
    assert not list(get_paths().worker_logs_dir.glob("*.log"))


_OWNER = """
import sys, time
from pathlib import Path
from engine.runtime.base import LoadOptions
from engine.runtime.llamacpp.runner import LlamaRunner
runner = LlamaRunner(LoadOptions(Path(sys.argv[1]), n_ctx=256, n_threads=1))
runner.load()
print(runner.pid, runner._log_path, flush=True)
time.sleep(600)
"""


def test_log_of_a_killed_run_is_swept_by_the_next_start(
    isolated_home: Path, tiny_llama_path: Path
) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(tiny_llama_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "VIDSUM_HOME": str(isolated_home)},
    )
    assert owner.stdout is not None
    worker_pid, log_path = owner.stdout.readline().split()
    log = Path(log_path)
    assert log.is_file() and log.parent == get_paths().worker_logs_dir
    os.kill(int(worker_pid), signal.SIGKILL)
    owner.kill()  # kill -9 both: nothing runs any cleanup
    owner.wait()
    assert log.is_file()
    # A log whose owner is alive (this process) is left alone.
    mine = get_paths().worker_logs_dir / f"worker-{os.getpid()}-x.log"
    mine.write_text("busy")
    with LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=256, n_threads=1)) as runner:
        runner.load()
        assert not log.exists()
        assert mine.exists()
    assert sweep_worker_logs() == []
    assert mine.exists()


def test_engine_close_ends_a_running_summary_at_once(gemma_path: Path) -> None:
    """What the TUI does on quit: cancel the job and close the engine from the UI thread while
    the engine thread is deep in prompt processing. Both return within a second."""
    from engine.api import Engine
    from engine.errors import Cancelled

    require_shared()
    engine = Engine()
    in_prompt = threading.Event()
    outcome: list[BaseException | None] = []
    pids: list[int] = []

    def report(ev: Progress) -> None:
        if ev.stage == "prompt" and not in_prompt.is_set():
            pids.extend(_children(os.getpid()))
            in_prompt.set()

    def job() -> None:
        try:
            list(engine.summarize([TALKS / TALK], on=Local(str(gemma_path)), progress=report))
        except BaseException as exc:  # the outcome is what is tested
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=job)
    thread.start()
    assert in_prompt.wait(240)
    time.sleep(1.0)
    t0 = time.monotonic()
    engine.close()  # without a cancel token: closing alone must end the job
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - t0 < 2.0
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    workers = [p for p in pids if "resource_tracker" not in _cmdline(p)]
    assert workers and not any(_alive(p) for p in workers)
    after = Engine()
    assert after.list_entries() == []
    after.close()
    assert not list(get_paths().worker_logs_dir.glob("*.log"))
