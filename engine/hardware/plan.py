"""The fit planner: full / partial / CPU offload for a shape, a file size and a context,
with the numbers and a sentence for the user.

May import: ``engine.hardware.detect`` / ``shapes``, ``engine.modelfile.header``, ground.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.errors import ConfigError
from engine.hardware.detect import (
    GPU,
    RAM_RESERVE_WORDS,
    Hardware,
    build_warning,
    ram_budget,
)
from engine.hardware.shapes import (
    _UNQUANTIZED_KV,
    ModelShape,
    _kv_type_bytes,
    compute_buffer_bytes,
    host_compute_bytes,
    kv_cache_bytes,
    shape_from_header,
    weight_split,
)
from engine.modelfile.header import check_gguf
from engine.units import GiB, MiB, format_bytes

MARGIN_FRACTION = 0.05
MARGIN_BYTES = 300 * MiB
CTX_STEP = 256  # largest_context() answers in multiples of this

Mode = Literal["full", "partial", "cpu"]


def _budget(n: int) -> int:
    return max(0, int(n * (1 - MARGIN_FRACTION)) - MARGIN_BYTES)


def _gb(n: float) -> str:
    return format_bytes(n)


def _ctx_words(n_ctx: int) -> str:
    """'a 16k context', 'an 8k context', 'a 3,000-token context'."""
    words = f"{n_ctx // 1024}k" if n_ctx % 1024 == 0 else f"{n_ctx:,}-token"
    digits = words.split("k")[0].split("-")[0].replace(",", "")
    spoken_vowel = (
        digits.startswith("8")
        or digits in ("11", "18")
        or (
            len(digits) == 5 and digits[:2] in ("11", "18")  # eleven/eighteen thousand
        )
    )
    return f"{'an' if spoken_vowel else 'a'} {words}"


def _gpu_words(gpu: GPU, hw: Hardware) -> str:
    if gpu.backend == "metal":
        return f"Mac's GPU ({round(hw.ram_total / GiB)} GiB unified memory)"
    return f"{round(gpu.total_bytes / GiB)} GiB GPU"


@dataclass(frozen=True)
class Plan:
    mode: Mode
    n_gpu_layers: int  # pass to llama.cpp; full offload = n_layers_total + 1 (output layer too)
    n_layers_total: int
    weights_bytes_gpu: int
    kv_bytes: int  # whole KV cache (GPU and CPU parts)
    compute_bytes: int
    total_gpu_bytes: int
    ram_bytes: int
    max_ctx_full_offload: int  # 0: no context fits fully on the GPU
    kv_type: str
    fits: bool
    explanation: str
    n_ctx: int = 0
    flash_attn: bool = False
    gpu_budget_bytes: int = 0
    ram_budget_bytes: int = 0
    warning: str | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Need:
    mode: Mode
    n_gpu_layers: int
    weights_gpu: int
    kv_gpu: int
    compute_gpu: int
    ram: int

    @property
    def gpu(self) -> int:
        return self.weights_gpu + self.kv_gpu + self.compute_gpu


def _need(
    shape: ModelShape,
    file_bytes: int,
    n_ctx: int,
    gpu_budget: int | None,
    kv_type: str,
    flash_attn: bool,
    n_ubatch: int,
) -> _Need:
    """Memory for the best mode within ``gpu_budget`` (None: no usable GPU)."""
    embd, out, layer = weight_split(shape, file_bytes)
    kv = kv_cache_bytes(shape, n_ctx, kv_type)
    kv_layer = kv / max(1, shape.n_layer)
    compute = compute_buffer_bytes(shape, n_ctx, n_ubatch=n_ubatch, flash_attn=flash_attn)
    cpu = _Need("cpu", 0, 0, 0, 0, file_bytes + kv + compute)
    if gpu_budget is None:
        return cpu
    out_gpu = embd if shape.tied_embeddings else out  # tied: llama.cpp copies it to the GPU
    full = _Need(
        "full",
        shape.n_layer + 1,
        layer * shape.n_layer + out_gpu,
        kv,
        compute,
        embd + host_compute_bytes(shape, n_ubatch=n_ubatch),
    )
    if full.gpu <= gpu_budget:
        return full
    per_layer = layer + kv_layer
    n = int((gpu_budget - compute) // per_layer) if per_layer > 0 else 0
    n = max(0, min(n, shape.n_layer))
    if n == 0:
        return cpu
    kv_gpu = math.ceil(kv_layer * n)
    return _Need(
        "partial", n, layer * n, kv_gpu, compute, file_bytes - layer * n + (kv - kv_gpu) + compute
    )


def _explain(
    need: _Need,
    shape: ModelShape,
    hw: Hardware,
    gpu: GPU | None,
    *,
    fits: bool,
    ram_plan: int,
    warning: str | None,
    what: str,
    ctx: str,
) -> str:
    """The planner's sentence for the user: the verdict, its numbers, and what to do."""
    ram_words = f"needs {_gb(need.ram)} RAM"
    if not fits:
        on_gpu = f" beside {_gb(need.gpu)} on the GPU" if need.gpu else ""
        explanation = (
            f"{what} is too big for this machine with {ctx} context: it needs "
            f"{_gb(need.ram)} RAM{on_gpu} but vidsum plans on at most {_gb(ram_plan)} of "
            f"its {_gb(hw.ram_total)} ({RAM_RESERVE_WORDS}); "
            "try a smaller quant or a shorter context"
        )
    elif need.mode == "full":
        assert gpu is not None
        explanation = (
            f"{what} fits fully on your {_gpu_words(gpu, hw)} with {ctx} context "
            f"(needs {_gb(need.gpu)} of GPU memory)"
        )
    elif need.mode == "partial":
        explanation = (
            f"{what} needs partial offload: {need.n_gpu_layers} of {shape.n_layer} layers on the "
            f"GPU with {ctx} context ({_gb(need.gpu)} GPU memory, {_gb(need.ram)} RAM); "
            "slower than full offload"
        )
    elif gpu is None:
        explanation = f"no GPU offload available: {what} runs on the CPU (slow); {ram_words}"
    elif warning:
        explanation = f"{what} runs on the CPU (slow); {ram_words}. {warning}"
    else:
        explanation = (
            f"{what} does not fit on your {_gpu_words(gpu, hw)} even in part: it runs on the "
            f"CPU (slow); {ram_words}"
        )
    if fits and hw.ram_available and need.ram > hw.ram_available:
        explanation += (
            f"; only {_gb(hw.ram_available)} of RAM is free right now: close other programs "
            "before a long job"
        )
    if not fits and warning:
        explanation += f". {warning}"
    explanation = explanation[0].upper() + explanation[1:]
    return explanation


def _budgets(hw: Hardware, gpu: GPU | None) -> tuple[int | None, int]:
    """(GPU bytes a model may plan on, None without a usable GPU; RAM bytes it may plan on)."""
    usable = gpu is not None and hw.build.gpu_offload
    gpu_budget = _budget(gpu.free_bytes or gpu.total_bytes) if usable and gpu else None
    # unknown RAM (0) must not make every model "too big": only the GPU is judged then.
    # Total RAM, not free RAM: the verdict must not flap as other programs come and go.
    ram_plan = ram_budget(hw.ram_total) if hw.ram_total else 1 << 62
    return gpu_budget, ram_plan


def plan(
    shape: ModelShape,
    file_bytes: int,
    n_ctx: int,
    hw: Hardware,
    *,
    kv_type: str = "f16",
    flash_attn: bool = False,
    n_ubatch: int = 512,
    quant: str | None = None,
) -> Plan:
    """Plan GPU offload for ``shape`` stored in ``file_bytes`` bytes at context ``n_ctx``.

    ``quant`` only names the model in the explanation ("Q4_K_M fits fully ...").
    A quantized ``kv_type`` turns ``flash_attn`` on (llama.cpp needs it for a quantized V cache).
    """
    if n_ctx <= 0 or file_bytes <= 0:
        raise ConfigError(f"Cannot plan for a context of {n_ctx} tokens and {file_bytes} bytes.")
    _kv_type_bytes(kv_type)
    flash_attn = flash_attn or kv_type not in _UNQUANTIZED_KV
    gpu = hw.best_gpu()
    warning = build_warning(hw)
    gpu_budget, ram_plan = _budgets(hw, gpu)

    need = _need(shape, file_bytes, n_ctx, gpu_budget, kv_type, flash_attn, n_ubatch)
    fits = need.ram <= ram_plan and (gpu_budget is None or need.gpu <= gpu_budget)
    max_full = 0
    if gpu_budget is not None:
        max_full = _largest(
            shape,
            lambda c: (
                _need(shape, file_bytes, c, gpu_budget, kv_type, flash_attn, n_ubatch).mode
                == "full"
            ),
        )

    explanation = _explain(
        need,
        shape,
        hw,
        gpu,
        fits=fits,
        ram_plan=ram_plan,
        warning=warning,
        what=quant or "the model",
        ctx=_ctx_words(n_ctx),
    )

    return Plan(
        mode=need.mode,
        n_gpu_layers=need.n_gpu_layers,
        n_layers_total=shape.n_layer,
        weights_bytes_gpu=need.weights_gpu,
        kv_bytes=kv_cache_bytes(shape, n_ctx, kv_type),
        compute_bytes=compute_buffer_bytes(shape, n_ctx, n_ubatch=n_ubatch, flash_attn=flash_attn),
        total_gpu_bytes=need.gpu,
        ram_bytes=need.ram,
        max_ctx_full_offload=max_full,
        kv_type=kv_type,
        fits=fits,
        explanation=explanation,
        n_ctx=n_ctx,
        flash_attn=flash_attn,
        gpu_budget_bytes=gpu_budget or 0,
        ram_budget_bytes=ram_plan,
        warning=warning,
    )


def _largest(shape: ModelShape, ok: Any) -> int:
    """Largest multiple of CTX_STEP up to the trained context for which ok(ctx) holds
    (memory need grows with the context, so binary search)."""
    hi = (shape.n_ctx_train or 131072) // CTX_STEP
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid * CTX_STEP):
            lo = mid
        else:
            hi = mid - 1
    return lo * CTX_STEP


def largest_context(
    shape: ModelShape,
    file_bytes: int,
    hw: Hardware,
    *,
    kv_type: str = "f16",
    flash_attn: bool = False,
    n_ubatch: int = 512,
) -> int:
    """The largest context (multiple of 256, at most the trained one) that runs in the best mode
    this machine offers the model: full offload if any context gets it, else anything that fits.
    0 when nothing fits."""

    def at(c: int) -> Plan:
        return plan(
            shape, file_bytes, c, hw, kv_type=kv_type, flash_attn=flash_attn, n_ubatch=n_ubatch
        )

    smallest = at(CTX_STEP)
    if not smallest.fits:
        return 0
    if smallest.mode == "full":
        return smallest.max_ctx_full_offload

    def ok(c: int) -> bool:
        return at(c).fits

    return _largest(shape, ok)


def fit_summary(p: Plan) -> str:
    """Short label for tables: "full", "partial 24/32", "cpu", "too big"."""
    if not p.fits:
        return "too big"
    if p.mode == "partial":
        return f"partial {p.n_gpu_layers}/{p.n_layers_total}"
    return p.mode


def plan_for_file(
    path: Path, n_ctx: int, hw: Hardware, *, kv_type: str = "f16", flash_attn: bool = False
) -> Plan:
    """Check a GGUF file's header and plan it with its exact shape."""
    header = check_gguf(path)
    return plan(
        shape_from_header(header),
        header.file_bytes,
        n_ctx,
        hw,
        kv_type=kv_type,
        flash_attn=flash_attn,
        quant=header.quant,
    )
