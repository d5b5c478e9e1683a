"""What this machine can run: GPU/RAM detection and the fit planner.

``detect()`` finds NVIDIA GPUs (nvidia-smi), Apple Metal (unified memory), RAM, physical cores,
and whether the installed llama-cpp-python build can offload to a GPU at all. ``plan()`` turns a
model shape, its file size and a context length into full / partial / CPU offload with the
numbers and a sentence for the user.

Memory model (llama.cpp, one GPU, layer split):
- weights: ``n_gpu_layers = L`` puts the *last* L repeating layers on the GPU; the output matrix
  joins them only when ``n_gpu_layers > n_layer``; the token embedding always stays on the CPU.
  Per-layer bytes are (file - token_embd - output) / n_layer.
- KV cache: 2 (K and V) x n_layer x n_ctx x n_head_kv x head_dim x bytes per element (f16 2,
  q8_0 34/32), split between GPU and CPU like the layers (offload_kqv). llama.cpp's default
  ``swa_full`` keeps full-size caches for sliding-window layers, so the window does not shrink it.
- compute buffer (estimate): float32 activations for one micro-batch,
  4 x n_ubatch x (max(n_vocab, attention) + 4 n_embd + 2 n_ff), where attention is
  n_ctx x (n_head + 1) without flash attention (one layer's KQ scores and mask: it dominates at
  long contexts) and n_ctx / 2 with it. The host side of an offloaded model keeps
  4 x n_ubatch x (n_embd + n_vocab).
- a safety margin of 5% + 300 MiB of the GPU budget covers the CUDA context and fragmentation.
- RAM: the verdict is planned on *total* memory less a stated reserve for the system and other
  programs (15%, at least 2 GiB), never on the free memory of the moment, which moves by
  gigabytes with the page cache and other programs and would make the verdict flap.
Memory sizes are binary and written as such (GiB, ``engine.units.format_bytes``).

The package: ``detect`` (this machine), ``busy`` (cores free now: the default threads),
``shapes`` (model geometry and sizes), ``plan`` (the planner). Everything is re-exported
here, so callers import from ``engine.hardware``.
May import: ``engine.modelfile.header`` and the ground floor.
"""

from engine.hardware.busy import default_threads, free_cores, idle_cpus
from engine.hardware.detect import (
    CUDA_REBUILD,
    GPU,
    METAL_GPU_SHARE,
    METAL_REBUILD,
    NVIDIA_SMI_QUERY,
    RAM_RESERVE_FRACTION,
    RAM_RESERVE_MIN,
    RAM_RESERVE_WORDS,
    BuildInfo,
    Hardware,
    build_info,
    build_warning,
    detect,
    parse_nvidia_smi,
    parse_system_info,
    physical_cores,
    ram_budget,
    rebuild_command,
)
from engine.hardware.plan import (
    CTX_STEP,
    MARGIN_BYTES,
    MARGIN_FRACTION,
    Mode,
    Plan,
    fit_summary,
    largest_context,
    plan,
    plan_for_file,
)
from engine.hardware.shapes import (
    KNOWN_SHAPES,
    KV_TYPE_BYTES,
    ModelShape,
    compute_buffer_bytes,
    host_compute_bytes,
    known_shape,
    kv_cache_bytes,
    shape_from_header,
    weight_split,
)
from engine.units import GiB, MiB

__all__ = [
    "CTX_STEP",
    "CUDA_REBUILD",
    "GPU",
    "KNOWN_SHAPES",
    "KV_TYPE_BYTES",
    "MARGIN_BYTES",
    "MARGIN_FRACTION",
    "METAL_GPU_SHARE",
    "METAL_REBUILD",
    "NVIDIA_SMI_QUERY",
    "RAM_RESERVE_FRACTION",
    "RAM_RESERVE_MIN",
    "RAM_RESERVE_WORDS",
    "BuildInfo",
    "GiB",
    "Hardware",
    "MiB",
    "Mode",
    "ModelShape",
    "Plan",
    "build_info",
    "build_warning",
    "compute_buffer_bytes",
    "default_threads",
    "detect",
    "fit_summary",
    "free_cores",
    "host_compute_bytes",
    "idle_cpus",
    "known_shape",
    "kv_cache_bytes",
    "largest_context",
    "parse_nvidia_smi",
    "parse_system_info",
    "physical_cores",
    "plan",
    "plan_for_file",
    "ram_budget",
    "rebuild_command",
    "shape_from_header",
    "weight_split",
]
