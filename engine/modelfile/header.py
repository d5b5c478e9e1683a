"""Strict GGUF header check, run before any file reaches llama.cpp.

Why our own reader: llama.cpp refuses a bad file only with "Failed to load model from file"
(the reason goes to its log), and only after a worker process has started; older ggml builds
trusted more of the header (huge counts and lengths were allocated before the file was found
short). The ``gguf`` package's reader can hang on crafted files. Here every count and length is
bounded by what the rest of the file could hold *before* anything is read or allocated, reads go
through one small buffer (never the whole file), a deadline bounds the total time, and each
refusal names the byte and the rule. The rules follow ggml ``docs/gguf.md`` and
``src/gguf.cpp`` (e.g. tensor data must be contiguous, in order, each tensor aligned).

The bounded byte reader (values, strings, key/value pairs, tensor infos) is
``engine.modelfile.reader``; here: the file-level checks, the tensor layout and the summary of
the metadata (``GGUFHeader``).

File layout (little-endian)::

    magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
    n_kv  x (string key, u32 value type, value)           string = u64 length + bytes
    n_tensors x (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset)
    padding to `general.alignment` (default 32) | tensor data (offsets relative to here)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import ModelFileError
from engine.modelfile.reader import Reader, count, read_kv, read_tensor
from engine.modelfile.types import (
    FILE_TYPES,
    GGML_TYPES,
)
from engine.units import format_bytes

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# Sane maxima, far above anything real (Mixtral has 995 tensors and ~30 keys; the largest
# vocabularies have ~260k tokens; chat templates are tens of KB) and far below what would
# make a check slow or memory-hungry (the limits on lengths and strings: ``reader``).
MAX_TENSORS = 1 << 16
MAX_KV = 1 << 16
MAX_ALIGNMENT = 1 << 20
DEFAULT_MAX_SECONDS = 5.0  # real headers take ~30 ms (Gemma: 262k tokens)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # ggml order: shape[0] is the row length
    ggml_type: str
    offset: int  # relative to the start of the data section
    n_bytes: int


@dataclass(frozen=True)
class GGUFHeader:
    path: Path
    file_bytes: int
    version: int
    n_tensors: int
    n_kv: int
    alignment: int
    data_offset: int  # absolute file offset of the tensor data section
    tensor_data_bytes: int  # sum of all tensors' sizes
    metadata: dict[str, Any]  # scalars, strings and arrays of <= SMALL_ARRAY items
    array_lengths: dict[str, int]  # every array key -> its length (long ones are skipped)
    tensors: tuple[TensorInfo, ...]
    architecture: str | None
    name: str | None
    file_type: int | None  # raw general.file_type
    quant: str | None  # "Q4_K_M" etc.: from general.file_type, else the dominant tensor type
    context_length: int | None
    block_count: int | None
    embedding_length: int | None
    feed_forward_length: int | None
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None
    expert_count: int | None
    expert_used_count: int | None
    sliding_window: int | None
    vocab_size: int | None
    chat_template: str | None = field(default=None, repr=False)

    def tensor_bytes(self, prefix: str) -> int:
        """Bytes of all tensors whose name starts with ``prefix`` (e.g. ``"token_embd."``)."""
        return sum(t.n_bytes for t in self.tensors if t.name.startswith(prefix))


def _human_bytes(n: int) -> str:
    return format_bytes(n)


def _pad(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _per_layer_or_scalar(value: Any) -> int | None:
    """Some keys may be per-layer arrays (e.g. head_count_kv); the planner wants the maximum."""
    if isinstance(value, list) and value and all(_int_or_none(v) is not None for v in value):
        return max(int(v) for v in value)
    return _int_or_none(value)


def check_gguf(path: Path | str, *, max_seconds: float = DEFAULT_MAX_SECONDS) -> GGUFHeader:
    """Validate the GGUF header of ``path`` and return what it declares.

    Raises ``ModelFileError(path, problem)`` for anything llama.cpp should not be shown:
    wrong magic or version, counts or lengths the file cannot hold, invalid types, tensor
    offsets outside the file. Never reads tensor data and never allocates more than the
    buffer plus the small metadata it keeps.
    """
    path = Path(path)
    deadline = time.monotonic() + max_seconds
    try:
        if not path.exists():
            raise ModelFileError(path, "model file not found")
        if not path.is_file():  # a FIFO or device would block the read
            raise ModelFileError(path, "not a regular file")
        size = path.stat().st_size
        if size == 0:
            raise ModelFileError(path, "empty file (0 bytes): not a GGUF file")
        with open(path, "rb", buffering=0) as f:
            return _check(f, size, path, deadline, max_seconds)
    except OSError as exc:
        raise ModelFileError(path, f"cannot read the file: {exc.strerror or exc}") from exc


def _check(f: BinaryIO, size: int, path: Path, deadline: float, max_s: float) -> GGUFHeader:
    r = Reader(f, size, path, deadline, max_s)
    head = f.read(min(size, 4))
    if head != MAGIC:
        raise r.fail(f"not a GGUF file (bad magic {head!r})")
    r.base = 4
    if size < 24:
        raise r.fail(f"truncated header at byte 4 (file is only {size} bytes)")
    version = r.u32()
    if version not in SUPPORTED_VERSIONS:
        if version & 0xFFFF == 0:
            raise r.fail(f"unsupported GGUF version {version:#x} (a big-endian GGUF file?)")
        if version == 1:
            raise r.fail("unsupported GGUF version 1 (too old: re-download or re-convert)")
        raise r.fail(f"unsupported GGUF version {version}")

    n_tensors = r.u64()
    n_kv = r.u64()
    # cheapest possible entries: a tensor info is >= 8+1+4+8+4+8 bytes, a KV >= 8+1+4+1
    for n, what, limit, min_bytes in (
        (n_tensors, "tensors", MAX_TENSORS, 33),
        (n_kv, "metadata keys", MAX_KV, 14),
    ):
        if n > limit or n * min_bytes > r.remaining:
            # a plausible count in a short file is a cut download, not a crafted header
            cut = "truncated or corrupt header: " if n <= limit else ""
            raise r.fail(f"{cut}claims {count(n)} {what} but the file is {_human_bytes(size)}")

    metadata: dict[str, Any] = {}
    arrays: dict[str, int] = {}
    for i in range(n_kv):
        r.check_time()
        read_kv(r, i, metadata, arrays)

    alignment = DEFAULT_ALIGNMENT
    if "general.alignment" in metadata:
        value = int(metadata["general.alignment"])  # a uint32, checked in _read_kv
        if value <= 0 or value & (value - 1) or value > MAX_ALIGNMENT:
            raise r.fail(f"general.alignment {value} is not a power of two up to {MAX_ALIGNMENT}")
        alignment = value

    raw_tensors = []
    names: set[str] = set()
    for i in range(n_tensors):
        if i & 0xFF == 0:
            r.check_time()
        raw_tensors.append(read_tensor(r, i, names))

    data_offset = _pad(r.offset, alignment)
    data_size = size - data_offset
    if data_size < 0:
        raise r.fail(f"truncated file: tensor data should start at byte {data_offset:,}")

    tensors = _tensor_layout(r, raw_tensors, size, data_offset, alignment)
    return _header(path, size, version, n_kv, alignment, data_offset, metadata, arrays, tensors)


def _tensor_layout(
    r: Reader,
    raw_tensors: list[tuple[str, tuple[int, ...], int, int]],
    size: int,
    data_offset: int,
    alignment: int,
) -> list[TensorInfo]:
    """Check each tensor's type, row size and data range (in the file, aligned, packed in
    order as llama.cpp requires); the tensors with their byte sizes."""
    data_size = size - data_offset
    tensors = []
    expected = 0
    for name, dims, gtype, offset in raw_tensors:
        if gtype not in GGML_TYPES:
            raise r.fail(f"tensor '{name}' has unknown ggml type {gtype}")
        tname, block, block_bytes = GGML_TYPES[gtype]
        if dims[0] % block:
            raise r.fail(
                f"tensor '{name}' ({tname}) has rows of {dims[0]} elements, "
                f"not a multiple of the block size {block}"
            )
        n_elements = 1
        for d in dims:
            n_elements *= d
        n_bytes = n_elements // block * block_bytes
        if offset + n_bytes > data_size:
            raise r.fail(
                f"tensor '{name}' data ends past the end of the file "
                f"(needs {data_offset + offset + n_bytes:,} bytes, file is {size:,}): "
                "truncated or incomplete download"
            )
        if offset % alignment:
            raise r.fail(f"tensor '{name}' data offset {offset:,} is not aligned to {alignment}")
        # llama.cpp requires the tensors packed in order
        if offset != expected:
            raise r.fail(
                f"tensor '{name}' has data offset {offset:,}, expected {expected:,} "
                "(tensor data must be contiguous)"
            )
        expected = _pad(offset + n_bytes, alignment)
        tensors.append(TensorInfo(name, dims, tname, offset, n_bytes))

    return tensors


def _header(
    path: Path,
    size: int,
    version: int,
    n_kv: int,
    alignment: int,
    data_offset: int,
    md: dict[str, Any],
    arrays: dict[str, int],
    tensors: list[TensorInfo],
) -> GGUFHeader:
    arch = md.get("general.architecture")
    arch = arch if isinstance(arch, str) else None

    def arch_int(suffix: str) -> int | None:
        return _per_layer_or_scalar(md.get(f"{arch}.{suffix}")) if arch else None

    file_type = _int_or_none(md.get("general.file_type"))
    quant = FILE_TYPES.get(file_type) if file_type is not None else None
    if quant is None and tensors:
        # no (known) file type: name the type holding most of the bytes
        by_type: dict[str, int] = {}
        for t in tensors:
            by_type[t.ggml_type] = by_type.get(t.ggml_type, 0) + t.n_bytes
        quant = max(by_type, key=lambda k: by_type[k])

    vocab = arch_int("vocab_size") or arrays.get("tokenizer.ggml.tokens")
    name = md.get("general.name")
    template = md.get("tokenizer.chat_template")
    return GGUFHeader(
        path=path,
        file_bytes=size,
        version=version,
        n_tensors=len(tensors),
        n_kv=n_kv,
        alignment=alignment,
        data_offset=data_offset,
        tensor_data_bytes=sum(t.n_bytes for t in tensors),
        metadata=md,
        array_lengths=arrays,
        tensors=tuple(tensors),
        architecture=arch,
        name=name if isinstance(name, str) else None,
        file_type=file_type,
        quant=quant,
        context_length=arch_int("context_length"),
        block_count=arch_int("block_count"),
        embedding_length=arch_int("embedding_length"),
        feed_forward_length=arch_int("feed_forward_length"),
        head_count=arch_int("attention.head_count"),
        head_count_kv=arch_int("attention.head_count_kv"),
        key_length=arch_int("attention.key_length"),
        expert_count=arch_int("expert_count"),
        expert_used_count=arch_int("expert_used_count"),
        sliding_window=arch_int("attention.sliding_window"),
        vocab_size=vocab,
        chat_template=template if isinstance(template, str) else None,
    )
