"""What the installed llama-cpp-python build can do (for `vidsum doctor`).

Imports ``llama_cpp`` in this process, so only ``doctor`` calls it (the pipeline never does:
llama.cpp runs in the worker process).
"""

from __future__ import annotations

from typing import Any


def llama_build() -> dict[str, Any]:
    """The llama-cpp-python version, GPU offload and system info, or why it cannot load."""
    try:
        import llama_cpp
    except Exception as exc:  # a broken native build is exactly what doctor should report
        return {"installed": False, "error": f"{type(exc).__name__}: {exc}"}
    info: dict[str, Any] = {"installed": True, "version": getattr(llama_cpp, "__version__", "?")}
    try:
        info["gpu_offload"] = bool(llama_cpp.llama_supports_gpu_offload())
        raw = llama_cpp.llama_print_system_info()
        info["system_info"] = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    except Exception as exc:
        info["error"] = f"{type(exc).__name__}: {exc}"
    if info.get("gpu_offload") is False:
        info["hint"] = (
            "This llama-cpp-python build runs on the CPU only. For an NVIDIA GPU reinstall it with "
            'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir '
            'llama-cpp-python (Apple Silicon: CMAKE_ARGS="-DGGML_METAL=on").'
        )
    return info
