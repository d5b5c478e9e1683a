"""What the runner (parent) and the worker (child) share: the pipe protocol, llama.cpp's own
decoding options, and the child's entry point by module name.

The protocol is small picklable tuples over a ``multiprocessing`` pipe:

parent -> child: ``("load", LoadOptions)``, ``("inspect", path)`` (check a file, keep nothing),
                 ``("tokenize", texts, add_bos, special)``,
                 ``("generate", prompt, gbnf, Sampling, DecodeOptions, shared_prefix)``
                 (``gbnf``: the constraint's grammar text, or None),
                 ``("close",)``
child -> parent: ``("progress", stage, done, total, rate)`` (any number, throttled), then one of
                 ``("ok", payload)``, ``("cancelled",)``, ``("error", kind, message)``

Error kinds: ``model_file``, ``config``, ``grammar``, ``generation``, ``context``, ``prompt``,
``internal`` (the runner maps each to an ``engine.errors`` exception).

The runner starts the child with ``child_main`` and ``WORKER_MODULE``, so it never imports the
worker (which imports llama.cpp) itself.

May import: ``engine.runtime.base`` and the ground floor; never llama.cpp.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

WORKER_MODULE = "engine.runtime.llamacpp.worker"


@dataclass(frozen=True)
class DecodeOptions:
    """llama.cpp-only decoding techniques; results are the same with or without them (up to
    the last bits of batched logits), only the number of decode steps changes."""

    # Text the grammar allows only one way is fed to the model in one batch, not sampled
    # token by token (see decoding.ForcedText).
    fast_forward: bool = True
    # Prompt-lookup drafts checked in the same decode (see decoding.Lookup): every token is
    # still sampled from the model's own distribution at its position, with fewer decode
    # steps. Batched logits differ from one-at-a-time ones in the last bits, so a sampled
    # run can differ from a draft=False run as it could on another CPU.
    draft: bool = True


class WorkerCancelled(Exception):
    """The parent set the cancel flag: the request ends with ``("cancelled",)``."""


class Failure(Exception):
    """An expected failure, reported to the parent as ``("error", kind, message)``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def child_main(module: str, *args: Any) -> None:
    """The child process's target: run ``module.worker_main(*args)`` (imported only here, in
    the child)."""
    importlib.import_module(module).worker_main(*args)
