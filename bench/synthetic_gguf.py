"""Random-weight llama / Mixtral-shaped GGUF files that real llama.cpp loads.

Used by the tests (tiny models, milliseconds to write and load) and by the benchmark (full-size
Mistral-7B / Mixtral-8x7B shapes, quantized, so GPU speed and VRAM can be measured without
downloading weights). Files are written tensor by tensor in bounded chunks (never the whole model
in RAM) to a temp file that replaces ``path`` only when complete.

The tokenizer is a SentencePiece-style ``llama`` vocab like Mistral v0.3's: ``<unk>``, ``<s>``,
``</s>``, ``[INST]``, ``[/INST]`` as control tokens, the 256 byte tokens (so every string is
encodable and any grammar can be satisfied), printable ASCII, and prefix-closed English / JSON
pieces so that text tokenizes into reasonable pieces. ``python -m bench.synthetic_gguf`` writes
one from the command line.
"""

from __future__ import annotations

import argparse
import itertools
import os
import string
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from engine.progress import CancelToken, Progress, ProgressCallback, check, emit

Quant = Literal["F32", "F16", "Q8_0", "Q4_0"]
QUANTS: tuple[Quant, ...] = ("F32", "F16", "Q8_0", "Q4_0")

WEIGHT_STD = 0.02  # small: finite logits, near-flat distributions, diverse sampling
_CHUNK_VALUES = 1 << 24  # values generated per write (64 MiB as float32)
_QK = 32  # values per Q4_0 / Q8_0 block


@dataclass(frozen=True)
class Shape:
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int  # < n_head: grouped-query attention
    n_ff: int  # per expert for MoE shapes
    n_vocab: int
    n_ctx_train: int
    expert_count: int = 0  # 0 = dense
    expert_used_count: int = 0
    rope_theta: float = 1_000_000.0
    sliding_window: int | None = None
    name: str = "synthetic"

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head or self.n_head % self.n_head_kv:
            raise ValueError(f"{self.name}: n_embd, n_head and n_head_kv do not divide evenly")
        if self.expert_count and not 0 < self.expert_used_count <= self.expert_count:
            raise ValueError(f"{self.name}: expert_used_count must be in 1..expert_count")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


# Mistral-like: GQA (4 query heads share 2 KV heads), 32k training context, rope theta 1e6.
TINY_LLAMA = Shape(2, 64, 4, 2, n_ff=128, n_vocab=1280, n_ctx_train=32768, name="tiny-llama")
TINY_MOE = replace(TINY_LLAMA, n_ff=96, expert_count=4, expert_used_count=2, name="tiny-moe")
# Mistral-7B-Instruct v0.2/v0.3 and Mixtral-8x7B (v0.1 adds sliding_window=4096, theta 1e4).
MISTRAL_7B = Shape(32, 4096, 32, 8, n_ff=14336, n_vocab=32000, n_ctx_train=32768, name="mistral-7b")
MIXTRAL_8X7B = replace(MISTRAL_7B, expert_count=8, expert_used_count=2, name="mixtral-8x7b")
PRESETS: dict[str, Shape] = {s.name: s for s in (TINY_LLAMA, TINY_MOE, MISTRAL_7B, MIXTRAL_8X7B)}

# Mistral v0.3-style template (system text goes before the first user message).
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}"
    "{%- else %}{%- set loop_messages = messages %}{%- endif %}"
    "{{- bos_token }}"
    "{%- for message in loop_messages %}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif %}"
    "{%- if message['role'] == 'user' %}"
    "{%- if loop.first and system_message is defined %}"
    "{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + '[/INST]' }}"
    "{%- else %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- endif %}"
    "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token }}"
    "{%- else %}{{- raise_exception('Only user and assistant roles are supported') }}{%- endif %}"
    "{%- endfor %}"
)

# --- tokenizer ----------------------------------------------------------------------------------

SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "[INST]", "[/INST]")
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
_SP = "\u2581"  # SentencePiece's space marker
_TYPE_NORMAL, _TYPE_UNKNOWN, _TYPE_CONTROL, _TYPE_BYTE = 1, 2, 3, 6

_WORDS: list[str] = """
the of and to a in is that for it with as on this be are or by we you can at from not have an
which but so if one all will what there they more when use its your about how these into has
some do our than then them only other also time just like new very way first two three four five
data code function model value system memory type class object file test list string number
program run call return example language problem question answer point talk video section
introduction summary title content topics topic general complexity part idea design simple
important different because each used using here now need make see know think going really
right get well look want thing things people work let me my i so okay yes don't it's that's
computer science software engineering learning machine network security database web
performance compiler algorithm graph tree array loop state process thread server client user
Section Rust Python JavaScript C Java Go API HTTP JSON SQL GPU CPU
""".split()  # noqa: SIM905
_KEYS = ["introduction", "sections", "title", "content", "topics", "general_topics", "topic"]
_KEYS += ["complexity", "Section"]
_PIECES: list[str] = """
{" ": ":" "," "} "] [" }, }] {"title":" ,"content":[" "],"topics":[" "topic":" "complexity":
0. 1. 00 .0 ing ed er es tion ly ent al re th he in an on at en is or it st nd
""".split()  # noqa: SIM905
_EXTRA_CHARS = "’‘“”—–…éèàüöäç•→"


def _prefix_closed(pieces: list[str]) -> list[str]:
    """Every piece with all its prefixes (>= 2 chars), so SPM's pairwise merges can reach it."""
    out: dict[str, None] = {}
    for piece in pieces:
        for i in range(2, len(piece) + 1):
            out.setdefault(piece[:i], None)
    return list(out)


def _curated_normal_tokens() -> list[str]:
    chars = [_SP, *(c for c in string.printable[:94]), *_EXTRA_CHARS]
    words = [_SP + w for w in _WORDS] + _KEYS + [_SP + k for k in _KEYS] + _PIECES
    merged = [t for t in _prefix_closed(words) if t not in set(chars)]
    return list(dict.fromkeys(chars + merged))


def _base_vocab_size() -> int:
    return len(SPECIAL_TOKENS) + 256 + len(_curated_normal_tokens())


def _filler_tokens() -> Iterator[str]:
    """Deterministic letter n-grams (with and without a space marker) to pad the vocab."""
    letters = string.ascii_lowercase
    for n in itertools.count(2):
        for combo in itertools.product(letters, repeat=n):
            word = "".join(combo)
            yield _SP + word
            yield word


def build_vocab(n_vocab: int) -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types of a llama/SPM vocab of exactly ``n_vocab`` entries."""
    tokens = list(SPECIAL_TOKENS)
    types = [_TYPE_UNKNOWN] + [_TYPE_CONTROL] * (len(SPECIAL_TOKENS) - 1)
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [_TYPE_BYTE] * 256
    scores = [0.0] * len(tokens)
    normal = _curated_normal_tokens()
    if len(tokens) + len(normal) > n_vocab:
        raise ValueError(f"n_vocab {n_vocab} is below the minimum {_base_vocab_size()}")
    seen = set(tokens) | set(normal)
    fillers = (t for t in _filler_tokens() if t not in seen)
    normal += list(itertools.islice(fillers, n_vocab - len(tokens) - len(normal)))
    tokens += normal
    scores += [-float(i) for i in range(len(normal))]  # earlier = merged first
    types += [_TYPE_NORMAL] * len(normal)
    return tokens, scores, types


# --- tensors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]  # numpy order: the last dim is ggml's ne0 (row length)
    kind: Literal["ones", "normal"]
    quantize: bool  # False: always F32 (norms, MoE router)


def _tensors(s: Shape) -> list[_Tensor]:
    e, hd, ff, ne = s.n_embd, s.head_dim, s.n_ff, s.expert_count
    out = [_Tensor("token_embd.weight", (s.n_vocab, e), "normal", True)]
    for i in range(s.n_layer):
        b = f"blk.{i}."
        out += [
            _Tensor(b + "attn_norm.weight", (e,), "ones", False),
            _Tensor(b + "attn_q.weight", (s.n_head * hd, e), "normal", True),
            _Tensor(b + "attn_k.weight", (s.n_head_kv * hd, e), "normal", True),
            _Tensor(b + "attn_v.weight", (s.n_head_kv * hd, e), "normal", True),
            _Tensor(b + "attn_output.weight", (e, s.n_head * hd), "normal", True),
            _Tensor(b + "ffn_norm.weight", (e,), "ones", False),
        ]
        if ne:
            out += [
                _Tensor(b + "ffn_gate_inp.weight", (ne, e), "normal", False),
                _Tensor(b + "ffn_gate_exps.weight", (ne, ff, e), "normal", True),
                _Tensor(b + "ffn_up_exps.weight", (ne, ff, e), "normal", True),
                _Tensor(b + "ffn_down_exps.weight", (ne, e, ff), "normal", True),
            ]
        else:
            out += [
                _Tensor(b + "ffn_gate.weight", (ff, e), "normal", True),
                _Tensor(b + "ffn_up.weight", (ff, e), "normal", True),
                _Tensor(b + "ffn_down.weight", (e, ff), "normal", True),
            ]
    out += [
        _Tensor("output_norm.weight", (e,), "ones", False),
        _Tensor("output.weight", (s.n_vocab, e), "normal", True),
    ]
    return out


def _block_dtype(quant: Quant) -> np.dtype:
    if quant == "Q4_0":  # fp16 scale + 32 4-bit values; value = (nibble - 8) * d
        return np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
    return np.dtype([("d", "<f2"), ("qs", "i1", (_QK,))])  # Q8_0: value = q * d


def _tensor_type(t: _Tensor, quant: Quant) -> Quant:
    return quant if t.quantize else "F32"


def _nbytes(t: _Tensor, qtype: Quant) -> int:
    n = int(np.prod(t.shape))
    if qtype == "F32":
        return 4 * n
    if qtype == "F16":
        return 2 * n
    return n // _QK * _block_dtype(qtype).itemsize


def tensor_bytes(shape: Shape, quant: Quant = "F32") -> int:
    """Bytes of tensor data ``write_gguf`` writes (the file adds metadata and padding)."""
    return sum(_nbytes(t, _tensor_type(t, quant)) for t in _tensors(shape))


def _chunks(t: _Tensor, qtype: Quant, rng: np.random.Generator) -> Iterator[bytes]:
    """The tensor's data in bounded pieces, generated row block by row block."""
    cols = t.shape[-1]
    rows = int(np.prod(t.shape[:-1]))
    if t.kind == "ones":
        yield np.ones(rows * cols, dtype=np.float32).tobytes()
        return
    step = max(1, _CHUNK_VALUES // cols)
    for r0 in range(0, rows, step):
        n = min(step, rows - r0) * cols
        if qtype in ("F32", "F16"):
            x = rng.standard_normal(n, dtype=np.float32)
            x *= WEIGHT_STD
            yield (x if qtype == "F32" else x.astype(np.float16)).tobytes()
            continue
        # Random quantized blocks: uniform codes, fp16 scales of random sign (zero mean) whose
        # magnitude gives the weights a standard deviation of about WEIGHT_STD.
        blocks = np.empty(n // _QK, dtype=_block_dtype(qtype))
        code_std = 4.61 if qtype == "Q4_0" else 73.3  # std of uniform nibble-8 / int8 codes
        d = rng.uniform(0.5, 1.5, blocks.size).astype(np.float32) * (WEIGHT_STD / code_std)
        d *= rng.choice(np.array([-1.0, 1.0], dtype=np.float32), blocks.size)
        blocks["d"] = d.astype(np.float16)
        raw = np.frombuffer(rng.bytes(blocks.size * blocks["qs"].shape[1]), dtype=np.uint8)
        qs = raw.reshape(blocks.size, -1)
        if qtype == "Q8_0":
            qs = np.maximum(qs.view(np.int8), -127)  # -128 breaks some SIMD sign tricks
        blocks["qs"] = qs
        yield blocks.tobytes()


# --- writing ------------------------------------------------------------------------------------

_FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7}  # gguf.LlamaFileType


def _pad(f: BinaryIO, align: int) -> None:
    f.write(b"\0" * (-f.tell() % align))


def write_gguf(
    path: Path,
    shape: Shape,
    *,
    quant: Quant = "F32",
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    chat_template: str | None = CHAT_TEMPLATE,
    architecture: str = "llama",
    head_count: int | None = None,
    omit_tensors: Collection[str] = (),
    tensor_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> Path:
    """Write a random-weight llama-architecture GGUF of ``shape`` to ``path`` and return it.

    Norms are 1, other weights ~N(0, 0.02) (quantized types: random codes with matching fp16
    scales). Deterministic for a given ``seed``. Raises ``Cancelled`` and leaves nothing behind
    when ``cancel`` fires.

    Faults for tests (a well-formed GGUF that llama.cpp should refuse): another
    ``architecture`` name, a ``head_count`` in the metadata that differs from the shape's,
    ``omit_tensors`` (names), ``tensor_shapes`` (name -> numpy-order shape); ``chat_template``
    None writes none.
    """
    import gguf

    if quant not in QUANTS:
        raise ValueError(f"quant must be one of {', '.join(QUANTS)}, not {quant!r}")
    tensors = [
        replace(t, shape=(tensor_shapes or {}).get(t.name, t.shape))
        for t in _tensors(shape)
        if t.name not in omit_tensors
    ]
    if quant in ("Q4_0", "Q8_0"):
        bad = [t.name for t in tensors if t.quantize and t.shape[-1] % _QK]
        if bad:
            raise ValueError(f"{quant} needs rows that are multiples of {_QK}: {bad[0]}")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    w = gguf.GGUFWriter(tmp, architecture)
    try:
        w.add_name(f"vidsum synthetic {shape.name} {quant}")
        w.add_file_type(_FILE_TYPE[quant])
        if quant in ("Q4_0", "Q8_0"):
            w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        w.add_vocab_size(shape.n_vocab)
        w.add_context_length(shape.n_ctx_train)
        w.add_embedding_length(shape.n_embd)
        w.add_block_count(shape.n_layer)
        w.add_feed_forward_length(shape.n_ff)
        w.add_head_count(shape.n_head if head_count is None else head_count)
        w.add_head_count_kv(shape.n_head_kv)
        w.add_rope_dimension_count(shape.head_dim)
        w.add_rope_freq_base(shape.rope_theta)
        w.add_layer_norm_rms_eps(1e-5)
        if shape.expert_count:
            w.add_expert_count(shape.expert_count)
            w.add_expert_used_count(shape.expert_used_count)
        if shape.sliding_window is not None:
            w.add_sliding_window(shape.sliding_window)

        tokens, scores, types = build_vocab(shape.n_vocab)
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
        w.add_unk_token_id(UNK_ID)
        w.add_bos_token_id(BOS_ID)
        w.add_eos_token_id(EOS_ID)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
        if chat_template is not None:
            w.add_chat_template(chat_template)

        qtypes = {t.name: _tensor_type(t, quant) for t in tensors}
        for t in tensors:
            q = qtypes[t.name]
            if q == "F32":
                w.add_tensor_info(t.name, t.shape, np.dtype(np.float32), _nbytes(t, q))
            elif q == "F16":
                w.add_tensor_info(t.name, t.shape, np.dtype(np.float16), _nbytes(t, q))
            else:  # logical shape with a raw type: the writer stores it as given
                raw = gguf.GGMLQuantizationType[q]
                w.add_tensor_info(t.name, t.shape, np.dtype(np.float32), _nbytes(t, q), raw)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        assert w.fout is not None
        f = w.fout[0]
        align = w.data_alignment

        rng = np.random.default_rng(seed)
        total = sum(_nbytes(t, qtypes[t.name]) for t in tensors)
        done, t0 = 0, time.monotonic()
        for t in tensors:
            _pad(f, align)
            for chunk in _chunks(t, qtypes[t.name], rng):
                check(cancel)
                f.write(chunk)
                done += len(chunk)
                rate = done / max(time.monotonic() - t0, 1e-9)
                emit(progress, Progress("store", done, total, rate, "B", t.name, item=path.name))
        _pad(f, align)
        w.close()
        os.replace(tmp, path)
    except BaseException:
        w.close()
        tmp.unlink(missing_ok=True)
        raise
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write a random-weight llama/Mixtral-shaped GGUF.")
    p.add_argument("out", type=Path)
    p.add_argument("--preset", choices=sorted(PRESETS), default=TINY_LLAMA.name)
    p.add_argument("--quant", choices=QUANTS, default="F32")
    p.add_argument("--layers", type=int, help="override the preset's n_layer")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    shape = PRESETS[a.preset]
    if a.layers:
        shape = replace(shape, n_layer=a.layers)
    t0 = time.monotonic()
    write_gguf(a.out, shape, quant=a.quant, seed=a.seed)
    dt = time.monotonic() - t0
    print(f"{a.out}: {a.out.stat().st_size / 2**30:.2f} GiB in {dt:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
