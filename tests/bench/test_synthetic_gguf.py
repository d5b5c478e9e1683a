"""bench.synthetic_gguf: random-weight GGUFs that real llama.cpp loads, tokenizes and samples."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.synthetic_gguf import (
    BOS_ID,
    EOS_ID,
    MISTRAL_7B,
    MIXTRAL_8X7B,
    TINY_LLAMA,
    TINY_MOE,
    Shape,
    build_vocab,
    tensor_bytes,
    write_gguf,
)
from engine.errors import Cancelled
from engine.progress import CancelToken, Progress

GiB = 2**30
SHAPES = {"llama": TINY_LLAMA, "moe": TINY_MOE}


def _load(path: Path) -> llama_cpp.Llama:
    return llama_cpp.Llama(str(path), n_ctx=512, n_threads=1, verbose=False)


def _last_logits(llm: llama_cpp.Llama) -> np.ndarray:
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()


@pytest.fixture(scope="module", params=["llama", "moe"])
def tiny(request: pytest.FixtureRequest) -> Iterator[tuple[Shape, llama_cpp.Llama]]:
    path = request.getfixturevalue(f"tiny_{request.param}_path")
    llm = _load(path)
    yield SHAPES[request.param], llm
    llm.close()


# --- pure: presets, vocab, sizes ------------------------------------------------------------------


def test_presets_match_the_real_models() -> None:
    assert (MISTRAL_7B.n_layer, MISTRAL_7B.n_embd, MISTRAL_7B.n_head, MISTRAL_7B.n_head_kv) == (
        32,
        4096,
        32,
        8,
    )
    assert (MISTRAL_7B.n_ff, MISTRAL_7B.n_vocab, MISTRAL_7B.n_ctx_train) == (14336, 32000, 32768)
    assert MISTRAL_7B.expert_count == 0
    assert (MIXTRAL_8X7B.expert_count, MIXTRAL_8X7B.expert_used_count) == (8, 2)
    assert replace(MIXTRAL_8X7B, expert_count=0, expert_used_count=0, name="x") == replace(
        MISTRAL_7B, name="x"
    )
    assert TINY_LLAMA.n_head_kv < TINY_LLAMA.n_head  # GQA like Mistral
    assert (TINY_MOE.expert_count, TINY_MOE.expert_used_count) == (4, 2)
    # Published files: Mistral 7B Q4_0 4.11 GB (3.83 GiB), Q8_0 7.70 GB; Mixtral Q4_0 26.4 GB.
    assert 3.7 * GiB < tensor_bytes(MISTRAL_7B, "Q4_0") < 3.9 * GiB
    assert 7.0 * GiB < tensor_bytes(MISTRAL_7B, "Q8_0") < 7.3 * GiB
    assert 24 * GiB < tensor_bytes(MIXTRAL_8X7B, "Q4_0") < 25 * GiB


def test_shape_rejects_inconsistent_heads_and_experts() -> None:
    with pytest.raises(ValueError, match="divide"):
        replace(TINY_LLAMA, n_head_kv=3)
    with pytest.raises(ValueError, match="expert_used_count"):
        replace(TINY_MOE, expert_used_count=5)


def test_vocab_layout() -> None:
    tokens, scores, types = build_vocab(TINY_LLAMA.n_vocab)
    assert len(tokens) == len(scores) == len(types) == TINY_LLAMA.n_vocab
    assert len(set(tokens)) == len(tokens)
    assert tokens[:5] == ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"]
    assert types[:5] == [2, 3, 3, 3, 3]
    byte_tokens = [t for t, ty in zip(tokens, types, strict=True) if ty == 6]
    assert byte_tokens == [f"<0x{b:02X}>" for b in range(256)]
    # Every multi-char normal token is reachable by SentencePiece's pairwise merges.
    vocab = set(tokens)
    normal = [t for t, ty in zip(tokens, types, strict=True) if ty == 1]
    assert {"\u2581the", "\u2581Section", '{"', '","', '":'} <= vocab
    assert all(t[:-1] in vocab for t in normal if len(t) > 1)
    big, _, _ = build_vocab(32000)
    assert len(set(big)) == 32000
    with pytest.raises(ValueError, match="minimum"):
        build_vocab(500)


def test_write_is_deterministic_per_seed(tmp_path: Path) -> None:
    a = write_gguf(tmp_path / "a.gguf", TINY_MOE, quant="Q4_0", seed=1).read_bytes()
    b = write_gguf(tmp_path / "b.gguf", TINY_MOE, quant="Q4_0", seed=1).read_bytes()
    c = write_gguf(tmp_path / "c.gguf", TINY_MOE, quant="Q4_0", seed=2).read_bytes()
    assert a == b != c
    assert len(a) == len(c)


def test_file_layout_matches_llama_cpp_names(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", TINY_MOE, quant="Q8_0")
    r = gguf.GGUFReader(path)
    t = {x.name: x for x in r.tensors}
    Q = gguf.GGMLQuantizationType
    e, ff, ne = TINY_MOE.n_embd, TINY_MOE.n_ff, TINY_MOE.expert_count
    assert [int(n) for n in t["blk.1.ffn_gate_exps.weight"].shape] == [e, ff, ne]  # ggml order
    assert [int(n) for n in t["blk.1.ffn_down_exps.weight"].shape] == [ff, e, ne]
    assert [int(n) for n in t["blk.0.ffn_gate_inp.weight"].shape] == [e, ne]
    assert t["blk.0.ffn_up_exps.weight"].tensor_type == Q.Q8_0
    assert t["blk.0.ffn_gate_inp.weight"].tensor_type == Q.F32  # router stays F32
    assert t["output_norm.weight"].tensor_type == Q.F32
    assert np.all(t["blk.0.attn_norm.weight"].data == 1.0)
    assert "blk.0.ffn_gate.weight" not in t
    kv = r.fields
    assert int(kv["llama.expert_count"].parts[-1][0]) == ne
    assert int(kv["llama.attention.head_count_kv"].parts[-1][0]) == TINY_MOE.n_head_kv
    assert len(r.tensors) == 3 + TINY_MOE.n_layer * 10


def test_cancel_leaves_nothing_behind(tmp_path: Path) -> None:
    token = CancelToken()
    events: list[Progress] = []

    def on_progress(p: Progress) -> None:
        events.append(p)
        token.cancel()

    with pytest.raises(Cancelled):
        write_gguf(tmp_path / "x.gguf", TINY_LLAMA, progress=on_progress, cancel=token)
    assert len(events) == 1 and events[0].unit == "B" and events[0].total
    assert list(tmp_path.iterdir()) == []


def test_quantized_rows_must_fit_blocks(tmp_path: Path) -> None:
    odd = replace(TINY_LLAMA, n_ff=100)
    with pytest.raises(ValueError, match="multiples of 32"):
        write_gguf(tmp_path / "x.gguf", odd, quant="Q4_0")
    assert list(tmp_path.iterdir()) == []


# --- real llama.cpp ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["llama", "moe"])
def test_tiny_models_load_fast_with_expected_metadata(
    kind: str, request: pytest.FixtureRequest
) -> None:
    shape = SHAPES[kind]
    path = request.getfixturevalue(f"tiny_{kind}_path")
    assert path.stat().st_size < 2 * 2**20
    t0 = time.perf_counter()
    llm = _load(path)
    load_s = time.perf_counter() - t0
    try:
        assert load_s < 0.5
        md = llm.metadata
        assert llm.n_vocab() == shape.n_vocab
        assert md["general.architecture"] == "llama"
        assert int(md["llama.block_count"]) == shape.n_layer
        assert int(md["llama.attention.head_count_kv"]) == shape.n_head_kv
        assert int(md.get("llama.expert_count", 0)) == shape.expert_count
        assert int(md.get("llama.expert_used_count", 0)) == shape.expert_used_count
        assert llm.token_bos() == BOS_ID and llm.token_eos() == EOS_ID
        assert "[INST]" in md["tokenizer.chat_template"]
    finally:
        llm.close()


def test_text_tokenizes_into_merged_pieces(tiny: tuple[Shape, llama_cpp.Llama]) -> None:
    _, llm = tiny
    toks = llm.tokenize(b"the Section", add_bos=False, special=False)
    assert [llm.detokenize([t]) for t in toks] == [b" the", b" Section"]
    assert llm.tokenize(b"[INST]x[/INST]", add_bos=True, special=True)[:2] == [BOS_ID, 3]
    assert llm.tokenize(b"[INST]x[/INST]", add_bos=False, special=True)[-1] == 4


# U+2581 is SentencePiece's space marker: it decodes as a space in every llama vocab.
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\u2581"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_TEXT)
def test_any_unicode_round_trips(tiny: tuple[Shape, llama_cpp.Llama], text: str) -> None:
    _, llm = tiny
    toks = llm.tokenize(text.encode(), add_bos=False, special=False)
    # SentencePiece adds one leading space marker (to non-empty text); decoding keeps it.
    assert llm.detokenize(toks).decode() == (" " + text if text else "")


def test_byte_fallback_is_used(tiny: tuple[Shape, llama_cpp.Llama]) -> None:
    _, llm = tiny
    text = "Grüße 世界 🚀"
    toks = llm.tokenize(text.encode(), add_bos=False, special=False)
    byte_ids = {
        i
        for i in toks
        if llm.detokenize([i]) and len(llm.detokenize([i])) == 1 and llm.detokenize([i])[0] >= 0x80
    }
    assert len(byte_ids.intersection(toks)) >= 8  # 世界 and 🚀 need bytes
    assert llm.detokenize(toks).decode() == " " + text


def test_sampling_is_finite_and_diverse(tiny: tuple[Shape, llama_cpp.Llama]) -> None:
    _, llm = tiny
    llm.reset()
    out: Any = llm(
        "[INST] Summarize the talk. [/INST]",
        max_tokens=50,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        min_p=0.0,
        seed=7,
    )
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] >= 50
    assert np.isfinite(_last_logits(llm)).all()
    toks = llm.tokenize(out["choices"][0]["text"].encode(), add_bos=False)
    assert len(set(toks)) > 20


GRAMMAR = r'root ::= "{\"a\":" [0-9]{1,3} "}"'


def test_grammar_constrains_output(tiny: tuple[Shape, llama_cpp.Llama]) -> None:
    _, llm = tiny
    grammar = llama_cpp.LlamaGrammar.from_string(GRAMMAR, verbose=False)
    texts = set()
    for seed in range(8):
        out: Any = llm(
            "[INST] x [/INST]", max_tokens=32, temperature=1.0, seed=seed, grammar=grammar
        )
        text = out["choices"][0]["text"]
        assert re.fullmatch(r'\{"a":[0-9]{1,3}\}', text), text
        texts.add(text)
    assert len(texts) > 3


def test_chat_template_renders_mistral_format(tiny: tuple[Shape, llama_cpp.Llama]) -> None:
    _, llm = tiny
    out: Any = llm.create_chat_completion(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        max_tokens=4,
        seed=1,
    )
    assert out["usage"]["prompt_tokens"] > 5
    fmt = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
        llm.metadata["tokenizer.chat_template"], eos_token="</s>", bos_token="<s>"
    )
    msgs: Any = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    assert fmt(messages=msgs).prompt == "<s>[INST] a[/INST] b</s>[INST] c[/INST]"


@pytest.mark.parametrize("quant", ["F16", "Q8_0", "Q4_0"])
def test_tiny_quantized_variants_run(tmp_path: Path, quant: str) -> None:
    path = write_gguf(tmp_path / "q.gguf", TINY_MOE, quant=quant)  # type: ignore[arg-type]
    llm = _load(path)
    try:
        assert llm.metadata["general.file_type"] == {"F16": "1", "Q8_0": "7", "Q4_0": "2"}[quant]
        llm.eval(llm.tokenize(b"the function returns", add_bos=True))
        logits = _last_logits(llm)
        assert np.isfinite(logits).all() and logits.std() > 0.01
    finally:
        llm.close()


def test_one_layer_mistral_7b_shape_loads_and_evaluates(tmp_path: Path) -> None:
    # Full-size rows and vocab at Q4_0 (the benchmark's format); Q8_0 blocks run in the tiny test.
    shape = replace(MISTRAL_7B, n_layer=1)
    path = write_gguf(tmp_path / "m.gguf", shape, quant="Q4_0")
    try:
        assert path.stat().st_size == pytest.approx(tensor_bytes(shape, "Q4_0"), rel=0.01)
        llm = _load(path)
        try:
            assert llm.n_vocab() == 32000 and int(llm.metadata["llama.block_count"]) == 1
            llm.eval(llm.tokenize(b"Section 1: the", add_bos=True))
            logits = _last_logits(llm)
            # Weights ~N(0, 0.02) over 4096 dims: logits spread ~1.3, finite, not degenerate.
            assert np.isfinite(logits).all()
            assert 0.5 < logits.std() < 3.0
        finally:
            llm.close()
    finally:
        path.unlink()
