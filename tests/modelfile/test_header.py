"""The strict GGUF header check: real files pass, every crafted file is refused with a clear
message, quickly, and no input makes it crash or hang.

Crafted files are built byte by byte here (``build_gguf``) so each one breaks exactly one rule;
``CRAFTED`` is shared with ``bench/gguf_check_bench.py``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ModelFileError
from engine.modelfile.header import GGUFHeader, check_gguf
from engine.modelfile.reader import MAX_STRING_ITEMS

# --- a byte-level GGUF builder ------------------------------------------------------------------

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
T_F32, T_F16, T_Q8_0, T_Q4_K = 0, 1, 8, 12


def gstr(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def kv(key: str | bytes, vtype: int, payload: bytes) -> bytes:
    return gstr(key) + struct.pack("<I", vtype) + payload


def kv_u32(key: str, value: int) -> bytes:
    return kv(key, U32, struct.pack("<I", value))


def kv_str(key: str, value: str) -> bytes:
    return kv(key, STR, gstr(value))


def kv_array(key: str, etype: int, n: int, items: bytes) -> bytes:
    return kv(key, ARR, struct.pack("<IQ", etype, n) + items)


def tensor(name: str | bytes, dims: list[int], gtype: int, offset: int) -> bytes:
    body = struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
    return gstr(name) + body + struct.pack("<IQ", gtype, offset)


def build_gguf(
    kvs: list[bytes],
    tensors: list[bytes],
    *,
    data_bytes: int = 0,
    version: int = 3,
    n_tensors: int | None = None,
    n_kv: int | None = None,
    alignment: int = 32,
) -> bytes:
    head = b"GGUF" + struct.pack(
        "<IQQ",
        version,
        len(tensors) if n_tensors is None else n_tensors,
        len(kvs) if n_kv is None else n_kv,
    )
    head += b"".join(kvs) + b"".join(tensors)
    head += b"\0" * (-len(head) % alignment)
    return head + bytes(range(256)) * (data_bytes // 256) + b"\x07" * (data_bytes % 256)


N_VOCAB, N_EMBD = 100, 32
TOKENS = [f"tok{i}" for i in range(N_VOCAB)]


def base_kvs() -> list[bytes]:
    return [
        kv_str("general.architecture", "llama"),
        kv_str("general.name", "tiny"),
        kv_u32("general.file_type", 7),
        kv_u32("llama.context_length", 4096),
        kv_u32("llama.block_count", 1),
        kv_u32("llama.embedding_length", N_EMBD),
        kv_u32("llama.feed_forward_length", 64),
        kv_u32("llama.attention.head_count", 4),
        kv_u32("llama.attention.head_count_kv", 2),
        kv_str("tokenizer.chat_template", "{{ messages }}"),
        kv_array("tokenizer.ggml.tokens", STR, N_VOCAB, b"".join(gstr(t) for t in TOKENS)),
        kv_array("tokenizer.ggml.scores", F32, N_VOCAB, struct.pack(f"<{N_VOCAB}f", *[0.0] * 100)),
        kv_array("general.tags", STR, 2, gstr("a") + gstr("b")),
    ]


# token_embd F32 [32,100] = 12800 B; blk.0.attn_q Q8_0 [32,32] = 1088 B (= 34 x 32, aligned);
# output F16 [32,100] = 6400 B
def base_tensors() -> list[bytes]:
    return [
        tensor("token_embd.weight", [N_EMBD, N_VOCAB], T_F32, 0),
        tensor("blk.0.attn_q.weight", [N_EMBD, N_EMBD], T_Q8_0, 12800),
        tensor("output.weight", [N_EMBD, N_VOCAB], T_F16, 12800 + 1088),
    ]


BASE_DATA = 12800 + 1088 + 6400


def valid_gguf() -> bytes:
    return build_gguf(base_kvs(), base_tensors(), data_bytes=BASE_DATA)


def with_kv(extra: bytes) -> bytes:
    return build_gguf([*base_kvs(), extra], base_tensors(), data_bytes=BASE_DATA)


def with_tensor(t: bytes, data_bytes: int = 4096) -> bytes:
    return build_gguf(base_kvs(), [t], data_bytes=data_bytes)


# name -> (file bytes, a fragment the error message must contain)
CRAFTED: dict[str, Callable[[], tuple[bytes, str]]] = {
    "empty": lambda: (b"", "empty file"),
    "bad magic (zip)": lambda: (b"PK\x03\x04" + b"\0" * 60, r"bad magic b'PK\x03\x04'"),
    "bad magic (short)": lambda: (b"GG", "bad magic b'GG'"),
    "header cut after version": lambda: (valid_gguf()[:8], "truncated header"),
    "header cut in a key": lambda: (valid_gguf()[:40], "truncated"),
    "header cut in token array": lambda: (valid_gguf()[:400], "truncated"),
    "tensor data cut": lambda: (valid_gguf()[:-100], "past the end of the file"),
    "version 99": lambda: (build_gguf(base_kvs(), [], version=99), "unsupported GGUF version 99"),
    "version 1": lambda: (build_gguf([], [], version=1), "unsupported GGUF version 1"),
    "big-endian": lambda: (build_gguf([], [], version=3 << 24), "big-endian"),
    "2^60 tensors": lambda: (
        build_gguf(base_kvs(), [], n_tensors=1 << 60),
        "claims 2^60 tensors but the file is",
    ),
    "tensor count beyond file": lambda: (
        build_gguf(base_kvs(), [], n_tensors=5000),
        "claims 5,000 tensors but the file is",
    ),
    "2^60 keys": lambda: (build_gguf([], [], n_kv=1 << 60), "claims 2^60 metadata keys"),
    "2^62 key length": lambda: (
        build_gguf([struct.pack("<Q", 1 << 62) + b"general.x"], []),
        "key 0 at byte 24 claims 2^62 bytes",
    ),
    "2^40 string value": lambda: (
        with_kv(kv("general.description", STR, struct.pack("<Q", 1 << 40) + b"abc")),
        "claims 2^40 bytes",
    ),
    "string longer than file": lambda: (
        with_kv(kv("general.description", STR, struct.pack("<Q", 10_000_000) + b"abc")),
        "claims 10,000,000 bytes but only",
    ),
    "2^60 array": lambda: (
        with_kv(kv_array("tokenizer.ggml.merges", STR, 1 << 60, b"")),
        "array 'tokenizer.ggml.merges' at byte",
    ),
    "array longer than file": lambda: (
        with_kv(kv_array("tokenizer.ggml.token_type", I32, 1_000_000, b"\0" * 64)),
        "claims 1,000,000 items but only",
    ),
    "string in array longer than file": lambda: (
        with_kv(kv_array("x.tokens", STR, 100, gstr("a") * 70 + struct.pack("<Q", 1 << 50))),
        "item 70 of array 'x.tokens'",
    ),
    "empty key": lambda: (build_gguf([kv_u32("", 1)], []), "key 0 at byte 24 is empty"),
    "invalid value type": lambda: (
        with_kv(kv("general.x", 13, b"\0" * 8)),
        "invalid value type 13",
    ),
    "nested array": lambda: (
        with_kv(kv_array("general.x", ARR, 1, b"\0" * 16)),
        "invalid element type 9",
    ),
    "duplicate key": lambda: (with_kv(kv_u32("llama.block_count", 2)), "duplicate key"),
    "key not utf-8": lambda: (with_kv(kv(b"\xff\xfe", U32, b"\0" * 4)), "not valid UTF-8"),
    "alignment of wrong type": lambda: (
        with_kv(kv_str("general.alignment", "32")),
        "general.alignment has type string, must be uint32",
    ),
    "alignment not a power of two": lambda: (
        with_kv(kv_u32("general.alignment", 48)),
        "general.alignment 48 is not a power of two",
    ),
    "alignment zero": lambda: (with_kv(kv_u32("general.alignment", 0)), "general.alignment 0"),
    "tensor name too long": lambda: (
        with_tensor(tensor("t" * 100, [32], T_F32, 0)),
        "name of tensor 0 at byte",
    ),
    "empty tensor name": lambda: (with_tensor(tensor("", [32], T_F32, 0)), "empty name"),
    "5 dimensions": lambda: (
        with_tensor(tensor("x", [1, 1, 1, 1, 1], T_F32, 0)),
        "has 5 dimensions",
    ),
    "zero dimension": lambda: (
        with_tensor(tensor("x", [32, 0], T_F32, 0)),
        "invalid dimension 0",
    ),
    "element count overflow": lambda: (
        with_tensor(tensor("x", [1 << 40, 1 << 40], T_F32, 0)),
        "too many elements",
    ),
    "unknown ggml type": lambda: (with_tensor(tensor("x", [32], 99, 0)), "unknown ggml type 99"),
    "removed ggml type 4": lambda: (with_tensor(tensor("x", [32], 4, 0)), "unknown ggml type 4"),
    "row not a block multiple": lambda: (
        with_tensor(tensor("x", [100, 2], T_Q4_K, 0)),
        "not a multiple of the block size 256",
    ),
    "tensor offset past EOF": lambda: (
        with_tensor(tensor("x", [32], T_F32, 1 << 40)),
        "data ends past the end of the file",
    ),
    "tensor offset unaligned": lambda: (
        with_tensor(tensor("x", [32], T_F32, 8)),
        "not aligned to 32",
    ),
    "tensors overlap": lambda: (
        build_gguf(
            base_kvs(),
            [tensor("a", [32], T_F32, 0), tensor("b", [32], T_F32, 0)],
            data_bytes=4096,
        ),
        "expected 128",
    ),
    "duplicate tensor name": lambda: (
        build_gguf(
            base_kvs(),
            [tensor("a", [32], T_F32, 0), tensor("a", [32], T_F32, 128)],
            data_bytes=4096,
        ),
        "duplicate tensor name 'a'",
    ),
    "too many array strings": lambda: (
        build_gguf([kv_array("tokenizer.ggml.tokens", STR, MAX_STRING_ITEMS + 1, b"")], []),
        f"claims {MAX_STRING_ITEMS + 1:,} items (limit {MAX_STRING_ITEMS:,})",
    ),
}


def write(tmp_path: Path, data: bytes, name: str = "m.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- real files -----------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_real_gemma_passes(gemma_path: Path) -> None:
    h = check_gguf(gemma_path)
    assert isinstance(h, GGUFHeader)
    assert (h.version, h.architecture, h.name) == (3, "gemma3", "Gemma 3 270m")
    assert (h.context_length, h.block_count, h.embedding_length) == (32768, 18, 640)
    assert (h.head_count, h.head_count_kv, h.key_length) == (4, 1, 256)
    assert (h.feed_forward_length, h.sliding_window) == (2048, 512)
    assert h.vocab_size == 262144  # gemma3 has no vocab_size key: from the token array
    assert (h.file_type, h.quant) == (15, "Q4_K_M")
    assert h.expert_count is None
    assert h.n_tensors == len(h.tensors) == 236
    assert h.array_lengths["tokenizer.ggml.tokens"] == 262144
    assert "tokenizer.ggml.tokens" not in h.metadata  # huge arrays are counted, not kept
    assert h.metadata["general.tags"] == ["gemma3", "gemma", "google", "text-generation"]
    assert h.data_offset == 6525120  # as the gguf package's reader reports it
    assert h.data_offset + h.tensor_data_bytes <= h.file_bytes == gemma_path.stat().st_size


@pytest.mark.timeout(30)
def test_agrees_with_gguf_package_on_valid_files(tmp_path: Path) -> None:
    """The reference reader (fine on valid files, but 11 s on Gemma's vocabulary, so only the
    small ones here) sees the same header."""
    from gguf import GGUFReader

    for path in (tiny_writer_file(tmp_path), write(tmp_path, valid_gguf())):
        ours = check_gguf(path)
        ref = GGUFReader(path)
        assert ours.data_offset == ref.data_offset
        assert ours.alignment == ref.alignment
        assert [(t.name, t.offset, t.n_bytes) for t in ours.tensors] == [
            (t.name, t.data_offset - ref.data_offset, int(t.n_bytes)) for t in ref.tensors
        ]
        assert [t.shape for t in ours.tensors] == [
            tuple(int(d) for d in t.shape) for t in ref.tensors
        ]
        for key, field in ref.fields.items():
            if key.startswith("GGUF."):
                continue
            if key in ours.metadata:
                value = field.contents()
                expected = pytest.approx(value) if isinstance(value, float) else value
                assert ours.metadata[key] == expected, key
            else:
                assert ours.array_lengths[key] == len(field.data), key


def test_builder_base_file_is_valid(tmp_path: Path) -> None:
    h = check_gguf(write(tmp_path, valid_gguf()))
    assert (h.architecture, h.block_count, h.embedding_length, h.head_count_kv) == (
        "llama",
        1,
        32,
        2,
    )
    assert (h.quant, h.vocab_size, h.chat_template) == ("Q8_0", 100, "{{ messages }}")
    assert h.tensor_data_bytes == 12800 + 1088 + 6400
    assert h.tensor_bytes("output.") == 6400


def test_gguf_writer_file_is_valid(tmp_path: Path) -> None:
    path = tiny_writer_file(tmp_path)
    h = check_gguf(path)
    assert h.architecture == "llama" and h.n_tensors == 3 and h.quant == "F32"


# --- crafted files --------------------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_file_is_refused(name: str, tmp_path: Path) -> None:
    data, fragment = CRAFTED[name]()
    path = write(tmp_path, data)
    with pytest.raises(ModelFileError) as info:
        check_gguf(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert fragment in message, message


@pytest.mark.timeout(10)
def test_missing_directory_and_fifo_do_not_hang(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        check_gguf(tmp_path / "nope.gguf")
    with pytest.raises(ModelFileError, match="not a regular file"):
        check_gguf(tmp_path)
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)  # opening a FIFO for reading would block forever
    with pytest.raises(ModelFileError, match="not a regular file"):
        check_gguf(fifo)


@pytest.mark.timeout(30)
def test_deadline_bounds_pathological_headers(tmp_path: Path) -> None:
    """4M empty strings (a 32 MB sparse file) are legal but slow to walk: the deadline stops it."""
    path = tmp_path / "many.gguf"
    head = build_gguf([kv_array("tokenizer.ggml.tokens", STR, MAX_STRING_ITEMS, b"")], [])
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + 8 * MAX_STRING_ITEMS + 64)
    with pytest.raises(ModelFileError, match=r"gave up after 0\.01 s"):
        check_gguf(path, max_seconds=0.01)
    assert check_gguf(path).array_lengths["tokenizer.ggml.tokens"] == MAX_STRING_ITEMS


@pytest.mark.timeout(60)
def test_truncated_real_file(gemma_path: Path, tmp_path: Path) -> None:
    size = check_gguf(gemma_path).data_offset
    with open(gemma_path, "rb") as f:
        prefix = f.read(size + 4096)
    for cut in (5, 23, 24, 100, 1000, 50_000, 1_000_000, size - 1, size + 4096):
        path = write(tmp_path, prefix[:cut], f"cut{cut}.gguf")
        with pytest.raises(ModelFileError, match="truncated"):
            check_gguf(path)


# --- property tests -------------------------------------------------------------------------

VALID = valid_gguf()


@pytest.mark.timeout(120)
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=0, max_value=len(VALID) - 1))
def test_every_truncation_is_refused(cut: int, tmp_path: Path) -> None:
    path = write(tmp_path, VALID[:cut])
    with pytest.raises(ModelFileError) as info:
        check_gguf(path)
    assert any(w in str(info.value) for w in ("truncated", "empty file", "bad magic")), info.value


HEADER_END = len(build_gguf(base_kvs(), base_tensors()))


@pytest.mark.timeout(300)
@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, HEADER_END - 1), st.binary(min_size=1, max_size=8)),
        min_size=1,
        max_size=6,
    ),
    cut=st.one_of(st.none(), st.integers(0, len(VALID))),
)
def test_random_mutations_never_crash_or_hang(
    edits: list[tuple[int, bytes]], cut: int | None, tmp_path: Path
) -> None:
    data = bytearray(VALID)
    for pos, patch in edits:
        data[pos : pos + len(patch)] = patch  # overwrite; may also grow/shrink at the end
    path = write(tmp_path, bytes(data[:cut]))
    try:
        h = check_gguf(path)
    except ModelFileError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert h.data_offset + h.tensor_data_bytes <= h.file_bytes


# offsets of every u64 count/length field in the base file: the fields crafted files abuse
def _u64_fields() -> list[int]:
    offsets = [8, 16]
    pos = 24
    for item in base_kvs():
        offsets.append(pos)  # key length
        key_len = struct.unpack_from("<Q", item)[0]
        vtype = struct.unpack_from("<I", item, 8 + key_len)[0]
        if vtype == STR:
            offsets.append(pos + 12 + key_len)
        elif vtype == ARR:
            offsets.append(pos + 16 + key_len)
        pos += len(item)
    for item in base_tensors():
        offsets.append(pos)
        name_len = struct.unpack_from("<Q", item)[0]
        n_dims = struct.unpack_from("<I", item, 8 + name_len)[0]
        offsets += [pos + 12 + name_len + 8 * i for i in range(n_dims)]
        offsets.append(pos + 12 + name_len + 8 * n_dims + 4)  # data offset
        pos += len(item)
    return offsets


U64_FIELDS = _u64_fields()


@pytest.mark.timeout(300)
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field_at=st.sampled_from(U64_FIELDS), value=st.integers(0, (1 << 64) - 1))
def test_any_count_or_length_value_is_safe(field_at: int, value: int, tmp_path: Path) -> None:
    data = bytearray(VALID)
    struct.pack_into("<Q", data, field_at, value)
    path = write(tmp_path, bytes(data))
    try:
        h = check_gguf(path)
    except ModelFileError as exc:
        assert str(exc).startswith(str(path))
    else:  # e.g. a smaller tensor count can still describe a consistent file
        assert h.data_offset + h.tensor_data_bytes <= h.file_bytes


def test_u64_field_table_matches_builder() -> None:
    """Guard for the fuzz test above: every offset really holds the expected count/length."""
    first_key = struct.unpack_from("<Q", VALID, U64_FIELDS[2])[0]
    assert first_key == len("general.architecture")
    assert (
        struct.unpack_from("<Q", VALID, 8)[0] == 3 and struct.unpack_from("<Q", VALID, 16)[0] == 13
    )


def tiny_writer_file(tmp_path: Path) -> Path:
    """A small file written by the reference writer (the gguf package)."""
    import numpy as np
    from gguf import GGUFWriter

    path = tmp_path / "writer.gguf"
    w = GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_context_length(256)
    w.add_embedding_length(32)
    w.add_head_count(4)
    w.add_token_list([f"t{i}".encode() for i in range(80)])
    for name, shape in (
        ("token_embd.weight", (80, 32)),
        ("blk.0.attn_q.weight", (32, 32)),
        ("output.weight", (80, 32)),
    ):
        w.add_tensor(name, np.zeros(shape, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


LLAMA_PROBE = """
import sys, llama_cpp
for path in sys.argv[1:]:
    try:
        llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        print("LOADED", path, flush=True)
    except ValueError:
        print("REFUSED", path, flush=True)
"""


@pytest.mark.timeout(120)
def test_llama_cpp_refuses_every_crafted_file_too(tmp_path: Path) -> None:
    """The check refuses nothing llama.cpp would load: every crafted file is invalid for
    llama.cpp as well (it just says less about why). One child process runs them all."""
    import subprocess
    import sys

    paths = []
    for i, name in enumerate(CRAFTED):
        paths.append(str(write(tmp_path, CRAFTED[name]()[0], f"c{i}.gguf")))
    proc = subprocess.run(
        [sys.executable, "-c", LLAMA_PROBE, *paths], capture_output=True, text=True, timeout=100
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = dict(line.split(" ", 1)[::-1] for line in proc.stdout.splitlines())
    assert results == dict.fromkeys(paths, "REFUSED")
