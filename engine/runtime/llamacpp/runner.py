"""``LlamaRunner``: owns the llama.cpp worker process (``engine.runtime.llamacpp.worker``) and
talks to it.

The parent side never imports llama.cpp. A native crash, the OOM killer or a stuck decode can
only take down the child; the parent notices through the process sentinel and raises
``WorkerCrashed`` (with the tail of llama.cpp's log), and the next call starts a fresh worker
with the remembered ``LoadOptions``.

Cancel: the caller's ``CancelToken`` is polled every 50 ms while waiting for the worker; when set,
a shared flag tells the worker to stop (checked between prompt chunks, between tokens, and inside
``llama_decode`` by llama.cpp's abort callback). If the worker has not answered after
``CANCEL_GRACE_S`` (a load: at once), it is killed. Either way the call raises ``Cancelled``.
``close()`` while a request is still in flight (a ``KeyboardInterrupt`` unwound through it, or
another thread is waiting on it) kills the worker at once: nothing it is computing can be used
any more.

The worker ignores SIGINT (Ctrl-C reaches the whole process group): the parent decides.

Worker logs live in ``get_paths().worker_logs_dir`` as ``worker-<parent pid>-<random>.log``;
each is deleted with its worker, and logs whose parent process is gone (a killed run) are
swept whenever a worker starts (``engine.runtime.llamacpp.process``).

May import: ``engine.runtime.base``, ``protocol``, ``process`` and the ground floor; never the
worker nor llama.cpp (the child is started by module name).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import tempfile
import threading
import time
import weakref
from dataclasses import fields, replace
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from engine.errors import (
    Cancelled,
    ConfigError,
    GenerationError,
    ModelError,
    ModelFileError,
    WorkerCrashed,
)
from engine.hardware import default_threads
from engine.paths import get_paths
from engine.progress import CancelToken, Progress, ProgressCallback, emit
from engine.runtime.base import (
    Constraint,
    Generation,
    LoadOptions,
    LocalBackend,
    ModelCheck,
    ModelInfo,
    Sampling,
)
from engine.runtime.llamacpp.process import (
    NATIVE_CRASHES,
    describe_exit,
    main_module_hidden,
    sweep_worker_logs,
)
from engine.runtime.llamacpp.protocol import WORKER_MODULE, DecodeOptions, child_main

__all__ = ["DecodeOptions", "LlamaRunner", "close_all", "inspect_model", "sweep_worker_logs"]

CANCEL_GRACE_S = 1.5  # how long a cancelled worker may take to answer before it is killed
CLOSE_TIMEOUT_S = 2.0  # an idle worker frees its model and exits well within this
START_TIMEOUT_S = 120.0  # spawn + import llama_cpp; generous for a cold disk
QUICK_TIMEOUT_S = 300.0  # tokenize/close: no progress messages, but never this slow
_POLL_S = 0.05


def inspect_model(
    path: Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ModelCheck:
    """Ask llama.cpp, in a worker process, whether it can load ``path``: its architecture,
    hyperparameters, vocabulary and every tensor's name and shape are checked, but no tensor
    data is read or allocated (a fraction of a second even for a 4 GB model). Raises
    ``ModelFileError`` with llama.cpp's reason (a native crash included)."""
    path = Path(path)
    runner = LlamaRunner(LoadOptions(path, n_ctx=16, n_threads=1))
    try:
        with runner._lock:
            runner._start()
            payload = runner._request(
                ("inspect", str(path)), "loading", progress, cancel, path.name, None
            )
    finally:
        runner.close()
    return ModelCheck(path=path, **payload)


_live: weakref.WeakSet[LlamaRunner] = weakref.WeakSet()


@atexit.register
def _kill_strays() -> None:
    for runner in list(_live):
        runner._kill()


def close_all() -> None:
    """Close every runner of this process: idle workers exit, busy ones are killed at once, and
    a call waiting on one raises ``Cancelled``. For shutting an app down without waiting."""
    for runner in list(_live):
        runner._shut = True
        runner.close()


class LlamaRunner:
    """One llama.cpp model in a worker process. Not re-entrant: one call at a time."""

    def __init__(self, options: LoadOptions, decoding: DecodeOptions | None = None) -> None:
        self.options = options
        self.decoding = decoding or DecodeOptions()  # llama.cpp's tricks, for every generate
        self._info: ModelInfo | None = None
        self._proc: BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._flag: Any = None
        self._log_path: str | None = None
        self._lock = threading.RLock()
        self._closing = False
        self._busy = False  # a request was sent and its final reply has not been read
        self._shut = False  # close_all(): no new worker may start
        _live.add(self)

    # --- public API ---------------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            raise ModelError(f"No model is loaded yet from {self.options.model_path}.")
        return self._info

    @property
    def pid(self) -> int | None:
        """The worker's process id while one is running."""
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    @property
    def loaded(self) -> bool:
        return self._info is not None and self.pid is not None

    def load(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> ModelInfo:
        """Start the worker and load the model (no-op when already loaded)."""
        with self._lock:
            if self._shut:
                raise Cancelled("The model was unloaded because vidsum is closing.")
            self._closing = False
            if self.loaded:
                return self.info
            opts = self.options
            path = Path(opts.model_path)
            if not path.is_file():
                raise ModelFileError(path, "the model file does not exist.")
            if opts.n_ctx < 16:
                raise ConfigError(f"A context of {opts.n_ctx} tokens is too small to run a model.")
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            self._info = None
            item = path.name
            emit(progress, Progress("load", 0, 1, message="Starting the model worker", item=item))
            # Threads are counted here, in the parent, so the worker needs no core counter;
            # before the worker starts, whose imports would count as a busy core.
            resolved = replace(opts, n_threads=opts.n_threads or default_threads())
            self._start()
            payload = self._request(("load", resolved), "loading", progress, cancel, item, None)
            payload["path"] = path
            # Fields the worker does not send keep their defaults (grammar_server: servers only).
            known = [k for k in _field_names(ModelInfo) if k in payload]
            self._info = ModelInfo(**{k: payload[k] for k in known})
            emit(progress, Progress("load", 1, 1, message="Model loaded", item=item))
            return self._info

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        return self._tokenize([text], add_bos, special)[0]

    def count_tokens(self, texts: list[str], *, special: bool = True) -> list[int]:
        """Token counts of many texts in one round trip (for the long-transcript splitter)."""
        return [len(t) for t in self._tokenize(texts, False, special)]

    def generate(
        self,
        prompt: str,
        *,
        constraint: Constraint | None,
        sampling: Sampling | None = None,
        shared_prefix: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        decoding: DecodeOptions | None = None,
    ) -> Generation:
        """Complete ``prompt`` (which carries its own BOS) under ``constraint``'s GBNF (rule
        ``root``; None = unconstrained). The worker sees the grammar text only.

        The KV cache of the longest common token prefix with the previous call is reused. Pass
        the part of the prompt shared across a batch as ``shared_prefix`` (it must be a prefix
        of ``prompt``): it is then evaluated in its own batches, so every result is
        bit-for-bit what a fresh runner would give, whatever was cached before.
        ``decoding`` overrides the runner's ``DecodeOptions`` for this call.
        """
        sampling = sampling or Sampling()
        if shared_prefix is not None and not prompt.startswith(shared_prefix):
            raise ConfigError(
                "The shared prefix given to the model runner does not start the prompt."
            )
        with self._lock:
            self.load(progress, cancel)
            payload = self._request(
                (
                    "generate",
                    prompt,
                    constraint.gbnf if constraint else None,
                    sampling,
                    decoding or self.decoding,
                    shared_prefix,
                ),
                "generating",
                progress,
                cancel,
                Path(self.options.model_path).name,
                None,
            )
            return Generation(**{k: payload[k] for k in _field_names(Generation)})

    def close(self) -> None:
        """End the worker (its memory, VRAM included, is freed when it exits). Idempotent.

        An idle worker is asked to free its model and exit; a busy one (a request still in
        flight, e.g. a ``KeyboardInterrupt`` unwound through it) is killed at once, since it
        only reads messages between requests."""
        self._closing = True
        if self._flag is not None and self._busy:
            self._flag.value = 1  # whatever it is computing is no longer wanted
        if not self._lock.acquire(blocking=False):
            # A call is in flight on another thread: it sees the dead worker and raises Cancelled.
            self._kill()
            return
        try:
            proc, conn = self._proc, self._conn
            if proc is not None and conn is not None and proc.is_alive() and not self._busy:
                try:
                    conn.send(("close",))
                    if conn.poll(CLOSE_TIMEOUT_S):
                        conn.recv()
                except (OSError, EOFError):
                    pass
                proc.join(CLOSE_TIMEOUT_S)
            self._kill()
        finally:
            self._lock.release()

    def __enter__(self) -> LlamaRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._kill()

    # --- process management -------------------------------------------------------------------

    def _start(self) -> None:
        self._kill()
        mp = multiprocessing.get_context("spawn")
        logs = get_paths().worker_logs_dir
        logs.mkdir(parents=True, exist_ok=True)
        sweep_worker_logs(logs)
        parent_conn, child_conn = mp.Pipe(duplex=True)
        self._flag = mp.RawValue(ctypes.c_int, 0)
        self._busy = False
        fd, self._log_path = tempfile.mkstemp(
            prefix=f"worker-{os.getpid()}-", suffix=".log", dir=logs
        )
        os.close(fd)
        # By module name: the parent never imports the worker (nor llama.cpp).
        proc = mp.Process(
            target=child_main,
            args=(WORKER_MODULE, child_conn, self._flag, self._log_path, os.getpid()),
            name="vidsum-llama-worker",
            daemon=True,
        )
        with main_module_hidden():
            proc.start()
        child_conn.close()
        self._proc, self._conn = proc, parent_conn

    def _kill(self) -> None:
        """Stop the worker now, without asking. Safe to call at any time, repeatedly."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        self._info = None
        self._busy = False
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(5.0)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
        if self._log_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._log_path)
            self._log_path = None

    def _log_tail(self, lines: int = 8) -> str:
        if self._log_path is None:
            return ""
        try:
            with open(self._log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 16384))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        kept = [ln.strip() for ln in text.splitlines() if ln.strip(" .\t")]
        return "\n".join(kept[-lines:])

    def _tokenize(self, texts: list[str], add_bos: bool, special: bool) -> list[list[int]]:
        with self._lock:
            self.load()
            result: list[list[int]] = self._request(
                ("tokenize", texts, add_bos, special),
                "tokenizing",
                None,
                None,
                Path(self.options.model_path).name,
                QUICK_TIMEOUT_S,
            )
            return result

    def _request(
        self,
        msg: tuple[Any, ...],
        doing: str,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        item: str,
        timeout: float | None,
    ) -> Any:
        """Send ``msg`` and wait for its final reply, forwarding progress. One loop on purpose:
        cancel, timeout, a dead worker and the reply are all watched in the same 50 ms poll."""
        proc, conn = self._proc, self._conn
        assert proc is not None and conn is not None
        self._flag.value = 0
        try:
            conn.send(msg)
        except (OSError, EOFError):
            self._crashed(doing)
        self._busy = True
        start = time.monotonic()
        # The first request also waits for the interpreter to start and import llama.cpp.
        if msg[0] in ("load", "inspect"):
            timeout = None
        cancel_deadline: float | None = None
        while True:
            if cancel is not None and cancel.cancelled and cancel_deadline is None:
                self._flag.value = 1
                # A load is killed at once: a half-loaded model is of no use, and a worker
                # still starting (importing llama.cpp) would not see the flag for seconds.
                grace = 0.0 if msg[0] in ("load", "inspect") else CANCEL_GRACE_S
                cancel_deadline = time.monotonic() + grace
            if cancel_deadline is not None and time.monotonic() > cancel_deadline:
                self._kill()  # it did not stop in time; the next call starts a fresh one
                raise Cancelled()
            if timeout is not None and time.monotonic() - start > timeout:
                self._kill()
                raise WorkerCrashed(
                    f"The model worker did not answer within {timeout:.0f} s while {doing} "
                    f"with {item}; it was stopped and the library was not changed."
                )
            try:
                ready = multiprocessing.connection.wait([conn, proc.sentinel], _POLL_S)
                if not ready:
                    continue
                if not conn.poll():
                    self._crashed(doing)
                reply = conn.recv()
            except (OSError, EOFError, ValueError):  # ValueError: closed by close() meanwhile
                self._crashed(doing)
            kind = reply[0]
            if kind == "progress":
                _, stage, done, total, rate = reply
                unit = "" if stage == "load" else "tok"
                emit(progress, Progress(stage, done, total, rate, unit, item=item))
                continue
            self._busy = False
            if cancel_deadline is not None or kind == "cancelled":
                # Cancelled while the answer was on its way counts as cancelled: nothing kept.
                if msg[0] == "load":
                    self._kill()
                raise Cancelled()
            if kind == "ok":
                return reply[1]
            if kind == "error":
                self._raise_error(msg, reply[1], reply[2])
            raise ModelError(f"The model worker sent an unexpected reply {kind!r}.")

    def _crashed(self, doing: str) -> NoReturn:
        proc = self._proc
        code: int | None = None
        if proc is not None:
            proc.join(2.0)
            code = proc.exitcode
        tail = self._log_tail()
        closing = self._closing
        self._kill()
        if closing:
            raise Cancelled("The model was unloaded.")
        path = self.options.model_path
        how = describe_exit(code)
        if doing == "loading" and code is not None and -code in NATIVE_CRASHES:
            # A native crash while parsing the file is the file's fault far more often than not.
            raise ModelFileError(
                path,
                f"llama.cpp crashed while reading this file ({how}); it may be corrupt or made "
                f"for a newer llama.cpp. Last messages: {tail or '(none)'}",
            )
        message = (
            f"The model worker stopped unexpectedly ({how}) while {doing} with "
            f"{Path(path).name}; the library was not changed."
        )
        if tail:
            message += f" Last llama.cpp messages:\n{tail}"
        raise WorkerCrashed(message)

    def _raise_error(self, msg: tuple[Any, ...], kind: str, message: str) -> NoReturn:
        path = Path(self.options.model_path)
        if msg[0] == "load":
            self._kill()  # nothing useful is loaded; the next load starts clean
        if kind == "model_file" and msg[0] == "inspect":
            reason = " ".join(message.split())  # llama.cpp pads shapes with runs of spaces
            raise ModelFileError(path, f"llama.cpp cannot load this model file ({reason}).")
        if kind == "model_file":
            raise ModelFileError(
                path,
                f"llama.cpp could not load this model file ({message}); it may be incomplete "
                "or corrupt, download it again.",
            )
        if kind in ("config", "grammar"):
            raise ConfigError(message)
        if kind == "generation":
            raise GenerationError(message)
        if kind in ("context", "prompt"):
            raise ModelError(message)
        raise ModelError(f"The model worker failed with {path.name}: {message}")


def _field_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


if TYPE_CHECKING:

    def _conforms(runner: LlamaRunner) -> LocalBackend:
        return runner  # mypy proves LlamaRunner is a LocalBackend
