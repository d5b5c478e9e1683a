"""Hardware detection and the fit planner.

The planner runs on recorded hardware profiles (tests/hardware/hardware_profiles/*.json) for every
catalog shape and quant, with the file sizes of TheBloke's GGUFs. Its KV-cache and compute-buffer
formulas are checked against what llama.cpp itself allocates (CPU build, real models).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ConfigError, ModelError
from engine.hardware import (
    CUDA_REBUILD,
    GPU,
    METAL_REBUILD,
    BuildInfo,
    GiB,
    Hardware,
    MiB,
    ModelShape,
    Plan,
    build_warning,
    compute_buffer_bytes,
    detect,
    fit_summary,
    known_shape,
    kv_cache_bytes,
    largest_context,
    parse_nvidia_smi,
    parse_system_info,
    plan,
    plan_for_file,
    shape_from_header,
)
from engine.modelfile.header import check_gguf

PROFILES_DIR = Path(__file__).parent / "hardware_profiles"
PROFILES = {p.stem: Hardware.load(p) for p in sorted(PROFILES_DIR.glob("*.json"))}
NVIDIA_BY_VRAM = ["nvidia-8gb", "nvidia-12gb", "nvidia-24gb"]

# File sizes (decimal GB) from TheBloke's Mistral-7B-Instruct-v0.2-GGUF and
# Mixtral-8x7B-Instruct-v0.1-GGUF model cards, smallest quant first.
QUANTS = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]
FILE_GB = {
    "mistral-7b": [3.08, 3.52, 4.37, 5.13, 5.94, 7.70],
    "mixtral-8x7b": [15.64, 20.36, 26.44, 32.23, 38.38, 49.62],
}


def size(model: str, quant: str) -> int:
    return int(FILE_GB[model][QUANTS.index(quant)] * 1e9)


def plan_of(profile: str, model: str, quant: str, n_ctx: int = 8192, **kw: object) -> Plan:
    return plan(known_shape(model), size(model, quant), n_ctx, PROFILES[profile], quant=quant, **kw)  # type: ignore[arg-type]


# --- profiles and detection -----------------------------------------------------------------


def test_profiles_cover_the_issue_and_round_trip() -> None:
    assert set(PROFILES) == {
        "nvidia-8gb",
        "nvidia-12gb",
        "nvidia-24gb",
        "apple-m2-16gb",
        "cpu-only-16gb",
        "nvidia-8gb-cpu-build",
    }
    for hw in PROFILES.values():
        assert Hardware.from_json(hw.to_json()) == hw
    assert [round(PROFILES[p].gpus[0].total_bytes / GiB) for p in NVIDIA_BY_VRAM] == [8, 12, 24]


def test_malformed_profile_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"gpus": []}))
    with pytest.raises(ConfigError, match=r"bad\.json: Hardware profile is malformed"):
        Hardware.load(bad)
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Hardware.load(bad)


def test_detect_on_this_machine() -> None:
    import llama_cpp

    hw = detect()
    assert hw.ram_total > 0 and 0 < hw.ram_available <= hw.ram_total
    assert 1 <= hw.cpu_physical_cores <= (os.cpu_count() or 1)
    assert hw.build.llama_cpp_version == llama_cpp.__version__
    assert hw.build.gpu_offload == bool(llama_cpp.llama_supports_gpu_offload())
    assert "CPU" in hw.build.backends
    if not hw.gpus:  # this CI box: no GPU, CPU build -> no warning, plans say "cpu"
        assert build_warning(hw) is None
        p = plan(known_shape("mistral-7b"), size("mistral-7b", "Q4_K_M"), 4096, hw)
        assert p.mode == "cpu" and p.n_gpu_layers == 0
    assert Hardware.from_json(hw.to_json()) == hw


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    """A stand-in executable on PATH (this machine has no NVIDIA driver)."""
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)


def test_detect_reads_nvidia_smi_and_warns_about_cpu_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args_file = tmp_path / "args"
    fake_tool(
        tmp_path / "bin",
        "nvidia-smi",
        f'echo "$@" > {args_file}\necho "NVIDIA GeForce RTX 3060, 12288, 11500"',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    hw = detect()
    assert args_file.read_text().split() == [
        "--query-gpu=name,memory.total,memory.free",
        "--format=csv,noheader,nounits",
    ]
    assert hw.gpus == (GPU("NVIDIA GeForce RTX 3060", 12288 * MiB, 11500 * MiB, "cuda"),)
    if not hw.build.gpu_offload:  # the real CPU-only build installed here
        warning = build_warning(hw)
        assert warning is not None
        assert "NVIDIA GeForce RTX 3060 is not used" in warning
        assert warning.endswith(CUDA_REBUILD)


@pytest.mark.timeout(300)  # a hang-catcher: the fake nvidia-smi hangs on purpose
def test_detect_survives_a_hanging_or_failing_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    fake_tool(tmp_path / "bin", "nvidia-smi", "exec sleep 30")
    hw = detect(nvidia_smi_timeout=0.5)
    assert hw.gpus == ()
    assert any("did not answer within 0.5 s" in n for n in hw.notes)
    fake_tool(
        tmp_path / "bin",
        "nvidia-smi",
        'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."'
        "\nexit 9",
    )
    hw = detect()
    assert hw.gpus == ()
    assert any("couldn't communicate with the NVIDIA driver" in n for n in hw.notes)


def test_parse_nvidia_smi_lines() -> None:
    gpus, notes = parse_nvidia_smi(
        "NVIDIA GeForce RTX 4090, 24564, 23987\nNVIDIA A100-SXM4-80GB, 81920, 81000\n"
        "Weird, GPU, [N/A]\n"
    )
    assert [g.name for g in gpus] == ["NVIDIA GeForce RTX 4090", "NVIDIA A100-SXM4-80GB"]
    assert gpus[0].total_bytes == 24564 * MiB and gpus[1].free_bytes == 81000 * MiB
    assert len(notes) == 1 and "Weird" in notes[0]
    hw = Hardware(tuple(gpus), 64 * GiB, 60 * GiB, 16, "Linux x86_64", BuildInfo(True, (), None))
    assert hw.best_gpu() == gpus[1]


def test_parse_system_info_backends() -> None:
    cuda = "CUDA : ARCHS = 860,890 | USE_GRAPHS = 1 | CPU : SSE3 = 1 | AVX = 1 | "
    metal = "Metal : EMBED_LIBRARY = 1 | BLAS : ACCELERATE = 1 | CPU : NEON = 1 | ARM_FMA = 1 | "
    assert parse_system_info(cuda) == ("CUDA", "CPU")
    assert parse_system_info(metal) == ("Metal", "BLAS", "CPU")


def test_metal_machine_with_cpu_build_gets_the_metal_command() -> None:
    mac = PROFILES["apple-m2-16gb"]
    cpu_build = Hardware(
        mac.gpus,
        mac.ram_total,
        mac.ram_available,
        8,
        mac.platform,
        BuildInfo(False, ("CPU",), "0.3.16"),
    )
    warning = build_warning(cpu_build)
    assert warning is not None and warning.endswith(METAL_REBUILD)
    assert build_warning(mac) is None


# --- formulas -------------------------------------------------------------------------------


def test_kv_cache_formula_exact() -> None:
    mistral = known_shape("mistral-7b")
    # 2 x 32 layers x 8192 x 8 kv heads x 128 x 2 bytes = exactly 1 GiB
    assert kv_cache_bytes(mistral, 8192) == 1 << 30
    assert kv_cache_bytes(mistral, 8192, "q8_0") == 2 * 32 * 8192 * 8 * 128 * 34 // 32
    assert kv_cache_bytes(known_shape("mixtral-8x7b"), 32768) == 4 << 30
    with pytest.raises(ConfigError, match="Unknown KV cache type 'q3'"):
        kv_cache_bytes(mistral, 8192, "q3")


def test_known_shapes() -> None:
    assert 7.1e9 < known_shape("mistral-7b").n_params() < 7.4e9
    assert 46e9 < known_shape("mixtral-8x7b").n_params() < 47.5e9
    with pytest.raises(ModelError, match="Unknown model shape 'llama-70b'"):
        known_shape("llama-70b")


def test_shape_from_real_header(gemma_path: Path) -> None:
    h = check_gguf(gemma_path)
    s = shape_from_header(h)
    assert (s.n_layer, s.n_embd, s.n_head, s.n_head_kv, s.head_dim) == (18, 640, 4, 1, 256)
    assert (s.n_vocab, s.n_ff, s.n_ctx_train, s.sliding_window) == (262144, 2048, 32768, 512)
    assert s.tied_embeddings and s.output_bytes == 0
    assert s.token_embd_bytes == 262144 * 640 // 32 * 34  # Q8_0


def write_tiny_llama(
    path: Path,
    *,
    n_embd: int = 1024,
    n_head: int = 32,
    n_head_kv: int = 8,
    n_layer: int = 2,
    n_ff: int = 512,
    n_vocab: int = 256,
) -> Path:
    """A loadable llama-architecture GGUF, zero weights: tiny vocabulary and many heads, so the
    attention scores (not the logits) dominate the compute buffer, as they do for Mistral."""
    import numpy as np
    from gguf import GGUFWriter, LlamaFileType

    w = GGUFWriter(path, "llama")
    w.add_context_length(32768)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_file_type(LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("llama")
    w.add_token_list(
        [b"<unk>", b"<s>", b"</s>"] + [f"<0x{i:02X}>".encode() for i in range(n_vocab - 3)]
    )
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types([2, 3, 3] + [6] * (n_vocab - 3))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    kv_dim = n_head_kv * (n_embd // n_head)
    w.add_tensor("token_embd.weight", np.zeros((n_vocab, n_embd), np.float16))
    w.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    w.add_tensor("output.weight", np.zeros((n_vocab, n_embd), np.float16))
    for i in range(n_layer):
        for name, shape in (
            ("attn_q", (n_embd, n_embd)),
            ("attn_k", (kv_dim, n_embd)),
            ("attn_v", (kv_dim, n_embd)),
            ("attn_output", (n_embd, n_embd)),
            ("ffn_gate", (n_ff, n_embd)),
            ("ffn_up", (n_ff, n_embd)),
            ("ffn_down", (n_embd, n_ff)),
        ):
            w.add_tensor(f"blk.{i}.{name}.weight", np.zeros(shape, np.float16))
        for name in ("attn_norm", "ffn_norm"):
            w.add_tensor(f"blk.{i}.{name}.weight", np.ones(n_embd, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


LLAMA_BUFFERS = """
import sys, llama_cpp
from engine.runtime.llamacpp.cpu_features import patch_default_params
patch_default_params(llama_cpp)
llama_cpp.Llama(model_path=sys.argv[1], n_ctx=int(sys.argv[2]), flash_attn=sys.argv[3] == "1",
                n_threads=1, n_batch=512, n_ubatch=512, verbose=True)
"""


def llama_cpp_buffers(path: Path, n_ctx: int, flash_attn: bool) -> tuple[int, int]:
    """(KV bytes, compute bytes) as llama.cpp reports them when it creates a context."""
    proc = subprocess.run(
        [sys.executable, "-c", LLAMA_BUFFERS, str(path), str(n_ctx), "1" if flash_attn else "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    kv = re.findall(r"KV buffer size = +([\d.]+) MiB", proc.stderr)
    compute = re.findall(r"compute buffer size = +([\d.]+) MiB", proc.stderr)
    assert kv and compute, proc.stderr[-2000:]
    return round(sum(float(k) for k in kv) * MiB), round(float(compute[0]) * MiB)


@pytest.mark.parametrize(("n_ctx", "flash_attn"), [(2048, False), (8192, False), (8192, True)])
def test_estimates_match_llama_cpp_attention_bound(
    tmp_path: Path, n_ctx: int, flash_attn: bool
) -> None:
    path = write_tiny_llama(tmp_path / "tiny.gguf")
    shape = shape_from_header(check_gguf(path))
    kv, compute = llama_cpp_buffers(path, n_ctx, flash_attn)
    assert kv_cache_bytes(shape, n_ctx) == kv
    estimate = compute_buffer_bytes(shape, n_ctx, flash_attn=flash_attn)
    assert 0.9 * compute <= estimate <= 1.1 * compute, (estimate / MiB, compute / MiB)


def test_estimates_match_llama_cpp_logits_bound(gemma_path: Path) -> None:
    """Gemma's 262k vocabulary makes the logits the peak; its sliding-window layers still get
    full-size caches (swa_full), so the plain formula is exact."""
    shape = shape_from_header(check_gguf(gemma_path))
    kv, compute = llama_cpp_buffers(gemma_path, 4096, False)
    assert kv_cache_bytes(shape, 4096) == kv
    estimate = compute_buffer_bytes(shape, 4096)
    assert 0.9 * compute <= estimate <= 1.1 * compute, (estimate / MiB, compute / MiB)


# --- the planner on recorded profiles -------------------------------------------------------


def test_mistral_q4_k_m_on_8gb_is_full_at_8k() -> None:
    p = plan_of("nvidia-8gb", "mistral-7b", "Q4_K_M")
    assert (p.mode, p.fits, p.n_gpu_layers, p.n_layers_total) == ("full", True, 33, 32)
    assert fit_summary(p) == "full"
    assert p.kv_bytes == 1 << 30
    assert p.total_gpu_bytes == p.weights_bytes_gpu + p.kv_bytes + p.compute_bytes
    assert p.total_gpu_bytes <= p.gpu_budget_bytes < PROFILES["nvidia-8gb"].gpus[0].free_bytes
    assert p.max_ctx_full_offload >= 8192
    assert re.fullmatch(
        r"Q4_K_M fits fully on your 8 GiB GPU with an 8k context "
        r"\(needs \d\.\d\d GiB of GPU memory\)",
        p.explanation,
    ), p.explanation


def test_mixtral_q4_k_m_on_8gb_is_partial() -> None:
    p = plan_of("nvidia-8gb", "mixtral-8x7b", "Q4_K_M")
    assert p.mode == "partial" and p.fits
    assert 1 <= p.n_gpu_layers < 32
    assert fit_summary(p) == f"partial {p.n_gpu_layers}/32"
    assert p.explanation.startswith(
        f"Q4_K_M needs partial offload: {p.n_gpu_layers} of 32 layers on the GPU with an 8k context"
    )
    assert p.total_gpu_bytes <= p.gpu_budget_bytes
    assert p.ram_bytes > 15 * GiB  # the rest of the 26 GB file lives in RAM
    assert p.max_ctx_full_offload == 0


def test_cpu_only_machine() -> None:
    p = plan_of("cpu-only-16gb", "mistral-7b", "Q4_K_M", 4096)
    assert (p.mode, p.fits, p.n_gpu_layers, p.total_gpu_bytes) == ("cpu", True, 0, 0)
    assert p.ram_bytes > size("mistral-7b", "Q4_K_M")
    assert re.fullmatch(
        r"No GPU offload available: Q4_K_M runs on the CPU \(slow\); needs \d\.\d\d GiB RAM",
        p.explanation,
    ), p.explanation
    big = plan_of("cpu-only-16gb", "mixtral-8x7b", "Q4_K_M")
    assert not big.fits and fit_summary(big) == "too big"
    assert big.explanation.startswith("Q4_K_M is too big for this machine with an 8k context")


def test_gpu_with_cpu_only_build_says_so_and_how_to_fix() -> None:
    p = plan_of("nvidia-8gb-cpu-build", "mistral-7b", "Q4_K_M")
    assert p.mode == "cpu" and p.n_gpu_layers == 0 and p.fits
    assert p.warning is not None and "NVIDIA GeForce RTX 3070 is not used" in p.warning
    assert "built without GPU support" in p.explanation
    assert p.explanation.endswith(CUDA_REBUILD)
    assert plan_of("nvidia-8gb", "mistral-7b", "Q4_K_M").warning is None


def test_mac_unified_memory() -> None:
    p = plan_of("apple-m2-16gb", "mistral-7b", "Q4_K_M")
    assert p.mode == "full"
    assert "your Mac's GPU (16 GiB unified memory)" in p.explanation
    # the Metal budget is ~2/3 of RAM: Mixtral's smallest quant cannot be fully offloaded
    assert plan_of("apple-m2-16gb", "mixtral-8x7b", "Q2_K").mode != "full"


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("model", sorted(FILE_GB))
def test_bigger_quant_never_gets_more(profile: str, model: str) -> None:
    plans = [plan_of(profile, model, q) for q in QUANTS]
    for small, big in itertools.pairwise(plans):
        assert big.n_gpu_layers <= small.n_gpu_layers
        assert big.max_ctx_full_offload <= small.max_ctx_full_offload
        assert big.ram_bytes + big.total_gpu_bytes >= small.ram_bytes + small.total_gpu_bytes
        assert small.fits or not big.fits  # once too big, bigger quants are too big too
    for p in plans:
        assert p.fits == (fit_summary(p) != "too big")
        assert p.total_gpu_bytes <= max(p.gpu_budget_bytes, 0) or p.mode == "cpu"


@pytest.mark.parametrize("model", sorted(FILE_GB))
@pytest.mark.parametrize("quant", QUANTS)
def test_more_vram_never_gets_fewer_layers(model: str, quant: str) -> None:
    plans = [plan_of(p, model, quant) for p in NVIDIA_BY_VRAM]
    for small, big in itertools.pairwise(plans):
        assert big.n_gpu_layers >= small.n_gpu_layers
        assert big.max_ctx_full_offload >= small.max_ctx_full_offload


@pytest.mark.parametrize("profile", NVIDIA_BY_VRAM)
def test_longer_context_never_gets_more_layers(profile: str) -> None:
    for model in FILE_GB:
        layers = [
            plan_of(profile, model, "Q4_K_M", c).n_gpu_layers for c in (2048, 8192, 16384, 32768)
        ]
        assert layers == sorted(layers, reverse=True)


def test_largest_context_is_the_boundary() -> None:
    shape, hw = known_shape("mistral-7b"), PROFILES["nvidia-8gb"]
    file_bytes = size("mistral-7b", "Q4_K_M")
    ctx = largest_context(shape, file_bytes, hw)
    assert 8192 <= ctx < 32768 and ctx % 256 == 0
    assert plan(shape, file_bytes, ctx, hw).mode == "full"
    assert plan(shape, file_bytes, ctx + 256, hw).mode == "partial"
    # flash attention and a q8_0 cache both buy context
    fa = largest_context(shape, file_bytes, hw, flash_attn=True)
    q8 = largest_context(shape, file_bytes, hw, kv_type="q8_0")
    assert ctx < fa < q8
    assert plan(shape, file_bytes, 4096, hw, kv_type="q8_0").flash_attn  # llama.cpp needs it
    # trained context caps it
    assert largest_context(shape, file_bytes, PROFILES["nvidia-24gb"]) == 32768
    # nothing fits: 0
    assert (
        largest_context(
            known_shape("mixtral-8x7b"), size("mixtral-8x7b", "Q8_0"), PROFILES["cpu-only-16gb"]
        )
        == 0
    )


def test_partial_plan_fills_the_gpu_but_no_more() -> None:
    shape, hw = known_shape("mistral-7b"), PROFILES["nvidia-8gb"]
    p = plan_of("nvidia-8gb", "mistral-7b", "Q8_0")
    assert p.mode == "partial"
    per_layer = (
        p.weights_bytes_gpu + kv_cache_bytes(shape, 8192) * p.n_gpu_layers // 32
    ) // p.n_gpu_layers
    assert p.total_gpu_bytes <= p.gpu_budget_bytes < p.total_gpu_bytes + per_layer
    assert hw.gpus[0].free_bytes > p.gpu_budget_bytes


def test_plan_for_real_file(gemma_path: Path) -> None:
    p = plan_for_file(gemma_path, 4096, PROFILES["cpu-only-16gb"])
    assert p.mode == "cpu" and p.fits
    assert p.explanation.startswith("No GPU offload available: Q4_K_M runs on the CPU")
    full = plan_for_file(gemma_path, 32768, PROFILES["nvidia-8gb"])
    assert full.mode == "full" and full.max_ctx_full_offload == 32768


def test_bad_plan_arguments() -> None:
    with pytest.raises(ConfigError):
        plan(known_shape("mistral-7b"), 0, 4096, PROFILES["nvidia-8gb"])
    with pytest.raises(ConfigError):
        plan(known_shape("mistral-7b"), 10**9, 0, PROFILES["nvidia-8gb"])


def test_shape_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        ModelShape(32, 4096, 32, 8, 128, 32000, 14336)  # type: ignore[call-arg]


# --- a verdict that does not flap -------------------------------------------------------------


def with_free_ram(hw: Hardware, free: int) -> Hardware:
    from dataclasses import replace

    return replace(hw, ram_available=max(0, min(hw.ram_total, free)))


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_fit_verdict_is_the_same_as_free_ram_moves_by_2_gib(profile: str) -> None:
    """Free RAM moves by gigabytes with the page cache and other programs; the verdict is
    planned on total RAM with a stated reserve, so it stays put (the detail may say more)."""
    hw = PROFILES[profile]
    for model, quant in itertools.product(sorted(FILE_GB), QUANTS):
        verdicts = {
            fit_summary(plan(known_shape(model), size(model, quant), 8192, h, quant=quant))
            for h in (
                with_free_ram(hw, hw.ram_available - 2 * GiB),
                hw,
                with_free_ram(hw, hw.ram_available + 2 * GiB),
                with_free_ram(hw, 0),
            )
        }
        assert len(verdicts) == 1, (model, quant, verdicts)


def test_mixtral_q3_k_m_on_a_23_gib_machine_does_not_flip() -> None:
    """The machine of the report: 23.5 GiB RAM, 21.0 or 22.2 GB free, CPU build."""
    base = replace_ram(PROFILES["cpu-only-16gb"], total=25276514304)
    verdicts = []
    for free_gib in (21.0, 22.2):
        p = plan(
            known_shape("mixtral-8x7b"),
            size("mixtral-8x7b", "Q3_K_M"),
            8192,
            with_free_ram(base, int(free_gib * GiB)),
            quant="Q3_K_M",
        )
        verdicts.append(fit_summary(p))
        assert p.ram_budget_bytes == 25276514304 - int(25276514304 * 0.15)
    assert verdicts[0] == verdicts[1] == "too big"
    assert "of its 23.5 GiB (15%, at least 2 GiB, is left to the system" in p.explanation


def replace_ram(hw: Hardware, *, total: int) -> Hardware:
    from dataclasses import replace

    return replace(hw, ram_total=total, ram_available=total)


def test_a_fitting_model_with_little_free_ram_right_now_says_so() -> None:
    hw = with_free_ram(PROFILES["cpu-only-16gb"], 3 * GiB)
    p = plan_of_hw(hw, "mistral-7b", "Q4_K_M")
    assert p.fits and fit_summary(p) == "cpu"
    assert p.explanation.endswith(
        "only 3.00 GiB of RAM is free right now: close other programs before a long job"
    )


def plan_of_hw(hw: Hardware, model: str, quant: str) -> Plan:
    return plan(known_shape(model), size(model, quant), 8192, hw, quant=quant)


def test_gemma_has_a_known_shape_matching_its_header(gemma_path: Path) -> None:
    """A removed default model is still planned from the catalog (not 'unknown')."""
    header = shape_from_header(check_gguf(gemma_path))
    known = known_shape("gemma3-270m")
    for name in ("n_layer", "n_embd", "n_head", "n_head_kv", "head_dim", "n_vocab", "n_ff"):
        assert getattr(known, name) == getattr(header, name), name
    assert known.tied_embeddings and header.tied_embeddings
