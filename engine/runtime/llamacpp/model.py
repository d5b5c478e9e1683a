"""The worker's loaded model: llama.cpp's model, context and KV cache, and the token plumbing
over them (tokenize, pieces, decode, cache truncation, shared-prefix reuse).

Runs only in the worker process. Knows nothing of sampling or grammars (``decoding``) nor of
the pipe (``worker``): progress goes through the callable it is given.

May import: ``engine.runtime.base``, ``engine.runtime.llamacpp.protocol``, ``cpu_features``,
``logcapture``; llama.cpp is handed in.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.runtime.base import LoadOptions
from engine.runtime.llamacpp.logcapture import Log
from engine.runtime.llamacpp.protocol import Failure, WorkerCancelled

# (stage, done, total, rate, force): the worker's throttled progress message.
ProgressSink = Callable[[str, float, "float | None", "float | None", bool], None]

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
# Capacity of the batch used when a decode needs logits for several positions.
_MULTI_BATCH = 128


def common_prefix(a: list[int], b: list[int]) -> int:
    m = min(len(a), len(b))
    diff = np.flatnonzero(np.asarray(a[:m], dtype=np.int64) != np.asarray(b[:m], dtype=np.int64))
    return int(diff[0]) if len(diff) else m


def ggml_type(name: str | None) -> int | None:
    if name is None:
        return None
    try:
        return _GGML_TYPES[name.lower()]
    except KeyError:
        raise Failure(
            "config",
            f"Unknown KV cache type {name!r}; use one of {', '.join(sorted(_GGML_TYPES))}.",
        ) from None


class LlamaModel:
    """One model and its context in the worker; ``cached`` is exactly the KV cache's tokens."""

    def __init__(self, L: Any, flag: Any, log: Log, progress: ProgressSink) -> None:
        self.L = L
        self.flag = flag  # multiprocessing RawValue(c_int): 1 = cancel requested
        self.log = log
        self.progress = progress
        self.model: Any = None
        self.ctx: Any = None
        self.mem: Any = None
        self.vocab: Any = None
        self.n_vocab = 0
        self.n_ctx = 0
        self.n_batch = 512
        self.path = ""
        self.cached: list[int] = []  # exactly the tokens in the KV cache (seq 0), in order
        self._prefix_text: str | None = None
        self._prefix_tokens: list[int] = []
        self._abort_on = False
        # ctypes callbacks must stay referenced for as long as llama.cpp may call them.
        self._abort_cb = L.ggml_abort_callback(lambda _data: bool(self.flag.value))
        self._no_abort_cb = L.ggml_abort_callback()  # a NULL function pointer: no callback
        self._load_cb = L.llama_progress_callback(self._on_load_progress)
        self._tok_buf = (L.llama_token * 4096)()
        self._piece = ctypes.create_string_buffer(256)
        self._multi: Any = None  # llama_batch for decodes with logits at several positions

    def check_cancel(self) -> None:
        if self.flag.value:
            raise WorkerCancelled()

    def _on_load_progress(self, fraction: float, _data: Any) -> bool:
        self.progress("load", float(fraction), 1.0, None, fraction >= 1.0)
        return not self.flag.value  # False makes llama.cpp abandon the load

    def set_abort(self, on: bool) -> None:
        if on != self._abort_on:
            self.L.llama_set_abort_callback(
                self.ctx, self._abort_cb if on else self._no_abort_cb, None
            )
            self._abort_on = on

    # --- load ---------------------------------------------------------------------------------

    def free(self) -> None:
        L = self.L
        if self.ctx is not None:
            L.llama_free(self.ctx)
            self.ctx = None
        if self.model is not None:
            L.llama_model_free(self.model)
            self.model = None
        self.cached = []
        self._prefix_text, self._prefix_tokens = None, []
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
        """Load ``opts.model_path`` with a context (``opts.n_threads`` already resolved by the
        runner); returns ``ModelInfo``'s fields."""
        from engine.runtime.llamacpp.cpu_features import extra_buffers_allowed

        L = self.L
        self.free()
        self.path = str(opts.model_path)
        type_k, type_v = ggml_type(opts.type_k), ggml_type(opts.type_v)

        mp = L.llama_model_default_params()
        mp.n_gpu_layers = opts.n_gpu_layers
        mp.use_extra_bufts = extra_buffers_allowed()
        mp.progress_callback = self._load_cb
        self.progress("load", 0.0, 1.0, None, True)
        self.log.mark()
        model = L.llama_model_load_from_file(self.path.encode(), mp)
        if not model:
            self.check_cancel()
            raise Failure("model_file", self.log.reason())
        self.model = model
        self.vocab = L.llama_model_get_vocab(model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)

        threads = opts.n_threads or 1
        ctx = L.llama_init_from_model(model, self._context_params(opts, threads, type_k, type_v))
        if not ctx:
            reason = self.log.reason()
            self.free()
            raise Failure(
                "context",
                f"llama.cpp could not create a {opts.n_ctx}-token context for {self.path} "
                f"({reason}); try a smaller context, fewer GPU layers or another KV cache type.",
            )
        self.ctx = ctx
        self.mem = L.llama_get_memory(ctx)
        self.n_ctx = L.llama_n_ctx(ctx)
        self.n_batch = opts.n_batch
        self._abort_on = True
        self.set_abort(False)
        return self._describe(opts, threads)

    def _context_params(
        self, opts: LoadOptions, threads: int, type_k: int | None, type_v: int | None
    ) -> Any:
        L = self.L
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
        return cp

    def _describe(self, opts: LoadOptions, threads: int) -> dict[str, Any]:
        L = self.L
        model = self.model
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
            raise Failure("model_file", self.log.reason())
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
            raise Failure("internal", "no model is loaded in the worker")

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

    def prefix_end(self, tokens: list[int], prefix: str | None) -> int:
        """Where the caller's shared prefix ends in ``tokens`` (0 without one)."""
        if not prefix:
            return 0
        if prefix != self._prefix_text:
            self._prefix_text, self._prefix_tokens = prefix, self.tokenize(prefix, False, True)
        # The prefix's last token may merge with what follows it: use the common part.
        return common_prefix(self._prefix_tokens, tokens)

    def reuse_start(self, tokens: list[int], prefix: str | None) -> int:
        """How much of the KV cache to keep for ``tokens``.

        The longest common prefix with the cache, with two rules that keep results
        bit-for-bit reproducible: with a shared prefix, keep exactly the prefix (or nothing if
        it is not all cached); the same prompt again keeps all but its last token.
        """
        n = len(tokens)
        common = common_prefix(self.cached, tokens[: n - 1])  # the last token gives logits
        if common == n - 1 or not prefix:
            return common
        end = self.prefix_end(tokens, prefix)
        return end if common >= end else 0

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

    def decode_list(self, tokens: list[int]) -> None:
        """Evaluate ``tokens`` at the end of the cache, logits for the last one only."""
        arr = (self.L.llama_token * len(tokens))(*tokens)
        self.decode(arr, 0, len(tokens))

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
            raise WorkerCancelled()
        if rc == 1:
            raise Failure(
                "context",
                f"The model's context ({self.n_ctx} tokens) is full; load it with a larger "
                "context.",
            )
        raise Failure("internal", f"llama_decode failed with code {rc}: {self.log.reason()}")
