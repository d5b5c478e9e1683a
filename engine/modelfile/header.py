"""Strict GGUF header check, run before any file reaches llama.cpp.

Why our own reader: llama.cpp refuses a bad file only with "Failed to load model from file"
(the reason goes to its log), and only after a worker process has started; older ggml builds
trusted more of the header (huge counts and lengths were allocated before the file was found
short). The ``gguf`` package's reader can hang on crafted files. Here every count and length is
bounded by what the rest of the file could hold *before* anything is read or allocated, reads go
through one small buffer (never the whole file), a deadline bounds the total time, and each
refusal names the byte and the rule. The rules follow ggml ``docs/gguf.md`` and ``src/gguf.cpp``
(e.g. tensor data must be contiguous, in order, each tensor aligned).

File layout (little-endian)::

    magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
    n_kv  x (string key, u32 value type, value)           string = u64 length + bytes
    n_tensors x (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset)
    padding to `general.alignment` (default 32) | tensor data (offsets relative to here)
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import ModelFileError
from engine.modelfile.types import (
    ARRAY_TYPE,
    FILE_TYPES,
    GGML_TYPES,
    STRING_TYPE,
    UINT32_TYPE,
    VALUE_TYPES,
)
from engine.units import format_bytes

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# Sane maxima, far above anything real (Mixtral has 995 tensors and ~30 keys; the largest
# vocabularies have ~260k tokens; chat templates are tens of KB) and far below what would
# make a check slow or memory-hungry.
MAX_TENSORS = 1 << 16
MAX_KV = 1 << 16
MAX_KEY_LEN = (1 << 16) - 1  # gguf.md: keys are at most 65535 bytes
MAX_STRING_LEN = 1 << 24  # 16 MiB for one string value
MAX_ARRAY_LEN = 1 << 24  # numeric arrays are skipped with one seek
# strings in arrays must be walked one by one (~7M/s): this bounds that work for the whole file
# (real files: a 32k-262k token vocabulary plus up to ~500k merges)
MAX_STRING_ITEMS = 1 << 22
MAX_TENSOR_NAME = 63  # GGML_MAX_NAME is 64 including the NUL
MAX_DIMS = 4
MAX_ALIGNMENT = 1 << 20
SMALL_ARRAY = 64  # arrays up to this length are kept in `metadata`; longer ones only counted
DEFAULT_MAX_SECONDS = 5.0  # real headers take ~30 ms (Gemma: 262k tokens)

_CHUNK = 1 << 20
_U64 = struct.Struct("<Q")


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


def _count(n: int) -> str:
    """Huge crafted numbers read better as powers of two (2^60) than as 19 digits."""
    if n >= 1 << 20 and n & (n - 1) == 0:
        return f"2^{n.bit_length() - 1}"
    return f"{n:,}"


class _Reader:
    """Bounded little-endian reader over one buffer; knows the file size, so it can refuse any
    length that the rest of the file cannot hold before reading or allocating it."""

    def __init__(self, f: BinaryIO, size: int, path: Path, deadline: float, max_s: float) -> None:
        self.f = f
        self.size = size
        self.path = path
        self.deadline = deadline
        self.max_s = max_s
        self.buf = b""
        self.pos = 0  # position in buf
        self.base = 0  # file offset of buf[0]
        self.string_items = 0  # strings walked in arrays so far

    @property
    def offset(self) -> int:
        return self.base + self.pos

    @property
    def remaining(self) -> int:
        return self.size - self.offset

    def fail(self, problem: str) -> ModelFileError:
        return ModelFileError(self.path, problem)

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise self.fail(
                f"GGUF header check gave up after {self.max_s:g} s at byte {self.offset:,}; "
                "the header is implausibly large or the disk is too slow"
            )

    def _fill(self, n: int) -> None:
        """Make at least n bytes available at self.pos (n is already bounded by the file)."""
        avail = len(self.buf) - self.pos
        if avail >= n:
            return
        if n > self.remaining:
            raise self.fail(
                f"truncated header at byte {self.offset:,} (file is {self.size:,} bytes)"
            )
        self.base += self.pos
        chunk = self.f.read(max(_CHUNK, n - avail))
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        if len(self.buf) < n:  # the file shrank while we read it
            raise self.fail(f"truncated header at byte {self.offset:,} (file changed while read)")

    def take(self, n: int) -> bytes:
        self._fill(n)
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, n: int) -> Any:
        self._fill(n)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return value

    def u32(self) -> int:
        return int(self.unpack("<I", 4))

    def u64(self) -> int:
        return int(self.unpack("<Q", 8))

    def skip(self, n: int) -> None:
        if n > self.remaining:
            raise self.fail(
                f"truncated header at byte {self.offset:,} (needs {n:,} more bytes, "
                f"file is {self.size:,} bytes)"
            )
        avail = len(self.buf) - self.pos
        if n <= avail:
            self.pos += n
            return
        target = self.offset + n
        self.f.seek(target)
        self.buf, self.pos, self.base = b"", 0, target

    def length(self, what: str, limit: int, min_item: int = 1, unit: str = "bytes") -> int:
        """A u64 length/count, bounded by ``limit`` and by what the rest of the file holds
        (each item needs at least ``min_item`` bytes)."""
        at = self.offset
        n = self.u64()
        if n > limit:
            raise self.fail(f"{what} at byte {at:,} claims {_count(n)} {unit} (limit {limit:,})")
        if n * min_item > self.remaining:
            raise self.fail(
                f"truncated or corrupt header: {what} at byte {at:,} claims {_count(n)} {unit} "
                f"but only {self.remaining:,} bytes remain"
            )
        return n

    def string(self, what: str, limit: int = MAX_STRING_LEN) -> str:
        at = self.offset
        n = self.length(what, limit)
        raw = self.take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} at byte {at:,} is not valid UTF-8") from None

    def skip_strings(self, n: int, what: str) -> None:
        """Walk ``n`` strings without decoding them (tokenizer vocabularies: 30k-260k items).

        Hot loop: strings wholly inside the buffer need no bound check (the buffer holds only
        file bytes); a string that crosses the buffer's end takes the checked slow path."""
        unpack = _U64.unpack_from
        i = 0
        while i < n:
            self.check_time()
            buf, pos, end = self.buf, self.pos, len(self.buf)
            stop = min(n, i + 0x4000)
            while i < stop and pos + 8 <= end:
                nxt = pos + 8 + unpack(buf, pos)[0]
                if nxt > end:
                    break
                pos = nxt
                i += 1
            self.pos = pos
            if i < stop:  # slow path for one item
                at = self.offset
                ln = self.u64()
                if ln > MAX_STRING_LEN or ln > self.remaining:
                    raise self.fail(
                        f"truncated or corrupt header: item {i:,} of {what} at byte {at:,} "
                        f"claims {_count(ln)} bytes but only {self.remaining:,} bytes remain"
                    )
                self.skip(ln)
                i += 1


def _value_size(vtype: int) -> int:
    fmt = VALUE_TYPES[vtype][1]
    assert fmt is not None
    return struct.calcsize(fmt)


def _read_value(r: _Reader, key: str, vtype: int) -> Any:
    name, fmt = VALUE_TYPES[vtype]
    if vtype == STRING_TYPE:
        return r.string(f"string value of '{key}'")
    assert fmt is not None
    value = r.unpack(fmt, struct.calcsize(fmt))
    return bool(value) if name == "bool" else value


def _read_kv(r: _Reader, index: int, metadata: dict[str, Any], arrays: dict[str, int]) -> None:
    at = r.offset
    key = r.string(f"key {index}", MAX_KEY_LEN)
    if not key:
        raise r.fail(f"key {index} at byte {at:,} is empty")
    if key in metadata or key in arrays:
        raise r.fail(f"duplicate key '{key}' at byte {at:,}")
    vtype = r.u32()
    if vtype not in VALUE_TYPES:
        raise r.fail(f"key '{key}' has invalid value type {vtype}")
    if key == "general.alignment" and vtype != UINT32_TYPE:
        # gguf.cpp reads the alignment only as a u32
        raise r.fail(f"general.alignment has type {VALUE_TYPES[vtype][0]}, must be uint32")
    if vtype != ARRAY_TYPE:
        metadata[key] = _read_value(r, key, vtype)
        return
    etype = r.u32()
    if etype not in VALUE_TYPES or etype == ARRAY_TYPE:
        # llama.cpp rejects nested arrays too
        raise r.fail(f"array '{key}' has invalid element type {etype}")
    min_item = 8 if etype == STRING_TYPE else _value_size(etype)
    limit = MAX_STRING_ITEMS - r.string_items if etype == STRING_TYPE else MAX_ARRAY_LEN
    n = r.length(f"array '{key}'", limit, min_item, "items")
    arrays[key] = n
    if n <= SMALL_ARRAY:
        metadata[key] = [_read_value(r, key, etype) for _ in range(n)]
    elif etype == STRING_TYPE:
        r.string_items += n
        r.skip_strings(n, f"array '{key}'")
    else:
        r.skip(n * min_item)


def _read_tensor(r: _Reader, index: int, names: set[str]) -> tuple[str, tuple[int, ...], int, int]:
    at = r.offset
    name = r.string(f"name of tensor {index}", MAX_TENSOR_NAME)
    if not name:
        raise r.fail(f"tensor {index} at byte {at:,} has an empty name")
    if name in names:
        raise r.fail(f"duplicate tensor name '{name}' at byte {at:,}")
    names.add(name)
    n_dims = r.u32()
    if not 1 <= n_dims <= MAX_DIMS:
        raise r.fail(f"tensor '{name}' has {n_dims} dimensions (must be 1 to {MAX_DIMS})")
    dims = tuple(r.u64() for _ in range(n_dims))
    n_elements = 1
    for d in dims:
        # ggml divides by each dimension when it checks the element count
        if d == 0 or d >= 1 << 63:
            raise r.fail(f"tensor '{name}' has invalid dimension {_count(d)} in shape {dims}")
        n_elements *= d
    if n_elements >= 1 << 63:
        raise r.fail(f"tensor '{name}' shape {dims} has too many elements")
    gtype = r.u32()
    return name, dims, gtype, r.u64()


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
    r = _Reader(f, size, path, deadline, max_s)
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
            raise r.fail(f"{cut}claims {_count(n)} {what} but the file is {_human_bytes(size)}")

    metadata: dict[str, Any] = {}
    arrays: dict[str, int] = {}
    for i in range(n_kv):
        r.check_time()
        _read_kv(r, i, metadata, arrays)

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
        raw_tensors.append(_read_tensor(r, i, names))

    data_offset = _pad(r.offset, alignment)
    data_size = size - data_offset
    if data_size < 0:
        raise r.fail(f"truncated file: tensor data should start at byte {data_offset:,}")

    tensors = _tensor_layout(r, raw_tensors, size, data_offset, alignment)
    return _header(path, size, version, n_kv, alignment, data_offset, metadata, arrays, tensors)


def _tensor_layout(
    r: _Reader,
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
