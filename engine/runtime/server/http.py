"""``ServerBackend``: the ``engine.runtime.base.Backend`` protocol over an inference server's HTTP
API, and the grammar canary.

What differs between dialects (the request, the tokenizer, the stream's events and counts) is
asked of the endpoint's class in ``engine.runtime.server.dialects``, which also finds the
dialect; the HTTP (retries, ``Retry-After``, the stall timeout, size caps) is
``engine.runtime.server.client``; the event stream is parsed by ``engine.runtime.server.sse``.
May import: ``engine.runtime.base``, ``client``, ``dialects``, ``sse`` and the ground floor;
never llama.cpp nor the pipeline.

Every answer streams, so progress (tokens, tok/s) reaches the callback, and a cancel shuts the
socket down within ~0.2 s (llama-server then drops the task). A ``stop_type=limit`` /
``finish_reason=length`` answer comes back with ``stop_reason="length"``, which the pipeline
treats as a failed attempt. A stream that sends more pieces than the tokens asked for is cut at
once (``ServerRejected``); one that ends without saying it is finished is retried as cut short
and, when every attempt is, reported as such (``ServerUnavailable``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.progress import CancelToken, Progress, ProgressCallback, emit
from engine.runtime.base import (
    Backend,
    Constraint,
    Generation,
    GrammarNotHonoured,
    ModelInfo,
    Sampling,
    ServerInfo,
    ServerRejected,
)
from engine.runtime.server.client import Client
from engine.runtime.server.dialect_classes import ServerDialect, dialect_for
from engine.runtime.server.sse import Retryable

CANARY_GRAMMAR = 'root ::= "ok-42"'
CANARY_TEXT = "ok-42"
CANARY_PROMPT = "Write a long story about a dragon who learns to fly. Once upon a time"
CANARY = Constraint("canary", CANARY_GRAMMAR)


class ServerBackend:
    """One model on one endpoint, as a ``Backend``. One request at a time per instance (the
    batch gives each slot its own instance); ``close`` only drops local state."""

    def __init__(self, server: ServerInfo, api_key: str | None = None) -> None:
        self.server = server
        self._client = Client(server.name, server.url, api_key)
        self._dialect = dialect_for(server, self._client)
        self._info = ModelInfo(
            path=Path(server.model_path or server.model),
            n_ctx=server.n_ctx,
            n_ctx_train=server.n_ctx,
            n_vocab=0,
            n_layer=0,
            n_embd=0,
            architecture="server",
            chat_template=server.chat_template,
            bos=-1,
            eos=-1,
            gpu_offload=False,
            n_gpu_layers=0,
            expert_count=0,
            bos_text=server.bos_text,
            eos_text=server.eos_text,
            add_bos=bool(server.bos_text),
            description=f"{server.dialect} {server.name} at {server.url}",
            grammar_server="" if server.schema_only else server.name,
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        return self._dialect.tokenize(text, add_bos=add_bos, special=special)

    def count_tokens(self, texts: list[str], *, special: bool = True) -> list[int]:
        return [len(self.tokenize(t, special=special)) for t in texts]

    def generate(
        self,
        prompt: str,
        *,
        constraint: Constraint | None,
        sampling: Sampling | None = None,
        shared_prefix: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Generation:
        """Complete ``prompt`` under ``constraint`` (in the form the dialect takes) on the
        server, streaming progress.

        ``shared_prefix`` is accepted for the protocol; llama-server reuses the slot's cache by
        itself (``cache_prompt``), so a server answer is not bit-for-bit independent of what the
        slot held before (unlike the local worker's)."""
        del shared_prefix
        s = sampling or Sampling()
        item = self.server.name
        started = time.monotonic()
        stream = _Stream(self._dialect, s.max_tokens, item, progress)
        path, body, n_prompt = self._dialect.request(prompt, constraint, s)
        emit(
            progress,
            Progress(
                "prompt",
                0,
                n_prompt or None,
                unit="tok",
                item=item,
                message=f"Sending the prompt to {self.server.name}",
                extra={"endpoint": self.server.name},
            ),
        )
        self._client.stream(
            path,
            body,
            stream.on_event,
            cancel=cancel,
            reset=stream.reset,
            ended=stream.ended,
            max_tokens=s.max_tokens,
            progress=progress,
        )
        return stream.generation(n_prompt, started, time.monotonic())

    def close(self) -> None:
        """Nothing to free locally (each request has its own connection)."""


class _Stream:
    """One streamed answer: its pieces, progress as they arrive, and the final counts."""

    def __init__(
        self, dialect: ServerDialect, max_tokens: int, item: str, progress: ProgressCallback | None
    ) -> None:
        self.dialect = dialect
        self.max_tokens = max_tokens
        self.item = item
        self.progress = progress
        self.state: dict[str, Any] = {}

    def reset(self) -> None:
        state = self.state
        state.clear()
        state.update(text=[], n=0, first=None, stop=None, final={}, usage={})

    def on_event(self, ev: dict[str, Any]) -> None:
        state = self.state
        piece = self.dialect.read_event(ev, state)
        if piece:
            state["text"].append(piece)
            state["n"] += 1
            if state["n"] > self.max_tokens:
                # Every dialect sends at most one piece per token: the server ignores the limit.
                raise ServerRejected(
                    f"Server {self.item} kept sending past the {self.max_tokens}-token limit "
                    "of the request; vidsum cut its answer off."
                )
            now = time.monotonic()
            if state["first"] is None:
                state["first"] = now
            elapsed = now - state["first"]
            rate = (state["n"] - 1) / elapsed if elapsed > 0 else None
            emit(
                self.progress,
                Progress(
                    "generate",
                    state["n"],
                    self.max_tokens,
                    rate=rate,
                    unit="tok",
                    item=self.item,
                    extra={"endpoint": self.item},
                ),
            )

    def ended(self) -> None:
        """A stream that ended without saying it was finished was cut short: retried."""
        if self.state["stop"] is not None:
            return
        raise Retryable(
            self.dialect.cut_short
            or "its answer was cut short: the stream ended without saying the answer was "
            f"finished ({self.state['n']} pieces in)"
        )

    def generation(self, n_prompt: int, started: float, ended: float) -> Generation:
        state = self.state
        counts = self.dialect.counts(state, n_prompt, started, ended)
        return Generation(
            text="".join(state["text"]),
            prompt_tokens=counts.prompt_tokens,
            prompt_evaluated=counts.prompt_evaluated,
            prompt_seconds=counts.prompt_seconds,
            generated_tokens=counts.generated_tokens,
            generation_seconds=counts.generation_seconds,
            stop_reason="length" if state["stop"] in ("limit", "length") else "stop",
        )


def canary(backend: ServerBackend, cancel: CancelToken | None = None) -> str:
    """Ask for text a one-string grammar allows only as ``ok-42``; raise
    ``GrammarNotHonoured`` when anything else comes back. Returns the answer."""
    server = backend.server
    try:
        gen = backend.generate(
            CANARY_PROMPT,
            constraint=CANARY,
            sampling=Sampling(temperature=1.0, seed=42, max_tokens=32),
            cancel=cancel,
        )
    except ServerRejected as exc:
        raise GrammarNotHonoured(
            f"Server {server.name} ({server.url}) rejected a grammar-constrained request, so "
            f"vidsum cannot guarantee the summary's shape there: {exc}"
        ) from None
    if gen.text.strip() != CANARY_TEXT:
        raise GrammarNotHonoured(
            f"Server {server.name} ({server.url}, dialect {server.dialect}) ignored the grammar: "
            f"asked for output that can only be {CANARY_TEXT!r}, it answered "
            f"{gen.text[:60]!r}. vidsum refuses servers that do not enforce grammars; use the "
            "openai-schema dialect for a schema-only endpoint."
        )
    return gen.text


if TYPE_CHECKING:

    def _conforms(backend: ServerBackend) -> Backend:
        return backend  # mypy proves ServerBackend is a Backend
