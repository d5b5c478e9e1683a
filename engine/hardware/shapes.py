"""Model shapes (layers, heads, vocabulary) and the sizes derived from them: KV cache,
compute buffer, and how a file's bytes split into embeddings, output and layers.

May import: ``engine.modelfile.header`` (header types) and the ground floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.errors import ConfigError, ModelError, ModelFileError
from engine.modelfile.header import GGUFHeader

# bytes per cached K/V element; quantized caches need flash attention in llama.cpp
KV_TYPE_BYTES: dict[str, float] = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q5_1": 24 / 32,
    "q5_0": 22 / 32,
    "q4_1": 20 / 32,
    "q4_0": 18 / 32,
}
_UNQUANTIZED_KV = ("f32", "f16", "bf16")

# --- model shapes -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ModelShape:
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_vocab: int
    n_ff: int
    expert_count: int = 0  # 0 for dense models
    expert_used_count: int = 0
    n_ctx_train: int = 0
    sliding_window: int = 0  # 0: none (informational: llama.cpp keeps full-size caches)
    # exact bytes from a GGUF header; None -> estimated from the file size
    token_embd_bytes: int | None = None
    output_bytes: int | None = None
    tied_embeddings: bool = False  # no output.weight: llama.cpp reuses token_embd for output

    def layer_params(self) -> int:
        attn = self.n_embd * self.head_dim * 2 * (self.n_head + self.n_head_kv)
        ffn = 3 * self.n_embd * self.n_ff * max(1, self.expert_count)
        router = self.n_embd * self.expert_count
        return attn + ffn + router + 2 * self.n_embd

    def n_params(self) -> int:
        embd = self.n_vocab * self.n_embd * (1 if self.tied_embeddings else 2)
        return self.n_layer * self.layer_params() + embd

    def kv_bytes_per_token(self, kv_type: str = "f16") -> float:
        return 2 * self.n_layer * self.n_head_kv * self.head_dim * _kv_type_bytes(kv_type)


KNOWN_SHAPES: dict[str, ModelShape] = {
    # Mistral-7B-Instruct v0.1-v0.3 (v0.3's vocabulary is 32768; v0.1's 4096 sliding window is
    # not used by llama.cpp's llama architecture)
    "mistral-7b": ModelShape(
        n_layer=32,
        n_embd=4096,
        n_head=32,
        n_head_kv=8,
        head_dim=128,
        n_vocab=32768,
        n_ff=14336,
        n_ctx_train=32768,
    ),
    "mixtral-8x7b": ModelShape(
        n_layer=32,
        n_embd=4096,
        n_head=32,
        n_head_kv=8,
        head_dim=128,
        n_vocab=32000,
        n_ff=14336,
        expert_count=8,
        expert_used_count=2,
        n_ctx_train=32768,
    ),
    # Gemma 3 270M (the default model), from its GGUF header: tied embeddings, 262k vocabulary
    "gemma3-270m": ModelShape(
        n_layer=18,
        n_embd=640,
        n_head=4,
        n_head_kv=1,
        head_dim=256,
        n_vocab=262144,
        n_ff=2048,
        n_ctx_train=32768,
        sliding_window=512,
        tied_embeddings=True,
    ),
}


def known_shape(name: str) -> ModelShape:
    try:
        return KNOWN_SHAPES[name]
    except KeyError:
        known = ", ".join(sorted(KNOWN_SHAPES))
        raise ModelError(f"Unknown model shape '{name}' (known: {known}).") from None


def shape_from_header(h: GGUFHeader) -> ModelShape:
    """The planner's view of a checked GGUF, with exact embedding/output sizes."""
    missing = [
        key
        for key, value in (
            ("block_count", h.block_count),
            ("embedding_length", h.embedding_length),
            ("attention.head_count", h.head_count),
        )
        if not value
    ]
    if missing:
        arch = h.architecture or "<architecture>"
        keys = ", ".join(f"{arch}.{k}" for k in missing)
        raise ModelFileError(h.path, f"GGUF metadata lacks {keys}: cannot plan memory use")
    n_layer, n_embd, n_head = (
        int(h.block_count or 0),
        int(h.embedding_length or 0),
        int(h.head_count or 0),
    )
    n_vocab = h.vocab_size or 0
    if not n_vocab:
        emb = next((t for t in h.tensors if t.name == "token_embd.weight"), None)
        n_vocab = emb.shape[-1] if emb else 0
    names = {t.name for t in h.tensors}
    tied = "output.weight" not in names
    return ModelShape(
        n_layer=n_layer,
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=h.head_count_kv or n_head,
        head_dim=h.key_length or n_embd // n_head,
        n_vocab=n_vocab,
        n_ff=h.feed_forward_length or 0,
        expert_count=h.expert_count or 0,
        expert_used_count=h.expert_used_count or 0,
        n_ctx_train=h.context_length or 0,
        sliding_window=h.sliding_window or 0,
        token_embd_bytes=h.tensor_bytes("token_embd.weight"),
        output_bytes=0 if tied else h.tensor_bytes("output.weight"),
        tied_embeddings=tied,
    )


# --- sizing -----------------------------------------------------------------------------------


def _kv_type_bytes(kv_type: str) -> float:
    try:
        return KV_TYPE_BYTES[kv_type]
    except KeyError:
        known = ", ".join(KV_TYPE_BYTES)
        raise ConfigError(f"Unknown KV cache type '{kv_type}' (use one of {known}).") from None


def kv_cache_bytes(shape: ModelShape, n_ctx: int, kv_type: str = "f16") -> int:
    """2 (K and V) x n_layer x n_ctx x n_head_kv x head_dim x bytes per element."""
    return math.ceil(shape.kv_bytes_per_token(kv_type) * n_ctx)


def compute_buffer_bytes(
    shape: ModelShape, n_ctx: int, *, n_ubatch: int = 512, flash_attn: bool = False
) -> int:
    """Estimated compute buffer of one device; see the module docstring.

    ggml's allocator reuses memory between ops, so the peak is the larger of the logits
    (n_vocab per token) and the attention of one layer (without flash attention: the f32 KQ
    scores, n_head x n_ctx per token, plus the f32 mask; with it: an f16 mask), plus a few
    residual-stream and FFN activations. Calibrated against llama.cpp's own "compute buffer
    size" on CPU (tests/hardware/test_hardware.py): within a few percent.
    """
    n_ff = shape.n_ff * max(1, shape.expert_used_count)
    attn = n_ctx // 2 if flash_attn else n_ctx * (shape.n_head + 1)
    per_token = max(shape.n_vocab, attn) + 4 * shape.n_embd + 2 * n_ff
    return 4 * n_ubatch * per_token


def host_compute_bytes(shape: ModelShape, *, n_ubatch: int = 512) -> int:
    return 4 * n_ubatch * (shape.n_embd + shape.n_vocab)


def weight_split(shape: ModelShape, file_bytes: int) -> tuple[int, int, int]:
    """(token_embd bytes, output bytes, bytes per repeating layer) for a file of this size."""
    if shape.token_embd_bytes is not None:
        embd = shape.token_embd_bytes
        out = 0 if shape.tied_embeddings else (shape.output_bytes or 0)
    else:
        # no header: spread the file over the parameters at its average bits per weight
        per_param = file_bytes / max(1, shape.n_params())
        embd = int(shape.n_vocab * shape.n_embd * per_param)
        out = 0 if shape.tied_embeddings else embd
    layer = max(0, file_bytes - embd - out) // max(1, shape.n_layer)
    return embd, out, layer
