"""CPU features llama.cpp may use that a machine advertises but cannot run.

llama.cpp's "extra buffer types" repack weights for CPU kernels chosen from the CPU's flags (AMX
tiles among them, on a native build). Under some hypervisors a CPU advertises AMX, the kernel
grants the tile permission, and the first tile instruction still dies with SIGILL (seen on this
project's CI machines: every Q4_K model crashed in its first decode). Without the extra buffers
llama.cpp uses its plain CPU kernels, which run everywhere. ``VIDSUM_CPU_REPACK=1`` (or ``0``)
overrides the guess for a machine whose AMX works (or whose other repacks fail).

Ground floor: imports nothing from engine.
"""

from __future__ import annotations

import functools
import os
from typing import Any

ENV = "VIDSUM_CPU_REPACK"
# Flags whose kernels have been seen to fault under a hypervisor that advertises them.
_UNRELIABLE = ("amx_tile", "amx_int8", "amx_bf16")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def extra_buffers_allowed() -> bool:
    """Whether llama.cpp may repack weights into its extra CPU buffer types here."""
    forced = os.environ.get(ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return not any(flag in cpu_flags() for flag in _UNRELIABLE)


def patch_default_params(llama_cpp: Any) -> None:
    """Make ``llama_model_default_params()`` of a loaded llama_cpp module follow
    ``extra_buffers_allowed()`` (for code that builds ``llama_cpp.Llama`` itself: the naive
    baseline of the benchmark, and tests). Idempotent."""
    low = llama_cpp.llama_cpp
    original = low.llama_model_default_params
    if getattr(original, "_vidsum_patched", False):
        return
    allowed = extra_buffers_allowed()

    def default_params() -> Any:
        params = original()
        params.use_extra_bufts = allowed
        return params

    default_params._vidsum_patched = True  # type: ignore[attr-defined]
    low.llama_model_default_params = default_params
    llama_cpp.llama_model_default_params = default_params
