"""The llama.cpp worker: runs only in a child process started by
``engine.runtime.llamacpp.runner.LlamaRunner`` (through ``protocol.child_main``).

Everything native lives here, so a segfault, an abort or the OOM killer takes down this process
and never the caller. This module is the serve loop: it reads requests from the pipe (see
``protocol`` for the messages), runs them on the loaded model (``model``) with the decoding
tricks (``decoding``), and answers. llama.cpp's log goes to a file (``logcapture``).

Cancellation is a shared int (``flag``) the parent sets: checked between prompt chunks and
between tokens, and inside long ``llama_decode`` calls through llama.cpp's abort callback.

May import: ``engine.runtime.base`` and the ``engine.runtime.llamacpp`` worker-side modules
(``protocol``, ``model``, ``decoding``, ``logcapture``, ``cpu_features``); never the runner.
"""

from __future__ import annotations

import codecs
import os
import signal
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

from engine.runtime.base import Sampling
from engine.runtime.llamacpp.decoding import FF_AFTER, ForcedText, GrammarSampler, Lookup, Samplers
from engine.runtime.llamacpp.logcapture import Log, capture_output, route_llama_log
from engine.runtime.llamacpp.model import LlamaModel
from engine.runtime.llamacpp.protocol import DecodeOptions, Failure, WorkerCancelled

# Progress messages are throttled to at most this many per second.
_PROGRESS_HZ = 10.0
# A single-token decode slower than this gets the abort callback too (big models on CPU).
_SLOW_DECODE_S = 0.3


class Worker:
    """Serves the parent's requests over ``conn`` until ``close`` or the pipe ends."""

    def __init__(self, conn: Connection, flag: Any, log: Log) -> None:
        import llama_cpp as L

        self.L = L
        self.conn = conn
        self.flag = flag  # multiprocessing RawValue(c_int): 1 = cancel requested
        self._last_progress = 0.0
        self.model = LlamaModel(L, flag, log, self.progress)
        self.sampler = GrammarSampler(self.model)
        self.forced = ForcedText(self.model, self.sampler)

    # --- plumbing -----------------------------------------------------------------------------

    def send(self, msg: tuple[Any, ...]) -> None:
        try:
            self.conn.send(msg)
        except (BrokenPipeError, EOFError, OSError):
            os._exit(0)  # the parent is gone: nothing left to serve

    def progress(
        self, stage: str, done: float, total: float | None, rate: float | None, force: bool = False
    ) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= 1.0 / _PROGRESS_HZ:
            self._last_progress = now
            self.send(("progress", stage, done, total, rate))

    def serve(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                return
            op = msg[0]
            if op == "close":
                self.free()
                self.send(("ok", None))
                return
            try:
                self.send(("ok", self.handle(op, msg)))
            except WorkerCancelled:
                self.send(("cancelled",))
            except Failure as exc:
                self.send(("error", exc.kind, exc.message))
            except Exception as exc:  # a bug here must still reach the caller as an error
                traceback.print_exc()  # into the log file (fd 2)
                self.send(("error", "internal", f"{type(exc).__name__}: {exc}"))

    def handle(self, op: str, msg: tuple[Any, ...]) -> Any:
        """One request's payload (``protocol`` lists the messages)."""
        if op == "load":
            self.free()
            info = self.model.load(msg[1])
            self.sampler.prepare()
            return info
        if op == "inspect":
            self.free()
            return self.model.inspect(msg[1])
        if op == "tokenize":
            return [self.model.tokenize(t, msg[2], msg[3]) for t in msg[1]]
        if op == "generate":
            return self.generate(msg[1], msg[2], msg[3], msg[4], msg[5])
        raise Failure("internal", f"unknown request {op!r}")

    def free(self) -> None:
        # Grammar samplers point into the model's vocabulary: they go first.
        self.sampler.free()
        self.model.free()
        self.forced.reset()

    # --- generate -----------------------------------------------------------------------------

    def generate(
        self,
        prompt: str,
        grammar_text: str | None,
        s: Sampling,
        decoding: DecodeOptions,
        prefix: str | None = None,
    ) -> dict[str, Any]:
        m = self.model
        m.require_model()
        t0 = time.perf_counter()
        tokens = m.tokenize(prompt, False, True)
        n = len(tokens)
        if n == 0:
            raise Failure("prompt", "The prompt is empty.")
        if n >= m.n_ctx:
            raise Failure(
                "prompt",
                f"The prompt has {n} tokens but the model was loaded with a {m.n_ctx}-token "
                "context; it needs a larger context or a shorter input.",
            )
        grammar = self.sampler.grammar_sampler(grammar_text) if grammar_text else None
        start = self._evaluate_prompt(tokens, prefix, t0)
        t1 = time.perf_counter()

        sm = self.sampler.samplers(s)
        try:
            answer = _Answer(self, sm, grammar, s, decoding, tokens, t1)
            return answer.run() | {"prompt_evaluated": n - start, "prompt_seconds": t1 - t0}
        finally:
            for smp in sm.all():
                self.L.llama_sampler_free(smp)

    def _evaluate_prompt(self, tokens: list[int], prefix: str | None, t0: float) -> int:
        """Bring the KV cache to hold ``tokens``; returns where evaluation started."""
        m = self.model
        n = len(tokens)
        start = m.reuse_start(tokens, prefix)
        m.truncate_cache(start)
        start = len(m.cached)

        arr = (self.L.llama_token * n)(*tokens)
        todo = n - start
        # Evaluation pieces: up to the end of the shared prefix, up to the last token, the last
        # token alone. The same pieces whatever the cache held, so a result does not depend
        # on it (llama.cpp's kernels are not batch-invariant: other batch, other low bits).
        cuts = sorted({c for c in (m.prefix_end(tokens, prefix), n - 1, n) if start < c <= n})
        m.set_abort(True)  # long decodes are interruptible; costs one call per graph node
        self.progress("prompt", 0, todo, None, force=True)
        pos = start
        for cut in cuts:
            while pos < cut:
                m.check_cancel()
                step = min(m.n_batch, cut - pos)
                m.decode(arr, pos, step)
                pos += step
                done = pos - start
                elapsed = time.perf_counter() - t0
                self.progress(
                    "prompt", done, todo, done / elapsed if elapsed else None, force=pos == n
                )
        return start


class _Answer:
    """One generation after the prompt: sample, fast-forward and draft until the end."""

    def __init__(
        self,
        worker: Worker,
        sm: Samplers,
        grammar: Any,
        s: Sampling,
        decoding: DecodeOptions,
        prompt: list[int],
        t1: float,
    ) -> None:
        self.w = worker
        self.m = worker.model
        self.sampler = worker.sampler
        self.L = worker.L
        self.sm = sm
        self.grammar = grammar
        self.t1 = t1
        self.n_prompt = len(prompt)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.parts: list[str] = []
        self.limit = min(s.max_tokens, self.m.n_ctx - self.n_prompt)
        self.generated = self.forced = self.drafted = self.accepted = 0
        self.retries = [0, 0, 0, 0]  # by sample()'s second result
        self.slow = False
        self.sampling = 0.0  # CPU time of this thread picking tokens: immune to a busy machine
        self.fast_forward = grammar is not None and decoding.fast_forward
        drafts = decoding.draft and not self.L.llama_model_is_recurrent(self.m.model)
        self.lookup = Lookup(prompt) if drafts else None
        self.batch: list[int] = []  # tokens to decode before the next sample
        self.draft: list[int] = []  # decoded ahead, not yet confirmed by sampling

    def emit(self, tokens: list[int]) -> None:
        L = self.L
        for token in tokens:
            for smp in self.sm.all():
                L.llama_sampler_accept(smp, token)
            self.parts.append(self.decoder.decode(self.m.piece(token)))
            self.sampler.pending = self.decoder.getstate()[0]
            if self.lookup is not None:
                self.lookup.add(token)
        self.generated += len(tokens)

    def run(self) -> dict[str, Any]:
        self.sampler.row = -1  # the prompt's last token (an earlier call may have ended mid-draft)
        self.sampler.pending = b""
        self.m.set_abort(False)
        # Text the grammar forces before the first token (``{"summary":"``) needs no sampling.
        self.batch = (
            self.w.forced.forced_tokens(self.grammar, self.limit) if self.fast_forward else []
        )
        self.emit(self.batch)
        self.forced += len(self.batch)
        stop = "length"
        while self.generated < self.limit:
            if self.batch:
                self.decode_batch()
            self.m.check_cancel()
            if not self.step():
                stop = "stop"
                break
        if self.draft:
            self.m.truncate_cache(len(self.m.cached) - len(self.draft))
        self.sampler.row = -1
        self.parts.append(self.decoder.decode(b"", final=True))
        t1, t2 = self.t1, time.perf_counter()
        self.w.progress(
            "generate",
            self.generated,
            None,
            self.generated / (t2 - t1) if t2 > t1 else None,
            force=True,
        )
        return {
            "text": "".join(self.parts),
            "prompt_tokens": self.n_prompt,
            "generated_tokens": self.generated,
            "generation_seconds": t2 - t1,
            "stop_reason": stop,
            "sampling_seconds": self.sampling,
            "grammar_resamples": self.retries[1] + self.retries[2] + self.retries[3],
            "grammar_full_masks": self.retries[3],
            "forced_tokens": self.forced,
            "draft_tokens": self.drafted,
            "draft_accepted": self.accepted,
        }

    def decode_batch(self) -> None:
        """One decode for the new tokens and a draft of what may follow them; the draft's
        tokens are kept only where sampling picks them anyway."""
        batch = self.batch
        self.draft = (
            self.lookup.draft(self.limit - self.generated) if self.lookup is not None else []
        )
        self.m.set_abort(self.slow or len(batch) + len(self.draft) > 1)
        td = time.perf_counter()
        if self.draft:
            self.m.decode_rows(batch + self.draft, len(batch) - 1)
            self.sampler.row = len(batch) - 1  # logits are read by position in the batch
        else:
            self.m.decode_list(batch)
            self.sampler.row = -1
        self.slow = time.perf_counter() - td > _SLOW_DECODE_S
        self.drafted += len(self.draft)

    def step(self) -> bool:
        """Sample one token and queue what to decode next; False at the end of generation."""
        L = self.L
        grammar = self.grammar
        ts = time.thread_time()
        token, how = self.sampler.sample(self.sm, grammar)
        self.retries[how] += 1
        eog = L.llama_vocab_is_eog(self.m.vocab, token)
        if grammar is not None and not eog:
            L.llama_sampler_accept(grammar, token)
        if eog:
            for smp in self.sm.all():
                L.llama_sampler_accept(smp, token)
            self.sampling += time.thread_time() - ts
            return False
        self.emit([token])
        if self.draft and token == self.draft[0]:
            # The draft guessed right: the next logits are already computed.
            self.draft.pop(0)
            self.accepted += 1
            self.sampler.row += 1
            self.batch = []
            self.sampling += time.thread_time() - ts
            return True
        if self.draft:
            # Wrong guess: drop the rest of the draft from the cache.
            self.m.truncate_cache(len(self.m.cached) - len(self.draft))
            self.draft = []
        self.batch = [token]
        if self.fast_forward and self.generated < self.limit and self.parts[-1][-1:] in FF_AFTER:
            # One decode for the sampled token and the forced text after it.
            ahead = self.w.forced.forced_tokens(grammar, self.limit - self.generated)
            self.emit(ahead)
            self.forced += len(ahead)
            self.batch += ahead
        self.sampling += time.thread_time() - ts
        now = time.perf_counter()
        t1 = self.t1
        self.w.progress(
            "generate", self.generated, None, self.generated / (now - t1) if now > t1 else None
        )
        return True


def _watch_parent(parent_pid: int) -> None:
    """Exit when the parent dies mid-request (a blocked recv() would notice, a decode won't)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def worker_main(conn: Connection, flag: Any, log_path: str, parent_pid: int) -> None:
    """Entry point of the child process."""
    # Ctrl-C reaches the whole process group; the parent decides what it means (cancel, then
    # close or kill this process), so a KeyboardInterrupt here could only muddle the protocol.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log = capture_output(log_path)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()

    import llama_cpp as L

    log_cb = route_llama_log(L, log)  # referenced here for as long as llama.cpp may log
    L.llama_backend_init()
    worker = Worker(conn, flag, log)
    try:
        worker.serve()
    finally:
        worker.free()
        conn.close()
        del log_cb
