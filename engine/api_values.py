"""The wording and constants both faces show (the CLI and the TUI), re-exported by
``engine.api``: plain functions, not ``Engine`` methods, because they hold no state (so a fake
engine need not copy them).

Each imports its owner inside the function, so importing this module (every `vidsum` run, and
the TUI's start) stays light: ``tests/test_import_hygiene.py`` checks it.

May import (inside functions only): ``engine.batch``, ``engine.library``, ``engine.hardware``,
``engine.modelstore``, ``engine.runtime.base``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.library.records import Entry, EntryRow, Provenance
    from engine.modelstore.catalog import ModelStatus
    from engine.runtime.base import Sampling
    from engine.schema import Grounding


def passes_words(passes: int, attempts: int) -> str:
    """``1 pass``, ``21 passes, 23 attempts``: how a summary's run went."""
    from engine.batch.store import passes_words

    return passes_words(passes, attempts)


def ram_reserve_words() -> str:
    """How much RAM the fit planner leaves to the system, in words."""
    from engine.hardware import RAM_RESERVE_WORDS

    return RAM_RESERVE_WORDS


def failed_advice() -> str:
    """What to do about a summary that failed the quality check."""
    from engine.library.export import FAILED_ADVICE

    return FAILED_ADVICE


def failed_sentence(entry: Entry | EntryRow) -> str:
    """The one sentence every face shows for a failed summary: what and what to do."""
    from engine.library.export import failed_sentence

    return failed_sentence(entry)


def backend_label(backend: str, endpoint: str | None) -> str:
    """Where a summary ran, in a word or two: ``local`` or ``llama-server gpu-box``."""
    from engine.library.export import backend_label

    return backend_label(backend, endpoint)


def backend_text(provenance: Provenance) -> str:
    """Where a summary ran, in full: the local worker, or the server's endpoint, URL, build."""
    from engine.library.export import backend_text

    return backend_text(provenance)


def entry_markdown(entry: Entry) -> str:
    """One summary as Markdown (``library export``'s), from an entry already in hand."""
    from engine.library.export import entry_to_markdown

    return entry_to_markdown(entry)


def grounding_text(grounding: Grounding) -> str:
    """How much of a summary's wording occurs in its transcript, in one phrase."""
    from engine.library.export import grounding_text

    return grounding_text(grounding)


def row_to_json(row: EntryRow) -> dict[str, Any]:
    """One line of ``vidsum library list --json``."""
    from engine.library.export import row_to_json

    return row_to_json(row)


def default_sampling() -> Sampling:
    """vidsum's own sampling defaults (seed, temperature), before settings and flags."""
    from engine.runtime.base import Sampling

    return Sampling()


def backend_kinds() -> tuple[str, ...]:
    """Where a stored summary can have run: ``local`` (vidsum's llama.cpp worker), then the
    server dialects (``Provenance.backend``; ``vidsum library list --backend``)."""
    from engine.library.records import LOCAL_BACKEND
    from engine.runtime.base import DIALECTS

    return (LOCAL_BACKEND, *DIALECTS)


def delete_model_question(status: ModelStatus) -> str:
    """What deleting a model does (what goes, how much it frees, the default, the offline
    default's return from its package), asked before it is done."""
    from engine.modelstore.manager import delete_question

    return delete_question(status)


def server_dialects() -> tuple[str, ...]:
    """The inference-server dialects ``vidsum servers add --dialect`` accepts."""
    from engine.runtime.base import DIALECTS

    return DIALECTS
