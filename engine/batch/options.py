"""A batch's options, settled once: what the caller gave, else ``settings.json``, else defaults.

The faces hand in ``engine.runs.SummarizeOptions`` (``None``: not given); ``resolve`` fills it
from the settings and vidsum's defaults into ``RunOptions``, what both strategies (local and
servers) read. The one place where flags and settings meet. ``Job`` is what ``engine.batch.run``
hands a strategy: the library, the settled options and the caller's callbacks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from engine.library.store import Library
from engine.pipeline.passes.attempts import MAX_ATTEMPTS
from engine.progress import CancelToken, ProgressCallback
from engine.runs import Pick, Style, SummarizeOptions
from engine.runtime.base import Sampling

T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    """``SummarizeOptions`` with the settings and defaults filled in (see there)."""

    sampling: Sampling = field(default_factory=Sampling)
    n_ctx: int | None = None
    n_gpu_layers: int | None = None
    n_threads: int | None = None
    force: bool = False
    style: Style = "auto"
    quote_pick: Pick = "rank"
    attempts: int = MAX_ATTEMPTS


@dataclass(frozen=True)
class Job:
    """One batch as a strategy gets it. ``confirm``: asked before a big local batch."""

    library: Library
    options: RunOptions
    progress: ProgressCallback | None = None
    cancel: CancelToken | None = None
    confirm: Callable[[str], bool] | None = None


def resolve(options: SummarizeOptions | None = None) -> RunOptions:
    """Explicit values (CLI flags), else ``settings.json``, else vidsum's defaults. Raises
    ``ConfigError`` for a bad settings file."""
    from engine.settings import get_settings

    given = options or SummarizeOptions()
    st = get_settings()
    base = Sampling()
    seed = _first(given.seed, st.seed)
    temperature = _first(given.temperature, st.temperature)
    sampling = dataclasses.replace(
        base,
        seed=base.seed if seed is None else seed,
        temperature=base.temperature if temperature is None else temperature,
    )
    return RunOptions(
        sampling=sampling,
        n_ctx=_first(given.n_ctx, st.n_ctx),
        n_gpu_layers=_first(given.n_gpu_layers, st.gpu_layers),
        n_threads=_first(given.n_threads, st.threads),
        force=given.force,
        style=given.style,
        quote_pick=given.quote_pick,
        attempts=MAX_ATTEMPTS if given.attempts is None else given.attempts,
    )


def _first(flag: T | None, setting: T | None) -> T | None:
    """The flag when given, else the setting (None: neither)."""
    return flag if flag is not None else setting
