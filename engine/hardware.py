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
"""

from __future__ import annotations

import json
import math
import os
import platform as _platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from engine.errors import ConfigError, ModelError, ModelFileError
from engine.modelstore.gguf_check import GGUFHeader, check_gguf
from engine.units import GiB, MiB, format_bytes

CUDA_REBUILD = (
    'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir llama-cpp-python'
)
METAL_REBUILD = (
    'CMAKE_ARGS="-DGGML_METAL=on" pip install --force-reinstall --no-cache-dir llama-cpp-python'
)
NVIDIA_SMI_QUERY = [
    "--query-gpu=name,memory.total,memory.free",
    "--format=csv,noheader,nounits",
]
METAL_GPU_SHARE = 2 / 3  # Metal's recommended working set is about 2/3 of unified memory
MARGIN_FRACTION = 0.05
MARGIN_BYTES = 300 * MiB
RAM_RESERVE_FRACTION = 0.15  # of total RAM, left to the system and other programs
RAM_RESERVE_MIN = 2 * GiB
CTX_STEP = 256  # largest_context() answers in multiples of this

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

Mode = Literal["full", "partial", "cpu"]


# --- detection --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GPU:
    name: str
    total_bytes: int
    free_bytes: int
    backend: str  # "cuda" | "metal"


@dataclass(frozen=True)
class BuildInfo:
    gpu_offload: bool  # llama_supports_gpu_offload() of the installed build
    backends: tuple[str, ...]  # from llama_print_system_info(): "CPU", "CUDA", "Metal", ...
    llama_cpp_version: str | None


@dataclass(frozen=True)
class Hardware:
    gpus: tuple[GPU, ...]
    ram_total: int
    ram_available: int
    cpu_physical_cores: int
    platform: str  # "Linux x86_64", "Darwin arm64", ...
    build: BuildInfo
    notes: tuple[str, ...] = ()  # what detection could not find out, in words

    def best_gpu(self) -> GPU | None:
        """The GPU the planner uses: the one with the most free memory (no multi-GPU split)."""
        return max(self.gpus, key=lambda g: g.free_bytes or g.total_bytes, default=None)

    def warning(self) -> str | None:
        return build_warning(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hardware:
        try:
            build = data["build"]
            return cls(
                gpus=tuple(
                    GPU(str(g["name"]), int(g["total_bytes"]), int(g["free_bytes"]), g["backend"])
                    for g in data["gpus"]
                ),
                ram_total=int(data["ram_total"]),
                ram_available=int(data["ram_available"]),
                cpu_physical_cores=int(data["cpu_physical_cores"]),
                platform=str(data["platform"]),
                build=BuildInfo(
                    bool(build["gpu_offload"]),
                    tuple(str(b) for b in build["backends"]),
                    build.get("llama_cpp_version"),
                ),
                notes=tuple(str(n) for n in data.get("notes", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"Hardware profile is malformed: {exc!r}.") from exc

    @classmethod
    def from_json(cls, text: str) -> Hardware:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Hardware profile is not valid JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise ConfigError("Hardware profile must be a JSON object.")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: Path) -> Hardware:
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read hardware profile: {exc.strerror}.") from exc
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.message}") from exc


def parse_nvidia_smi(text: str) -> tuple[list[GPU], list[str]]:
    """Parse ``name, total MiB, free MiB`` lines; unparsable lines become notes."""
    gpus: list[GPU] = []
    notes: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.rsplit(",", 2)]
        try:
            name, total, free = parts[0], int(float(parts[1])), int(float(parts[2]))
        except (IndexError, ValueError):
            notes.append(f"could not read nvidia-smi line {line.strip()!r}")
            continue
        gpus.append(GPU(name, total * MiB, free * MiB, "cuda"))
    return gpus, notes


def _nvidia_gpus(timeout: float) -> tuple[list[GPU], list[str]]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return [], []
    try:
        proc = subprocess.run(
            [exe, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return [], [f"nvidia-smi did not answer within {timeout:g} s; NVIDIA GPUs not detected"]
    except OSError as exc:
        return [], [f"nvidia-smi could not run ({exc.strerror}); NVIDIA GPUs not detected"]
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        why = msg[0] if msg else f"exit status {proc.returncode}"
        return [], [f"nvidia-smi failed ({why}); NVIDIA GPUs not detected"]
    return parse_nvidia_smi(proc.stdout)


def _sysctl(name: str) -> str | None:
    exe = shutil.which("sysctl") or "/usr/sbin/sysctl"
    try:
        out = subprocess.run(
            [exe, "-n", name], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _memory() -> tuple[int, int, list[str]]:
    """(total, available) RAM in bytes, capped by a cgroup limit (containers)."""
    notes: list[str] = []
    total = available = 0
    try:
        info = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) * 1024
        total = info.get("MemTotal", 0)
        available = info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, ValueError, IndexError):
        pass
    if not total and hasattr(os, "sysconf"):
        try:
            page = os.sysconf("SC_PAGE_SIZE")
            total = page * os.sysconf("SC_PHYS_PAGES")
            available = page * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError):
            pass
    if not total and sys.platform == "darwin":
        total = int(_sysctl("hw.memsize") or 0)
    if not total:
        notes.append("could not read the amount of RAM")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and 0 < int(raw) < (total or 1 << 62):
            total = int(raw)
            notes.append(f"memory limited to {_gb(total)} by a cgroup")
        break
    if total and not available:
        available = total
        notes.append("free RAM unknown; assuming all RAM is free")
    return total, min(available, total), notes


def _physical_cores() -> int:
    cores = 0
    try:
        pairs = set()
        phys = "0"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (s.strip() for s in line.partition(":"))
            if key == "physical id":
                phys = value
            elif key == "core id":
                pairs.add((phys, value))
        cores = len(pairs)
    except OSError:
        pass
    if not cores and sys.platform == "darwin":
        cores = int(_sysctl("hw.physicalcpu") or 0)
    logical = os.cpu_count() or 1
    if not cores:
        cores = logical
    if hasattr(os, "sched_getaffinity"):  # containers and taskset restrict us further
        cores = min(cores, len(os.sched_getaffinity(0)))
    return max(1, cores)


_BUILD_PROBE = (
    "import json, llama_cpp as l\n"
    "info = l.llama_print_system_info()\n"
    "info = info.decode('utf-8', 'replace') if isinstance(info, bytes) else str(info)\n"
    "print(json.dumps({'version': getattr(l, '__version__', None),"
    " 'offload': bool(l.llama_supports_gpu_offload()), 'info': info}))\n"
)


def parse_system_info(info: str) -> tuple[str, ...]:
    """Backend names from llama_print_system_info(): 'CUDA : ARCHS = 860 | ... | CPU : ...'."""
    names = re.findall(r"(?:^|\|)\s*([A-Za-z][\w-]*) : ", info)
    return tuple(dict.fromkeys(names))


@lru_cache(maxsize=1)
def build_info() -> tuple[BuildInfo, tuple[str, ...]]:
    """Ask the installed llama-cpp-python what it can do, in a child process: loading the
    native library (and a GPU runtime) must not be able to crash the caller."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _BUILD_PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        data = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError):
        data = None
    if not isinstance(data, dict):
        return BuildInfo(False, (), None), (
            "llama-cpp-python could not be loaded; GPU offload support unknown",
        )
    return BuildInfo(bool(data["offload"]), parse_system_info(data["info"]), data["version"]), ()


def detect(*, nvidia_smi_timeout: float = 5.0) -> Hardware:
    """Describe this machine. Never raises for missing tools: what is unknown goes to notes."""
    notes: list[str] = []
    ram_total, ram_available, mem_notes = _memory()
    notes += mem_notes
    gpus, gpu_notes = _nvidia_gpus(nvidia_smi_timeout)
    notes += gpu_notes
    system, machine = _platform.system(), _platform.machine()
    if system == "Darwin" and machine == "arm64":
        chip = _sysctl("machdep.cpu.brand_string") or "Apple Silicon"
        budget = int(ram_total * METAL_GPU_SHARE)
        gpus.append(GPU(f"{chip} GPU", budget, budget, "metal"))
    build, build_notes = build_info()
    notes += build_notes
    return Hardware(
        gpus=tuple(gpus),
        ram_total=ram_total,
        ram_available=ram_available,
        cpu_physical_cores=_physical_cores(),
        platform=f"{system} {machine}",
        build=build,
        notes=tuple(notes),
    )


def rebuild_command(backend: str) -> str:
    return METAL_REBUILD if backend == "metal" else CUDA_REBUILD


def build_warning(hw: Hardware) -> str | None:
    """The most common silent failure: a GPU in the machine, a CPU-only llama-cpp-python."""
    gpu = hw.best_gpu()
    if gpu is None or hw.build.gpu_offload:
        return None
    version = f" {hw.build.llama_cpp_version}" if hw.build.llama_cpp_version else ""
    return (
        f"Your {gpu.name} is not used: the installed llama-cpp-python{version} was built without "
        "GPU support, so models run on the CPU, many times slower. Rebuild it with: "
        f"{rebuild_command(gpu.backend)}"
    )


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
    size" on CPU (tests/test_hardware.py): within a few percent.
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


def _budget(n: int) -> int:
    return max(0, int(n * (1 - MARGIN_FRACTION)) - MARGIN_BYTES)


def ram_budget(total: int) -> int:
    """RAM a model may plan on: total memory less the reserve (15%, at least 2 GiB)."""
    return max(0, total - max(RAM_RESERVE_MIN, int(total * RAM_RESERVE_FRACTION)))


RAM_RESERVE_WORDS = (
    f"{RAM_RESERVE_FRACTION:.0%}, at least {RAM_RESERVE_MIN // GiB} GiB, "
    "is left to the system and other programs"
)


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
    usable = gpu is not None and hw.build.gpu_offload
    gpu_budget = _budget(gpu.free_bytes or gpu.total_bytes) if usable and gpu else None
    # unknown RAM (0) must not make every model "too big": only the GPU is judged then.
    # Total RAM, not free RAM: the verdict must not flap as other programs come and go.
    ram_plan = ram_budget(hw.ram_total) if hw.ram_total else 1 << 62

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

    what = quant or "the model"
    ctx = _ctx_words(n_ctx)
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
