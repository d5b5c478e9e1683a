"""The inference backend the summary pipeline sees: a loaded model that tokenizes and generates.

Two implementations: ``engine.runtime.llamacpp.runner.LlamaRunner`` (llama.cpp in vidsum's own
worker process)
and ``engine.runtime.server.http.ServerBackend`` (an OpenAI-compatible / llama-server endpoint). The
pipeline (``engine.pipeline.longform``, ``engine.pipeline.summarize``) is typed against this
Protocol only, so a
backend is a drop-in: same prompts, same grammar, same validation and retries.

This is the smallest honest version of the ``runtime`` Backend protocol asked for by the
architecture issue; the value types (``ModelInfo``, ``Sampling``, ``Generation``) still live in
``engine.runtime.llamacpp.runner`` and are re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from engine.progress import CancelToken, ProgressCallback
from engine.runtime.llamacpp.runner import Generation, ModelInfo, Sampling

__all__ = ["Backend", "Generation", "ModelInfo", "Sampling"]


@runtime_checkable
class Backend(Protocol):
    """A loaded model. One call at a time per instance; ``close`` is idempotent."""

    @property
    def info(self) -> ModelInfo: ...

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]: ...

    def count_tokens(self, texts: list[str], *, special: bool = True) -> list[int]: ...

    def generate(
        self,
        prompt: str,
        *,
        grammar: str | None,
        sampling: Sampling | None = None,
        shared_prefix: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Generation: ...

    def close(self) -> None: ...


if TYPE_CHECKING:  # mypy proves both backends satisfy the protocol
    from engine.runtime.llamacpp.runner import LlamaRunner
    from engine.runtime.server.http import ServerBackend

    def _conforms(local: LlamaRunner, server: ServerBackend) -> tuple[Backend, Backend]:
        return local, server
