"""Detection: GPUs (nvidia-smi, Apple Metal), RAM, physical cores, and the llama.cpp build.

May import: the ground floor only (``engine.errors``, ``engine.units``).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform as _platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
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
RAM_RESERVE_FRACTION = 0.15  # of total RAM, left to the system and other programs
RAM_RESERVE_MIN = 2 * GiB


def ram_budget(total: int) -> int:
    """RAM a model may plan on: total memory less the reserve (15%, at least 2 GiB)."""
    return max(0, total - max(RAM_RESERVE_MIN, int(total * RAM_RESERVE_FRACTION)))


RAM_RESERVE_WORDS = (
    f"{RAM_RESERVE_FRACTION:.0%}, at least {RAM_RESERVE_MIN // GiB} GiB, "
    "is left to the system and other programs"
)


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

    def ram_plan(self) -> int | None:
        """RAM a model may plan on (``ram_budget``); None when the total is unknown."""
        return ram_budget(self.ram_total) if self.ram_total else None

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
            notes.append(f"memory limited to {format_bytes(total)} by a cgroup")
        break
    if total and not available:
        available = total
        notes.append("free RAM unknown; assuming all RAM is free")
    return total, min(available, total), notes


def _cpuinfo_cores(text: str) -> int:
    """Distinct (physical id, core id) pairs in ``/proc/cpuinfo``: one per physical core."""
    pairs: set[tuple[str, str]] = set()
    phys = "0"
    for line in text.splitlines():
        key, _, value = (s.strip() for s in line.partition(":"))
        if key == "physical id":
            phys = value
        elif key == "core id":
            pairs.add((phys, value))
    return len(pairs)


def physical_cores() -> int:
    """Physical cores this process may use: the ONE count doctor reports and the llama.cpp
    worker runs on (hyper-threads slow llama.cpp down).

    ``/proc/cpuinfo`` core pairs (Linux), ``hw.physicalcpu`` (macOS), else the logical count;
    then at most the CPUs the scheduler lets this process use (containers, taskset).
    """
    cores = 0
    with contextlib.suppress(OSError):
        cores = _cpuinfo_cores(Path("/proc/cpuinfo").read_text(encoding="utf-8"))
    if not cores and sys.platform == "darwin":
        cores = int(_sysctl("hw.physicalcpu") or 0)
    if not cores:
        cores = os.cpu_count() or 1
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
        cpu_physical_cores=physical_cores(),
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
