"""The bounded GGUF byte reader under ``header.check_gguf``: little-endian values, strings,
key/value pairs and tensor infos, each length or count refused (with its byte offset) before
anything is read or allocated when the rest of the file cannot hold it.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any, BinaryIO

from engine.errors import ModelFileError
from engine.modelfile.types import ARRAY_TYPE, STRING_TYPE, UINT32_TYPE, VALUE_TYPES

# Sane maxima (see ``header``): far above anything real, far below a slow or hungry check.
MAX_KEY_LEN = (1 << 16) - 1  # gguf.md: keys are at most 65535 bytes
MAX_STRING_LEN = 1 << 24  # 16 MiB for one string value
MAX_ARRAY_LEN = 1 << 24  # numeric arrays are skipped with one seek
# strings in arrays must be walked one by one (~7M/s): this bounds that work for the whole file
# (real files: a 32k-262k token vocabulary plus up to ~500k merges)
MAX_STRING_ITEMS = 1 << 22
MAX_TENSOR_NAME = 63  # GGML_MAX_NAME is 64 including the NUL
MAX_DIMS = 4
SMALL_ARRAY = 64  # arrays up to this length are kept in `metadata`; longer ones only counted

_CHUNK = 1 << 20
_U64 = struct.Struct("<Q")


def count(n: int) -> str:
    """Huge crafted numbers read better as powers of two (2^60) than as 19 digits."""
    if n >= 1 << 20 and n & (n - 1) == 0:
        return f"2^{n.bit_length() - 1}"
    return f"{n:,}"


class Reader:
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
            raise self.fail(f"{what} at byte {at:,} claims {count(n)} {unit} (limit {limit:,})")
        if n * min_item > self.remaining:
            raise self.fail(
                f"truncated or corrupt header: {what} at byte {at:,} claims {count(n)} {unit} "
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
                        f"claims {count(ln)} bytes but only {self.remaining:,} bytes remain"
                    )
                self.skip(ln)
                i += 1


def _value_size(vtype: int) -> int:
    fmt = VALUE_TYPES[vtype][1]
    assert fmt is not None
    return struct.calcsize(fmt)


def _read_value(r: Reader, key: str, vtype: int) -> Any:
    name, fmt = VALUE_TYPES[vtype]
    if vtype == STRING_TYPE:
        return r.string(f"string value of '{key}'")
    assert fmt is not None
    value = r.unpack(fmt, struct.calcsize(fmt))
    return bool(value) if name == "bool" else value


def read_kv(r: Reader, index: int, metadata: dict[str, Any], arrays: dict[str, int]) -> None:
    """Key/value pair ``index``: its value into ``metadata`` (arrays only up to ``SMALL_ARRAY``
    items), every array's length into ``arrays``."""
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


def read_tensor(r: Reader, index: int, names: set[str]) -> tuple[str, tuple[int, ...], int, int]:
    """Tensor info ``index``: name, shape, ggml type and data offset (checked by the caller)."""
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
            raise r.fail(f"tensor '{name}' has invalid dimension {count(d)} in shape {dims}")
        n_elements *= d
    if n_elements >= 1 << 63:
        raise r.fail(f"tensor '{name}' shape {dims} has too many elements")
    gtype = r.u32()
    return name, dims, gtype, r.u64()
