"""The worker dies or the model file is bad: the caller gets a clear error and carries on."""

from __future__ import annotations

import os
import signal
import struct
import time
from pathlib import Path

import pytest

from engine.errors import Cancelled, ModelFileError, WorkerCrashed
from engine.progress import CancelToken, Progress
from engine.runtime.base import Constraint, LoadOptions, Sampling
from engine.runtime.llamacpp.runner import LlamaRunner

PROMPT = "<s>[INST] Say something. [/INST]"


def options(path: Path) -> LoadOptions:
    return LoadOptions(path, n_ctx=1024, n_threads=1)


def ok(runner: LlamaRunner) -> None:
    assert runner.generate(PROMPT, constraint=Constraint("ok", 'root ::= "ok"')).text == "ok"


def kill_on_first_token(runner: LlamaRunner, sig: int) -> list[Progress]:
    seen: list[Progress] = []

    def on_progress(p: Progress) -> None:
        seen.append(p)
        if p.stage == "generate" and len([e for e in seen if e.stage == "generate"]) == 1:
            assert runner.pid is not None
            os.kill(runner.pid, sig)

    runner.generate(
        PROMPT, constraint=None, sampling=Sampling(max_tokens=100_000), progress=on_progress
    )
    return seen


@pytest.mark.parametrize(
    ("sig", "name"), [(signal.SIGKILL, "SIGKILL"), (signal.SIGSEGV, "SIGSEGV")]
)
def test_worker_killed_mid_generation(tiny_llama_path: Path, sig: int, name: str) -> None:
    with LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=32768, n_threads=1)) as runner:
        runner.load()
        old_pid = runner.pid
        with pytest.raises(WorkerCrashed) as err:
            kill_on_first_token(runner, sig)
        message = str(err.value)
        assert f"signal {int(sig)}: {name}" in message
        assert "while generating with tiny-llama.gguf" in message
        assert "the library was not changed" in message
        assert runner.pid is None
        # The next call starts a fresh worker by itself; an explicit load() works too.
        ok(runner)
        assert runner.pid not in (None, old_pid)
        runner.close()
        runner.load()
        ok(runner)


def test_crash_message_carries_llama_log(tiny_llama_path: Path) -> None:
    # A native abort prints its reason to the worker's stderr, which lands in the log; the
    # message carries the log's tail.
    with LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=32768, n_threads=1)) as runner:
        runner.load()
        with pytest.raises(WorkerCrashed) as err:
            kill_on_first_token(runner, signal.SIGABRT)
        assert "signal 6: SIGABRT" in str(err.value)
        assert "Last llama.cpp messages" in str(err.value)
        ok(runner)


def test_stuck_worker_is_killed_on_cancel(tiny_llama_path: Path) -> None:
    """A worker that cannot answer (stopped, or deep in native code) is killed after the grace."""
    with LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=32768, n_threads=1)) as runner:
        runner.load()
        cancel = CancelToken()
        stopped_at: list[float] = []

        def on_progress(p: Progress) -> None:
            if p.stage == "generate" and not stopped_at:
                assert runner.pid is not None
                os.kill(runner.pid, signal.SIGSTOP)
                stopped_at.append(time.monotonic())
                cancel.cancel()

        with pytest.raises(Cancelled):
            runner.generate(
                PROMPT,
                constraint=None,
                sampling=Sampling(max_tokens=100_000),
                progress=on_progress,
                cancel=cancel,
            )
        waited = time.monotonic() - stopped_at[0]
        assert 1.0 < waited < 4.0, f"cancel of a stuck worker took {waited:.2f} s"
        assert runner.pid is None
        ok(runner)  # restarted transparently with the remembered options


# --- bad model files --------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.gguf"
    with pytest.raises(ModelFileError) as err, LlamaRunner(options(path)) as runner:
        runner.load()
    assert str(path) in str(err.value) and "does not exist" in str(err.value)


def truncated(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def gguf_magic_then_garbage(dst: Path) -> Path:
    # A plausible header (magic, version 3, absurd counts) followed by random bytes.
    rng = os.urandom(4096)
    dst.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 7, 3) + rng)
    return dst


@pytest.mark.parametrize("make", ["truncated", "garbage", "empty"])
def test_corrupt_gguf(tmp_path: Path, tiny_llama_path: Path, make: str) -> None:
    path = tmp_path / f"{make}.gguf"
    if make == "truncated":
        truncated(tiny_llama_path, path)
    elif make == "garbage":
        gguf_magic_then_garbage(path)
    else:
        path.write_bytes(b"")
    runner = LlamaRunner(options(path))
    with pytest.raises(ModelFileError) as err:
        runner.load()
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert "llama.cpp" in message
    assert runner.pid is None  # nothing half-loaded stays around
    # The parent is fine and a good model loads right after.
    with LlamaRunner(options(tiny_llama_path)) as good:
        ok(good)


def test_truncated_real_model_reason(tmp_path: Path, gemma_path: Path) -> None:
    path = truncated(gemma_path, tmp_path / "gemma-half.gguf")
    with pytest.raises(ModelFileError) as err, LlamaRunner(options(path)) as runner:
        runner.load()
    message = str(err.value)
    assert str(path) in message
    # llama.cpp's own reason, taken from its log, not a generic line.
    assert "corrupt" in message or "bounds" in message or "failed" in message, message


def test_close_from_another_thread_during_generation(tiny_llama_path: Path) -> None:
    """A UI unloading the model mid-answer: the generating call ends with Cancelled, promptly."""
    import threading

    runner = LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=32768, n_threads=1))
    runner.load()
    started = threading.Event()
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            runner.generate(
                PROMPT,
                constraint=None,
                sampling=Sampling(max_tokens=100_000),
                progress=lambda p: started.set() if p.stage == "generate" else None,
            )
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    assert started.wait(30)
    pid = runner.pid
    t0 = time.monotonic()
    runner.close()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - t0 < 5
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled), outcome
    assert pid is not None and runner.pid is None
