"""What a summarize run asks for: where it runs (``Local`` or ``Servers``) and its options.

Plain value types that the faces build and ``engine.api.Engine.summarize`` takes; the batch
layer (``engine.batch.options``) fills what is not given from ``settings.json``, then from
vidsum's defaults. A leaf of the ground floor: it imports nothing of vidsum, so the faces may
import it at run time without loading the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Local", "Pick", "Servers", "Style", "SummarizeOptions", "Where"]

# auto: quotes for the bundled default model, abstractive for every other (a server's included).
Style = Literal["auto", "abstractive", "quotes"]
# Quote mode: the ranking alone picks a section's bullets, or the model among the ranking's top
# candidates (engine.pipeline.quotes.extractive.TOP_K).
Pick = Literal["rank", "model"]


@dataclass(frozen=True)
class Local:
    """On this machine: one model loaded for the batch (``model``: a catalog id, an installed
    model or a .gguf path; None: the default, else the automatic choice)."""

    model: str | None = None


@dataclass(frozen=True)
class Servers:
    """On the named inference-server profiles (``vidsum servers add``), several files in
    flight."""

    names: tuple[str, ...]


Where = Local | Servers


@dataclass(frozen=True)
class SummarizeOptions:
    """How a batch runs. ``None``: not given, so ``settings.json``, else vidsum's default."""

    n_ctx: int | None = None  # None: sized to the batch, within the model and the machine
    n_gpu_layers: int | None = None  # None: from the fit plan (-1: every layer)
    n_threads: int | None = None  # None: the physical cores free at load (engine.hardware.busy)
    seed: int | None = None
    temperature: float | None = None
    # Summarize again even when the library has this transcript with the same model, prompt
    # and grammar: the new summary replaces the stored one (same dedupe key, new id).
    force: bool = False
    style: Style = "auto"
    quote_pick: Pick = "rank"  # measured in EVALUATION.md
    # Tries of a summary whose answer fails the quality check (when all fail, the least flagged
    # answer is kept, marked failed). None: engine.pipeline.passes.attempts.MAX_ATTEMPTS.
    attempts: int | None = None
