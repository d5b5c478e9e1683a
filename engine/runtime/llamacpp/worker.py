"""The llama.cpp worker: runs only in a child process started by
``engine.runtime.llamacpp.runner.LlamaRunner``.

Everything native lives here, so a segfault, an abort or the OOM killer takes down this process
and never the caller. The protocol is small picklable tuples over a ``multiprocessing`` pipe:

parent -> child: ``("load", LoadOptions)``, ``("inspect", path)`` (check a file, keep nothing),
                 ``("tokenize", texts, add_bos, special)``,
                 ``("generate", prompt, grammar, Sampling, shared_prefix)``, ``("close",)``
child -> parent: ``("progress", stage, done, total, rate)`` (any number, throttled), then one of
                 ``("ok", payload)``, ``("cancelled",)``, ``("error", kind, message)``

Cancellation is a shared int (``flag``) the parent sets: checked between prompt chunks and
between tokens, and inside long ``llama_decode`` calls through llama.cpp's abort callback.
llama.cpp's log goes to an append-only file (the parent reads its tail after a crash) and to a
ring buffer here (for load-failure messages); fds 1 and 2 point at the same file, so native
``GGML_ABORT`` messages and Python tracebacks land there too and never on the caller's terminal.

The hot loop touches no Python per vocabulary entry: logits are copied into one preallocated
``llama_token_data`` array with numpy, and llama.cpp's samplers do the rest in C.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from engine.runtime.llamacpp.runner import LoadOptions, Sampling

# Progress messages are throttled to at most this many per second.
_PROGRESS_HZ = 10.0
# A single-token decode slower than this gets the abort callback too (big models on CPU).
_SLOW_DECODE_S = 0.3
_GGML_TYPES = {
    "f32": 0,
    "f16": 1,
    "q4_0": 2,
    "q4_1": 3,
    "q5_0": 6,
    "q5_1": 7,
    "q8_0": 8,
    "iq4_nl": 20,
    "bf16": 30,
}
# Candidates kept for a grammar retry under greedy decoding.
_GREEDY_K = 40
# Second rung of a grammar retry: this many best logits are checked before the whole vocabulary.
_WIDE_K = 1024
# Fast-forward: the most characters of grammar-forced text looked ahead at once.
_FF_MAX_CHARS = 64
# Characters probed to find forced text: any position of our grammars that allows a non-ASCII
# character (string content) allows ASCII letters too, so one allowed probe means forced.
_FF_PROBE = "\t\n\r" + "".join(chr(c) for c in range(0x20, 0x7F))
# Forced text in our grammars starts where a string, list or object has just closed (or at the
# very start); probing after other characters would only cost time (each probe checks ~100
# candidates against the grammar's stacks, ~100x the single check of a sampled token).
_FF_AFTER = frozenset('"]},:[{')
# Prompt-lookup drafting: the longest draft checked in one decode, and the n-gram sizes looked
# up (longest first) to find where in the prompt or output the text might continue.
_DRAFT_MAX = 8
_DRAFT_NGRAMS = (3, 2)
# Capacity of the batch used when a decode needs logits for several positions.
_MULTI_BATCH = 128
_TOKEN_DTYPE = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")], align=True)


@dataclass
class _FastForward:
    """Per-model tables for forced-token fast-forward (built once, on first use)."""

    probe_chars: str  # the probe characters that have a single-character token
    probe_data: Any  # llama_token_data[len(probe_chars) + eog]: one token per char, then EOG
    probe_arr: Any  # llama_token_data_array over probe_data
    probe_ids: np.ndarray
    probe_view: np.ndarray  # probe_data seen as _TOKEN_DTYPE records (no copy)
    token_of: dict[str, int]  # probe character -> its single-character token


@dataclass
class _Samplers:
    """The sampling chain in three parts, so a grammar retry can re-enter it in the middle."""

    pen: Any  # repetition penalties, or None
    topk: Any  # top-k (greedy: a fixed k), or None
    post: Any  # chain: top-p, min-p, temperature, dist (or greedy)

    def all(self) -> list[Any]:
        return [x for x in (self.pen, self.topk, self.post) if x is not None]


class _Cancelled(Exception):
    pass


class _Failure(Exception):
    """An expected failure, reported to the parent as ``("error", kind, message)``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _common_prefix(a: list[int], b: list[int]) -> int:
    m = min(len(a), len(b))
    diff = np.flatnonzero(np.asarray(a[:m], dtype=np.int64) != np.asarray(b[:m], dtype=np.int64))
    return int(diff[0]) if len(diff) else m


def ggml_type(name: str | None) -> int | None:
    if name is None:
        return None
    try:
        return _GGML_TYPES[name.lower()]
    except KeyError:
        raise _Failure(
            "config",
            f"Unknown KV cache type {name!r}; use one of {', '.join(sorted(_GGML_TYPES))}.",
        ) from None


_LOG_ERROR = 4  # GGML_LOG_LEVEL_ERROR
_LOG_CONT = 5  # continues the previous message


@dataclass
class _Log:
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


class Worker:
    def __init__(self, conn: Connection, flag: Any, log: _Log) -> None:
        import llama_cpp as L

        self.L = L
        self.conn = conn
        self.flag = flag  # multiprocessing RawValue(c_int): 1 = cancel requested
        self.log = log
        self.model: Any = None
        self.ctx: Any = None
        self.mem: Any = None
        self.vocab: Any = None
        self.n_vocab = 0
        self.n_ctx = 0
        self.n_batch = 512
        self.path = ""
        self.cached: list[int] = []  # exactly the tokens in the KV cache (seq 0), in order
        self.grammars: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self._prefix_text: str | None = None
        self._prefix_tokens: list[int] = []
        self._last_progress = 0.0
        self._abort_on = False
        # ctypes callbacks must stay referenced for as long as llama.cpp may call them.
        self._abort_cb = L.ggml_abort_callback(lambda _data: bool(self.flag.value))
        self._no_abort_cb = L.ggml_abort_callback()  # a NULL function pointer: no callback
        self._load_cb = L.llama_progress_callback(self._on_load_progress)
        self._tok_buf = (L.llama_token * 4096)()
        self._piece = ctypes.create_string_buffer(256)
        self._one = (L.llama_token * 1)()
        self._one_data = (L.llama_token_data * 1)()
        self._one_arr = L.llama_token_data_array(
            data=ctypes.cast(self._one_data, L.llama_token_data_p),
            size=1,
            selected=-1,
            sorted=False,
        )
        self.cand: np.ndarray = np.zeros(0, dtype=_TOKEN_DTYPE)
        self._ids: np.ndarray = np.zeros(0, dtype=np.int32)
        self._saved: np.ndarray = np.zeros(0, dtype=_TOKEN_DTYPE)
        self._cand_arr: Any = None
        self._cand_base = 0
        self._wide = L.llama_sampler_init_top_k(_WIDE_K)
        self._utf8: np.ndarray | None = None  # see utf8_table()
        self._strict = codecs.getincrementaldecoder("utf-8")("strict")
        self._pending = b""  # bytes of an incomplete last character of the output so far
        self._ff: _FastForward | None = None  # see ff_tables()
        self._row = -1  # the logits row sample() reads (a draft decode has several)
        self._multi: Any = None  # llama_batch for decodes with logits at several positions

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

    def check_cancel(self) -> None:
        if self.flag.value:
            raise _Cancelled()

    def _on_load_progress(self, fraction: float, _data: Any) -> bool:
        self.progress("load", float(fraction), 1.0, None, force=fraction >= 1.0)
        return not self.flag.value  # False makes llama.cpp abandon the load

    def _set_abort(self, on: bool) -> None:
        if on != self._abort_on:
            self.L.llama_set_abort_callback(
                self.ctx, self._abort_cb if on else self._no_abort_cb, None
            )
            self._abort_on = on

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
                if op == "load":
                    result: Any = self.load(msg[1])
                elif op == "inspect":
                    result = self.inspect(msg[1])
                elif op == "tokenize":
                    result = [self.tokenize(t, msg[2], msg[3]) for t in msg[1]]
                elif op == "generate":
                    result = self.generate(msg[1], msg[2], msg[3], msg[4])
                else:
                    raise _Failure("internal", f"unknown request {op!r}")
                self.send(("ok", result))
            except _Cancelled:
                self.send(("cancelled",))
            except _Failure as exc:
                self.send(("error", exc.kind, exc.message))
            except Exception as exc:  # a bug here must still reach the caller as an error
                traceback.print_exc()  # into the log file (fd 2)
                self.send(("error", "internal", f"{type(exc).__name__}: {exc}"))

    # --- load ---------------------------------------------------------------------------------

    def free(self) -> None:
        L = self.L
        for g in self.grammars.values():
            L.llama_sampler_free(g)
        self.grammars.clear()
        if self.ctx is not None:
            L.llama_free(self.ctx)
            self.ctx = None
        if self.model is not None:
            L.llama_model_free(self.model)
            self.model = None
        self.cached = []
        self._prefix_text, self._prefix_tokens = None, []
        self._utf8 = None
        self._ff = None
        if self._multi is not None:
            L.llama_batch_free(self._multi)
            self._multi = None

    def meta(self, key: str) -> str | None:
        L = self.L
        buf = ctypes.create_string_buffer(256)
        n = L.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            L.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace")

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.piece(token).decode("utf-8", "replace")

    def load(self, opts: LoadOptions) -> dict[str, Any]:
        from engine.hardware import physical_cores
        from engine.runtime.llamacpp.cpu_features import extra_buffers_allowed

        L = self.L
        self.free()
        self.path = str(opts.model_path)
        type_k, type_v = ggml_type(opts.type_k), ggml_type(opts.type_v)

        mp = L.llama_model_default_params()
        mp.n_gpu_layers = opts.n_gpu_layers
        mp.use_extra_bufts = extra_buffers_allowed()
        mp.progress_callback = self._load_cb
        self.progress("load", 0.0, 1.0, None, force=True)
        self.log.mark()
        model = L.llama_model_load_from_file(self.path.encode(), mp)
        if not model:
            self.check_cancel()
            raise _Failure("model_file", self.log.reason())
        self.model = model
        self.vocab = L.llama_model_get_vocab(model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)

        threads = opts.n_threads or physical_cores()
        cp = L.llama_context_default_params()
        cp.n_ctx = opts.n_ctx
        cp.n_batch = opts.n_batch
        cp.n_ubatch = min(opts.n_ubatch, opts.n_batch)
        cp.n_seq_max = 1
        cp.n_threads = threads
        cp.n_threads_batch = threads
        cp.no_perf = True
        # Full-size sliding-window cache: otherwise SWA models (Gemma 3) forget old positions
        # and a cached prefix could not be kept when the tail of the cache is removed.
        cp.swa_full = True
        if opts.flash_attn is None:
            cp.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_AUTO
        else:
            cp.flash_attn_type = (
                L.LLAMA_FLASH_ATTN_TYPE_ENABLED
                if opts.flash_attn
                else L.LLAMA_FLASH_ATTN_TYPE_DISABLED
            )
        if type_k is not None:
            cp.type_k = type_k
        if type_v is not None:
            cp.type_v = type_v
        ctx = L.llama_init_from_model(model, cp)
        if not ctx:
            reason = self.log.reason()
            self.free()
            raise _Failure(
                "context",
                f"llama.cpp could not create a {opts.n_ctx}-token context for {self.path} "
                f"({reason}); try a smaller context, fewer GPU layers or another KV cache type.",
            )
        self.ctx = ctx
        self.mem = L.llama_get_memory(ctx)
        self.n_ctx = L.llama_n_ctx(ctx)
        self.n_batch = opts.n_batch
        self._abort_on = True
        self._set_abort(False)

        # One candidate array for the whole session; numpy fills it, samplers work on it in C.
        self.cand = np.zeros(self.n_vocab, dtype=_TOKEN_DTYPE)
        self._saved = np.zeros(self.n_vocab, dtype=_TOKEN_DTYPE)
        self._ids = np.arange(self.n_vocab, dtype=np.int32)
        self._cand_base = self.cand.ctypes.data
        self._cand_arr = L.llama_token_data_array(
            data=self.cand.ctypes.data_as(L.llama_token_data_p),
            size=self.n_vocab,
            selected=-1,
            sorted=False,
        )

        self.utf8_table()  # a fraction of a second for a 262k vocabulary; here, not mid-answer
        arch = self.meta("general.architecture") or "unknown"
        expert_count = self.meta(f"{arch}.expert_count")
        supports_gpu = bool(L.llama_supports_gpu_offload())
        n_layer = L.llama_model_n_layer(model)
        if not supports_gpu:
            gpu_layers = 0
        elif opts.n_gpu_layers < 0:
            gpu_layers = n_layer
        else:
            gpu_layers = min(opts.n_gpu_layers, n_layer)
        desc = ctypes.create_string_buffer(256)
        L.llama_model_desc(model, desc, len(desc))
        bos = L.llama_vocab_bos(self.vocab)
        eos = L.llama_vocab_eos(self.vocab)
        return {
            "path": opts.model_path,
            "n_ctx": self.n_ctx,
            "n_ctx_train": L.llama_model_n_ctx_train(model),
            "n_vocab": self.n_vocab,
            "n_layer": n_layer,
            "n_embd": L.llama_model_n_embd(model),
            "architecture": arch,
            "chat_template": self.meta("tokenizer.chat_template"),
            "bos": bos,
            "eos": eos,
            "gpu_offload": supports_gpu,
            "n_gpu_layers": gpu_layers,
            "expert_count": int(expert_count) if expert_count and expert_count.isdigit() else 0,
            "bos_text": self.token_text(bos),
            "eos_text": self.token_text(eos),
            "add_bos": bool(L.llama_vocab_get_add_bos(self.vocab)),
            "description": desc.value.decode("utf-8", "replace"),
            "n_threads": threads,
        }

    def inspect(self, path: str) -> dict[str, Any]:
        """Check that llama.cpp can load ``path`` (architecture, hyperparameters, vocabulary,
        every tensor's name and shape) without reading or allocating tensor data, and describe
        it. Nothing stays loaded."""
        L = self.L
        self.free()
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        mp.no_alloc = True  # tensors are created (shapes checked) but never filled
        mp.load_mode = L.LLAMA_LOAD_MODE_NONE  # (no_alloc asserts with mmap)
        mp.use_extra_bufts = False  # repacking would read every weight
        mp.progress_callback = self._load_cb
        self.log.mark()
        model = L.llama_model_load_from_file(path.encode(), mp)
        if not model:
            self.check_cancel()
            raise _Failure("model_file", self.log.reason())
        self.model = model
        try:
            self.vocab = L.llama_model_get_vocab(model)
            desc = ctypes.create_string_buffer(256)
            L.llama_model_desc(model, desc, len(desc))
            bos = L.llama_vocab_bos(self.vocab)
            eos = L.llama_vocab_eos(self.vocab)
            return {
                "architecture": self.meta("general.architecture") or "unknown",
                "description": desc.value.decode("utf-8", "replace"),
                "n_vocab": L.llama_vocab_n_tokens(self.vocab),
                "n_layer": L.llama_model_n_layer(model),
                "n_ctx_train": L.llama_model_n_ctx_train(model),
                "chat_template": self.meta("tokenizer.chat_template"),
                "bos_text": self.token_text(bos),
                "eos_text": self.token_text(eos),
            }
        finally:
            self.free()

    # --- tokens -------------------------------------------------------------------------------

    def require_model(self) -> None:
        if self.ctx is None:
            raise _Failure("internal", "no model is loaded in the worker")

    def tokenize(self, text: str, add_bos: bool, special: bool) -> list[int]:
        self.require_model()
        L = self.L
        data = text.encode("utf-8")
        n = L.llama_tokenize(
            self.vocab, data, len(data), self._tok_buf, len(self._tok_buf), add_bos, special
        )
        if n < 0:  # buffer too small: -n is the size needed
            self._tok_buf = (L.llama_token * (-n + 1024))()
            n = L.llama_tokenize(
                self.vocab, data, len(data), self._tok_buf, len(self._tok_buf), add_bos, special
            )
        return list(self._tok_buf[:n])

    def piece(self, token: int, special: bool = True) -> bytes:
        """A token's bytes as the grammar sees them: control tokens rendered as their text, so
        the output is exactly what the grammar checked."""
        n = self.L.llama_token_to_piece(
            self.vocab, token, self._piece, len(self._piece), 0, special
        )
        if n < 0:
            self._piece = ctypes.create_string_buffer(-n + 16)
            n = self.L.llama_token_to_piece(
                self.vocab, token, self._piece, len(self._piece), 0, special
            )
        return self._piece.raw[:n]

    # --- KV cache -----------------------------------------------------------------------------

    def truncate_cache(self, keep: int) -> None:
        """Make the KV cache hold exactly ``cached[:keep]`` (and ``cached`` say so).

        Also removes positions past ``len(cached)``: an aborted batch may have left some.
        """
        keep = min(keep, len(self.cached))
        if keep == 0 or not self.L.llama_memory_seq_rm(self.mem, 0, keep, -1):
            # Recurrent models cannot drop a tail: start over rather than guess.
            self.L.llama_memory_clear(self.mem, True)
            keep = 0
        del self.cached[keep:]

    def decode(self, tokens: Any, offset: int, n: int) -> None:
        """Evaluate ``tokens[offset:offset+n]`` at the end of the cache (positions implied)."""
        L = self.L
        ptr = ctypes.cast(
            ctypes.byref(tokens, offset * ctypes.sizeof(L.llama_token)),
            ctypes.POINTER(L.llama_token),
        )
        rc = L.llama_decode(self.ctx, L.llama_batch_get_one(ptr, n))
        self._decoded(rc, list(tokens[offset : offset + n]))

    def decode_rows(self, tokens: list[int], first_row: int) -> None:
        """Evaluate ``tokens`` at the end of the cache with logits for every position from
        ``first_row`` on (row i predicts the token after ``tokens[i]``)."""
        L = self.L
        if self._multi is None:
            self._multi = L.llama_batch_init(_MULTI_BATCH, 0, 1)
        b = self._multi
        pos = len(self.cached)
        for i, token in enumerate(tokens):
            b.token[i] = token
            b.pos[i] = pos + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = i >= first_row
        b.n_tokens = len(tokens)
        self._decoded(L.llama_decode(self.ctx, b), tokens)

    def _decoded(self, rc: int, tokens: list[int]) -> None:
        if rc == 0:
            self.cached.extend(tokens)
            return
        # Aborted or failed: some ubatches may have landed; remove them so `cached` stays true.
        self.truncate_cache(len(self.cached))
        if rc == 2 or self.flag.value:
            raise _Cancelled()
        if rc == 1:
            raise _Failure(
                "context",
                f"The model's context ({self.n_ctx} tokens) is full; load it with a larger "
                "context.",
            )
        raise _Failure("internal", f"llama_decode failed with code {rc}: {self.log.reason()}")

    # --- sampling -----------------------------------------------------------------------------

    def grammar_sampler(self, grammar: str) -> Any:
        L = self.L
        g = self.grammars.get(grammar)
        if g is not None:
            self.grammars.move_to_end(grammar)
            L.llama_sampler_reset(g)
            return g
        self.log.mark()
        g = L.llama_sampler_init_grammar(self.vocab, grammar.encode("utf-8"), b"root")
        if not g:
            detail = [ln for ln in self.log.raw_since_mark() if "parsing grammar" in ln]
            reason = (
                detail[-1].split("parsing grammar:", 1)[-1].strip()
                if detail
                else (self.log.reason())
            )
            raise _Failure("grammar", f"The grammar could not be parsed: {reason}")
        self.grammars[grammar] = g
        while len(self.grammars) > 4:
            L.llama_sampler_free(self.grammars.popitem(last=False)[1])
        return g

    def samplers(self, s: Sampling) -> _Samplers:
        L = self.L
        params = L.llama_sampler_chain_default_params()
        params.no_perf = True
        post = L.llama_sampler_chain_init(params)
        add = L.llama_sampler_chain_add
        pen = topk = None
        if s.repeat_penalty != 1.0:
            pen = L.llama_sampler_init_penalties(64, s.repeat_penalty, 0.0, 0.0)
        if s.temperature <= 0:
            topk = L.llama_sampler_init_top_k(_GREEDY_K)
            add(post, L.llama_sampler_init_greedy())
        else:
            if s.top_k > 0:
                topk = L.llama_sampler_init_top_k(s.top_k)
            if s.top_p < 1.0:
                add(post, L.llama_sampler_init_top_p(s.top_p, 1))
            if s.min_p > 0.0:
                add(post, L.llama_sampler_init_min_p(s.min_p, 1))
            add(post, L.llama_sampler_init_temp(s.temperature))
            add(post, L.llama_sampler_init_dist(s.seed & 0xFFFFFFFF))
        return _Samplers(pen, topk, post)

    def fill_candidates(self) -> None:
        logits = np.ctypeslib.as_array(
            self.L.llama_get_logits_ith(self.ctx, self._row), shape=(self.n_vocab,)
        )
        self.cand["id"] = self._ids
        self.cand["logit"] = logits
        arr = self._cand_arr
        arr.size = self.n_vocab
        arr.selected = -1
        arr.sorted = False

    def apply(self, sampler: Any) -> None:
        self.L.llama_sampler_apply(sampler, ctypes.byref(self._cand_arr))
        if ctypes.cast(self._cand_arr.data, ctypes.c_void_p).value != self._cand_base:
            # Every llama.cpp sampler works in place today; never read a stale array.
            raise _Failure("internal", "a llama.cpp sampler replaced the candidate array")

    def pick(self, post: Any) -> int:
        self.apply(post)
        sel = self._cand_arr.selected
        if sel < 0 or sel >= self._cand_arr.size:
            raise _Failure("internal", "the sampler chain selected no token")
        return int(self.cand["id"][sel])

    def utf8_table(self) -> np.ndarray:
        """Per token: may its bytes follow a complete character? (strict UTF-8, built once)

        llama.cpp's grammar decodes bytes leniently (overlong forms, surrogates, stray
        continuation bytes each count as one character), while the text is decoded strictly;
        byte-fallback tokens could then give text the grammar never saw (longer strings,
        U+FFFD). With a grammar, only tokens that keep the output valid UTF-8 are sampled.
        """
        if self._utf8 is None:
            table = np.ones(self.n_vocab, dtype=bool)
            for token in range(self.n_vocab):
                piece = self.piece(token)
                if piece and max(piece) >= 0x80:
                    table[token] = self.valid_utf8_prefix(piece)
            self._utf8 = table
        return self._utf8

    def valid_utf8_prefix(self, data: bytes) -> bool:
        """``data`` is valid UTF-8, except perhaps for an incomplete last character."""
        self._strict.reset()
        try:
            self._strict.decode(data, final=False)
        except UnicodeDecodeError:
            return False
        return True

    def utf8_ok(self, token: int) -> bool:
        if not self._pending:
            return bool(self.utf8_table()[token])
        if self.L.llama_vocab_is_eog(self.vocab, token):
            return True
        return self.valid_utf8_prefix(self._pending + self.piece(token))

    def allowed(self, grammar: Any, token: int) -> bool:
        if not self.utf8_ok(token):
            return False
        one: Any = self._one_data[0]
        one.id, one.logit, one.p = token, 1.0, 0.0
        arr = self._one_arr
        arr.size, arr.selected, arr.sorted = 1, -1, False
        self.L.llama_sampler_apply(grammar, ctypes.byref(arr))
        return bool(self._one_data[0].logit != float("-inf"))

    def any_finite(self) -> bool:
        return bool(np.isfinite(self.cand["logit"][: self._cand_arr.size]).any())

    def sample(self, sm: _Samplers, grammar: Any) -> tuple[int, int]:
        """One token, and how hard the grammar had to work: 0 = the sampled token was allowed,
        1 = re-picked among the top-k survivors, 2 = among the top ``_WIDE_K``, 3 = the whole
        vocabulary was masked.

        As llama.cpp's common_sampler_sample: sample without the grammar and check only the
        chosen token. On a rejection it masks the full vocabulary (tens of ms for Gemma's 262k
        tokens, more than a decode step); here two cheap rungs come first: the top-k candidates
        the chain started from (no refill), then the top ``_WIDE_K`` logits. A rung samples
        from the allowed tokens among its candidates, which differs from llama.cpp's "top-k of
        the allowed tokens" only in tokens of tiny probability. Every returned token has passed
        the grammar check (accepting a rejected token aborts llama.cpp).
        """
        arr = self._cand_arr
        self.fill_candidates()
        if sm.pen is not None:
            self.apply(sm.pen)
        if sm.topk is not None:
            self.apply(sm.topk)
        k = int(arr.size)
        truncated = grammar is not None and k < self.n_vocab
        if truncated:
            self._saved[:k] = self.cand[:k]
        token = self.pick(sm.post)
        if grammar is None or self.allowed(grammar, token):
            return token, 0
        if truncated:
            self.cand[:k] = self._saved[:k]
            arr.size, arr.selected = k, -1
            retry = self.pick_allowed(sm, grammar, topk=False)
            if retry is not None:
                return retry, 1
        for rung, wide in ((2, self._wide), (3, None)):
            self.fill_candidates()
            if sm.pen is not None:
                self.apply(sm.pen)
            if wide is not None:
                self.apply(wide)
            retry = self.pick_allowed(sm, grammar, topk=True)
            if retry is not None:
                return retry, rung
        raise _Failure(
            "generation",
            "The grammar allows no next token for this model's vocabulary; the grammar and "
            "the model do not fit together.",
        )

    def pick_allowed(self, sm: _Samplers, grammar: Any, *, topk: bool) -> int | None:
        """Mask the current candidates with the grammar and pick among the allowed ones."""
        arr = self._cand_arr
        self.apply(grammar)
        # Rejected tokens are now -inf in place, so the array is no longer sorted; a sampler
        # trusting a stale flag would take a -inf logit for the maximum.
        arr.sorted = False
        logits = self.cand["logit"][: arr.size]
        live = np.flatnonzero(np.isfinite(logits))
        ids = self.cand["id"][live]
        if self._pending:
            bad = live[[not self.utf8_ok(int(t)) for t in ids]]
        else:
            bad = live[~self.utf8_table()[ids]]
        logits[bad] = -np.inf
        if len(bad) == len(live):
            return None
        if topk and sm.topk is not None:
            self.apply(sm.topk)
        token = self.pick(sm.post)
        return token if self.allowed(grammar, token) else None

    # --- fast-forward ------------------------------------------------------------------------

    def plain_tokens(self, text: str) -> list[int] | None:
        """Tokens whose pieces are exactly ``text``, as the tokenizer splits it mid-text.

        A newline goes first so a SentencePiece tokenizer puts its leading space before it,
        not on ``text``; None when the pieces do not join back to ``text`` exactly.
        """
        tokens = self.tokenize("\n" + text, False, False)
        pieces = [self.piece(t, special=False) for t in tokens]
        want = text.encode("utf-8")
        for i in range(len(tokens)):
            if b"".join(pieces[i:]) == want:
                head = b"".join(pieces[:i])
                return tokens[i:] if head in (b"\n", b" \n") else None
        return None

    def ff_tables(self) -> _FastForward:
        """One token for each probe character that has a single-character token."""
        if self._ff is None:
            L = self.L
            chars, ids = [], []
            for c in _FF_PROBE:
                tokens = self.plain_tokens(c)
                if tokens is not None and len(tokens) == 1:
                    chars.append(c)
                    ids.append(tokens[0])
            eog = [L.llama_vocab_eos(self.vocab), L.llama_vocab_eot(self.vocab)]
            ids += [t for t in eog if t >= 0]
            data = (L.llama_token_data * len(ids))()
            arr = L.llama_token_data_array(
                data=ctypes.cast(data, L.llama_token_data_p),
                size=len(ids),
                selected=-1,
                sorted=False,
            )
            view = np.ctypeslib.as_array(
                ctypes.cast(data, ctypes.POINTER(ctypes.c_byte)),
                shape=(len(ids) * _TOKEN_DTYPE.itemsize,),
            ).view(_TOKEN_DTYPE)
            self._ff = _FastForward(
                "".join(chars),
                data,
                arr,
                np.array(ids, dtype=np.int32),
                view,
                dict(zip(chars, ids, strict=False)),
            )
        return self._ff

    def forced_char(self, grammar: Any, ff: _FastForward) -> str | None:
        """The one character ``grammar`` allows next, or None (several, none, or the end)."""
        view = ff.probe_view
        view["id"] = ff.probe_ids
        view["logit"] = 0.0
        ff.probe_arr.size, ff.probe_arr.selected, ff.probe_arr.sorted = len(ff.probe_ids), -1, False
        self.L.llama_sampler_apply(grammar, ctypes.byref(ff.probe_arr))
        live = np.flatnonzero(np.isfinite(view["logit"]))
        if len(live) != 1 or live[0] >= len(ff.probe_chars):
            return None
        return ff.probe_chars[live[0]]

    def forced_text(self, grammar: Any, ff: _FastForward) -> str:
        """The text the grammar forces from here (up to ``_FF_MAX_CHARS`` characters)."""
        first = self.forced_char(grammar, ff)
        if first is None:
            return ""
        L = self.L
        look = L.llama_sampler_clone(grammar)  # only at forced positions: cloning copies rules
        try:
            out = [first]
            while len(out) < _FF_MAX_CHARS:
                L.llama_sampler_accept(look, ff.token_of[out[-1]])
                c = self.forced_char(look, ff)
                if c is None:
                    break
                out.append(c)
        finally:
            L.llama_sampler_free(look)
        return "".join(out)

    def forced_tokens(self, grammar: Any, room: int) -> list[int]:
        """Tokens for the grammar-forced text ahead, already accepted by ``grammar``.

        The text is tokenized as it would be mid-text. When it ends in a word character or a
        space, its last token is held back: the model may write it joined with what follows
        (``Section 1:`` + `` Intro``). After punctuation such as ``":"`` a token rarely
        spans the boundary, so all of it goes in. Every token still passes the grammar check
        before it is accepted.
        """
        if room <= 0:
            return []
        ff = self.ff_tables()
        text = self.forced_text(grammar, ff)
        if not text:
            return []
        tokens = self.plain_tokens(text)
        if tokens is None:  # odd tokenizer: one probe token per character
            tokens = [ff.token_of[c] for c in text]
        kept: list[int] = []
        hold = 1 if text[-1].isalnum() or text[-1].isspace() else 0
        for token in tokens[: min(len(tokens) - hold, room)]:
            if not self.allowed(grammar, token):
                break
            self.L.llama_sampler_accept(grammar, token)
            kept.append(token)
        return kept

    # --- generate -----------------------------------------------------------------------------

    def prefix_end(self, tokens: list[int], prefix: str | None) -> int:
        """Where the caller's shared prefix ends in ``tokens`` (0 without one)."""
        if not prefix:
            return 0
        if prefix != self._prefix_text:
            self._prefix_text, self._prefix_tokens = prefix, self.tokenize(prefix, False, True)
        # The prefix's last token may merge with what follows it: use the common part.
        return _common_prefix(self._prefix_tokens, tokens)

    def reuse_start(self, tokens: list[int], prefix: str | None) -> int:
        """How much of the KV cache to keep for ``tokens``.

        The longest common prefix with the cache, with two rules that keep results
        bit-for-bit reproducible: with a shared prefix, keep exactly the prefix (or nothing if
        it is not all cached); the same prompt again keeps all but its last token.
        """
        n = len(tokens)
        common = _common_prefix(self.cached, tokens[: n - 1])  # the last token gives logits
        if common == n - 1 or not prefix:
            return common
        end = self.prefix_end(tokens, prefix)
        return end if common >= end else 0

    def generate(
        self, prompt: str, grammar_text: str | None, s: Sampling, prefix: str | None = None
    ) -> dict[str, Any]:
        self.require_model()
        L = self.L
        t0 = time.perf_counter()
        tokens = self.tokenize(prompt, False, True)
        n = len(tokens)
        if n == 0:
            raise _Failure("prompt", "The prompt is empty.")
        if n >= self.n_ctx:
            raise _Failure(
                "prompt",
                f"The prompt has {n} tokens but the model was loaded with a {self.n_ctx}-token "
                "context; it needs a larger context or a shorter input.",
            )
        grammar = self.grammar_sampler(grammar_text) if grammar_text else None

        start = self.reuse_start(tokens, prefix)
        self.truncate_cache(start)
        start = len(self.cached)

        arr = (L.llama_token * n)(*tokens)
        todo = n - start
        # Evaluation pieces: up to the end of the shared prefix, up to the last token, the last
        # token alone. The same pieces whatever the cache held, so a result does not depend
        # on it (llama.cpp's kernels are not batch-invariant: other batch, other low bits).
        cuts = sorted({c for c in (self.prefix_end(tokens, prefix), n - 1, n) if start < c <= n})
        self._set_abort(True)  # long decodes are interruptible; costs one call per graph node
        self.progress("prompt", 0, todo, None, force=True)
        pos = start
        for cut in cuts:
            while pos < cut:
                self.check_cancel()
                step = min(self.n_batch, cut - pos)
                self.decode(arr, pos, step)
                pos += step
                done = pos - start
                elapsed = time.perf_counter() - t0
                self.progress(
                    "prompt", done, todo, done / elapsed if elapsed else None, force=pos == n
                )
        t1 = time.perf_counter()

        sm = self.samplers(s)
        try:
            return self._sample_loop(sm, grammar, s, tokens, start, t0, t1)
        finally:
            for smp in sm.all():
                L.llama_sampler_free(smp)

    def _sample_loop(
        self,
        sm: _Samplers,
        grammar: Any,
        s: Sampling,
        prompt: list[int],
        common: int,
        t0: float,
        t1: float,
    ) -> dict[str, Any]:
        L = self.L
        n_prompt = len(prompt)
        self._row = -1  # the prompt's last token (an earlier call may have ended mid-draft)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = b""
        parts: list[str] = []
        limit = min(s.max_tokens, self.n_ctx - n_prompt)
        generated = forced = drafted = accepted = 0
        retries = [0, 0, 0, 0]  # by sample()'s second result
        stop = "length"
        slow = False
        self._set_abort(False)
        sampling = 0.0  # CPU time of this thread picking tokens: immune to a busy machine
        fast_forward = grammar is not None and s.fast_forward
        lookup = _Lookup(prompt) if s.draft and not L.llama_model_is_recurrent(self.model) else None

        def emit(tokens: list[int]) -> None:
            nonlocal generated
            for token in tokens:
                for smp in sm.all():
                    L.llama_sampler_accept(smp, token)
                parts.append(decoder.decode(self.piece(token)))
                self._pending = decoder.getstate()[0]
                if lookup is not None:
                    lookup.add(token)
            generated += len(tokens)

        # Text the grammar forces before the first token (``{"summary":"``) needs no sampling.
        batch = self.forced_tokens(grammar, limit) if fast_forward else []
        emit(batch)
        forced += len(batch)
        draft: list[int] = []
        while generated < limit:
            if batch:
                # One decode for the new tokens and a draft of what may follow them; the
                # draft's tokens are kept only where sampling picks them anyway.
                draft = lookup.draft(limit - generated) if lookup is not None else []
                self._set_abort(slow or len(batch) + len(draft) > 1)
                td = time.perf_counter()
                if draft:
                    self.decode_rows(batch + draft, len(batch) - 1)
                    self._row = len(batch) - 1  # logits are read by position in the batch
                else:
                    arr = (L.llama_token * len(batch))(*batch)
                    self.decode(arr, 0, len(batch))
                    self._row = -1
                slow = time.perf_counter() - td > _SLOW_DECODE_S
                drafted += len(draft)
            self.check_cancel()
            ts = time.thread_time()
            token, how = self.sample(sm, grammar)
            retries[how] += 1
            eog = L.llama_vocab_is_eog(self.vocab, token)
            if grammar is not None and not eog:
                L.llama_sampler_accept(grammar, token)
            if eog:
                for smp in sm.all():
                    L.llama_sampler_accept(smp, token)
                sampling += time.thread_time() - ts
                stop = "stop"
                break
            emit([token])
            if draft and token == draft[0]:
                # The draft guessed right: the next logits are already computed.
                draft.pop(0)
                accepted += 1
                self._row += 1
                batch = []
                sampling += time.thread_time() - ts
                continue
            if draft:
                # Wrong guess: drop the rest of the draft from the cache.
                self.truncate_cache(len(self.cached) - len(draft))
                draft = []
            batch = [token]
            if fast_forward and generated < limit and parts[-1][-1:] in _FF_AFTER:
                # One decode for the sampled token and the forced text after it.
                ahead = self.forced_tokens(grammar, limit - generated)
                emit(ahead)
                forced += len(ahead)
                batch += ahead
            sampling += time.thread_time() - ts
            now = time.perf_counter()
            self.progress("generate", generated, None, generated / (now - t1) if now > t1 else None)
        if draft:
            self.truncate_cache(len(self.cached) - len(draft))
        self._row = -1
        parts.append(decoder.decode(b"", final=True))
        t2 = time.perf_counter()
        self.progress(
            "generate", generated, None, generated / (t2 - t1) if t2 > t1 else None, force=True
        )
        return {
            "text": "".join(parts),
            "prompt_tokens": n_prompt,
            "prompt_evaluated": n_prompt - common,
            "prompt_seconds": t1 - t0,
            "generated_tokens": generated,
            "generation_seconds": t2 - t1,
            "stop_reason": stop,
            "sampling_seconds": sampling,
            "grammar_resamples": retries[1] + retries[2] + retries[3],
            "grammar_full_masks": retries[3],
            "forced_tokens": forced,
            "draft_tokens": drafted,
            "draft_accepted": accepted,
        }


class _Lookup:
    """Prompt-lookup drafts: where the last few tokens occurred before (in the prompt or the
    output), guess that what followed them comes next. Small models copy whole phrases of
    their few-shot answers and of the transcript, so the guesses often hold."""

    def __init__(self, prompt: list[int]) -> None:
        self.hist = list(prompt)
        # n-gram -> index just past its latest earlier occurrence (where its follower is)
        self.index: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in _DRAFT_NGRAMS}
        for end in range(len(self.hist)):
            self._note(end)

    def _note(self, end: int) -> None:
        for n, idx in self.index.items():
            if end >= n:
                idx[tuple(self.hist[end - n : end])] = end

    def add(self, token: int) -> None:
        self._note(len(self.hist))  # the n-grams ending here are followed by ``token``
        self.hist.append(token)

    def draft(self, room: int) -> list[int]:
        for n, idx in self.index.items():
            end = idx.get(tuple(self.hist[-n:]))
            if end is not None:
                return self.hist[end : end + min(_DRAFT_MAX, room)]
        return []


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
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    # Native code prints aborts and assertion failures straight to stdout/stderr: keep them,
    # and keep the terminal (a TUI may own it) clean.
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    # ggml's crash handler would otherwise attach gdb for a backtrace: slow, and noise here.
    os.environ["GGML_NO_BACKTRACE"] = "1"
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    log = _Log(fd, log_path)

    import llama_cpp as L

    def on_log(level: int, text: bytes, _data: Any) -> None:
        if level != 1:  # GGML_LOG_LEVEL_DEBUG is noise
            log.write(level, text.decode("utf-8", "replace"))

    log_cb = L.llama_log_callback(on_log)
    L.llama_log_set(log_cb, None)
    L.llama_backend_init()
    worker = Worker(conn, flag, log)
    try:
        worker.serve()
    finally:
        worker.free()
        conn.close()
