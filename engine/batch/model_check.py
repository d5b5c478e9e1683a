"""Whether llama.cpp can load a model file, and whether vidsum can render its chat template.

The model store registers local files but sits below the runtime and the pipeline, so the
Engine hands it this check (``engine.modelstore.local.FileCheck``).
May import: ``engine.runtime.backends`` / ``base``, ``engine.pipeline.prompts.prompting``, ground
floor.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import ModelFileError
from engine.pipeline.prompts.prompting import ChatTemplateError, check_chat_template
from engine.progress import CancelToken, Progress, ProgressCallback, emit
from engine.runtime.backends import inspect_local


def llama_check(
    path: Path, chat_format: str, progress: ProgressCallback | None, cancel: CancelToken | None
) -> None:
    """Refuse a file llama.cpp cannot load, or whose chat template cannot be rendered."""
    emit(progress, Progress("load", message=f"Checking that llama.cpp can load {path.name}"))
    checked = inspect_local(path, progress=None, cancel=cancel)
    if chat_format == "gguf-template" and checked.chat_template:
        try:
            check_chat_template(checked.chat_template, checked.bos_text, checked.eos_text)
        except ChatTemplateError as exc:
            raise ModelFileError(
                path,
                f"{exc} It was not added (add it with `--chat-format mistral-instruct` if it "
                "uses that format).",
            ) from None
