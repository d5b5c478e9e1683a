"""What the machine offers a model: GPU and VRAM, RAM, and whether llama.cpp can use the GPU."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static

from tui import format as fmt


def hardware_text(hw: Any) -> str:
    lines = []
    gpu = hw.best_gpu()
    if gpu is None:
        lines.append("GPU    none detected: models run on the CPU")
    else:
        lines.append(
            f"GPU    {gpu.name} · {fmt.size(gpu.total_bytes)} VRAM, "
            f"{fmt.size(gpu.free_bytes)} free · {gpu.backend}"
        )
    build = hw.build
    version = (
        f"llama-cpp-python {build.llama_cpp_version}" if build.llama_cpp_version else "llama.cpp"
    )
    backends = ", ".join(build.backends) or "unknown"
    offload = "yes" if build.gpu_offload else "no"
    lines.append(f"Build  {version} · GPU offload: {offload} · backends: {backends}")
    lines.append(
        f"RAM    {fmt.size(hw.ram_total)}, {fmt.size(hw.ram_available)} available · "
        f"{hw.cpu_physical_cores} cores · {hw.platform}"
    )
    warning = hw.warning()
    if warning:
        lines.append(f"⚠ {warning}")
    lines.extend(f"· {note}" for note in hw.notes)
    return "\n".join(lines)


class HardwarePanel(Static):
    DEFAULT_CSS = """
    HardwarePanel {
        height: auto;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    HardwarePanel.-warning { border: round $warning; }
    """

    def on_mount(self) -> None:
        self.border_title = "Hardware"
        self.update("Detecting hardware…")

    def show(self, hw: Any) -> None:
        self.set_class(bool(hw.warning()), "-warning")
        self.update(Content(hardware_text(hw)))
