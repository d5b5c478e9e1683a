"""``ServerBackend``: the ``engine.runtime.base.Backend`` protocol over an inference server's HTTP
API, and the grammar canary.

Which dialect an endpoint speaks is found by ``engine.runtime.server.dialects``; the HTTP
(retries, ``Retry-After``, the stall timeout, size caps) is ``engine.runtime.server.client``;
the event stream is parsed by ``engine.runtime.server.sse``. May import:
``engine.runtime.base``, ``client``, ``sse`` and the ground floor (``engine.schema`` and the
committed ``grammars`` data for the schema-only stand-in); never llama.cpp nor the pipeline.

Dialects (detected from ``/props``, ``/version`` and ``/v1/models``, or set in the profile):

- ``llama-server``: native ``/completion`` with ``grammar`` (GBNF), ``cache_prompt``, the prompt
  sent as token ids from the server's own ``/tokenize`` (so it is tokenized exactly as the local
  worker tokenizes it: the rendered prompt already carries its BOS). ``/props`` gives the context
  per slot, the slot count, the model path, the chat template and the build.
- ``vllm``: ``/v1/completions`` with ``structured_outputs: {"grammar": ...}`` (xgrammar takes
  GBNF) and ``/tokenize``.
- ``llama-cpp-python``: ``/v1/completions`` with ``grammar`` and ``/extras/tokenize`` (which
  always adds the model's BOS, as its completions do: stripped here unless ``add_bos``). One
  request at a time; by default a new request cuts the one in flight short (its stream ends
  without a ``finish_reason``): retried, and the error says to start it with
  ``--interrupt_requests False``. An invalid grammar crashes it (segfault; vidsum sends only
  its committed grammars).
- ``openai-schema``: any OpenAI-compatible endpoint; JSON schema only (``response_format``), no
  grammar and no tokenizer (token counts are estimated generously). Labelled schema-only: its
  outputs are validated and retried like any other, but nothing forces their shape.

Every answer streams, so progress (tokens, tok/s) reaches the callback, and a cancel shuts the
socket down within ~0.2 s (llama-server then drops the task). A ``stop_type=limit`` /
``finish_reason=length`` answer comes back with ``stop_reason="length"``, which the pipeline
treats as a failed attempt. A stream that sends more pieces than the tokens asked for is cut at
once (``ServerRejected``); one that ends without saying it is finished is retried as cut short
and, when every attempt is, reported as such (``ServerUnavailable``).
"""

from __future__ import annotations

import math
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.progress import CancelToken, Progress, ProgressCallback, emit
from engine.runtime.base import (
    Backend,
    Generation,
    GrammarNotHonoured,
    ModelInfo,
    Sampling,
    ServerInfo,
    ServerRejected,
)
from engine.runtime.server.client import Client
from engine.runtime.server.sse import Retryable

# Schema-only endpoints have no tokenizer: 1 token per 2.5 UTF-8 bytes over-counts every
# tokenizer vidsum targets, so a context is never overfilled.
EST_BYTES_PER_TOKEN = 2.5

CANARY_GRAMMAR = 'root ::= "ok-42"'
CANARY_TEXT = "ok-42"
CANARY_PROMPT = "Write a long story about a dragon who learns to fly. Once upon a time"


class ServerBackend:
    """One model on one endpoint, as a ``Backend``. One request at a time per instance (the
    batch gives each slot its own instance); ``close`` only drops local state."""

    def __init__(self, server: ServerInfo, api_key: str | None = None) -> None:
        self.server = server
        self._client = Client(server.name, server.url, api_key)
        self._bos: list[int] | None = None  # llama-cpp-python: what its tokenizer prepends
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

    # --- tokens -------------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        d = self.server.dialect
        if d == "llama-server":
            out = self._client.json(
                "POST",
                "/tokenize",
                {"content": text, "add_special": add_bos, "parse_special": special},
            )
        elif d == "vllm":
            out = self._client.json(
                "POST",
                "/tokenize",
                {"model": self.server.model, "prompt": text, "add_special_tokens": add_bos},
            )
        elif d == "llama-cpp-python":
            ids = self._lcp_tokenize(text)
            if self._bos is None:
                self._bos = self._lcp_tokenize("")  # [BOS], or [] for a model without one
            return ids if add_bos or ids[: len(self._bos)] != self._bos else ids[len(self._bos) :]
        else:
            # No tokenizer: placeholder ids, a generous count (see EST_BYTES_PER_TOKEN).
            return [-1] * math.ceil(len(text.encode("utf-8")) / EST_BYTES_PER_TOKEN)
        return self._token_ids(out)

    def _lcp_tokenize(self, text: str) -> list[int]:
        """llama-cpp-python's ``/extras/tokenize``: special tokens parsed, the BOS added."""
        body = {"model": self.server.model, "input": text}
        return self._token_ids(self._client.json("POST", "/extras/tokenize", body))

    def _token_ids(self, out: Any) -> list[int]:
        tokens = out.get("tokens") if isinstance(out, dict) else None
        if not isinstance(tokens, list):
            raise ServerRejected(
                f"Server {self.server.name} ({self.server.url}) gave no tokens for a tokenize "
                "request."
            )
        return [int(t["id"]) if isinstance(t, dict) else int(t) for t in tokens]

    def count_tokens(self, texts: list[str], *, special: bool = True) -> list[int]:
        return [len(self.tokenize(t, special=special)) for t in texts]

    # --- generation ---------------------------------------------------------------------------

    def generate(
        self,
        prompt: str,
        *,
        grammar: str | None,
        sampling: Sampling | None = None,
        shared_prefix: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Generation:
        """Complete ``prompt`` under ``grammar`` on the server, streaming progress.

        ``shared_prefix`` is accepted for the protocol; llama-server reuses the slot's cache by
        itself (``cache_prompt``), so a server answer is not bit-for-bit independent of what the
        slot held before (unlike the local worker's)."""
        del shared_prefix
        s = sampling or Sampling()
        item = self.server.name
        started = time.monotonic()
        stream = _Stream(self.server.dialect, s.max_tokens, item, progress)
        if self.server.dialect == "llama-server":
            path, body, n_prompt = self._native_request(prompt, grammar, s)
        else:
            path, body, n_prompt = self._openai_request(prompt, grammar, s)
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

    def _native_request(
        self, prompt: str, grammar: str | None, s: Sampling
    ) -> tuple[str, dict[str, Any], int]:
        """llama-server's ``/completion``: (path, body, prompt tokens)."""
        # Tokenized by the server exactly as the local worker does (the prompt carries its
        # own BOS; none is added), then sent as ids.
        ids = self.tokenize(prompt, add_bos=False, special=True)
        body: dict[str, Any] = {
            "prompt": ids,
            "n_predict": s.max_tokens,
            "seed": s.seed,
            "temperature": s.temperature,
            "top_k": s.top_k,
            "top_p": s.top_p,
            "min_p": s.min_p,
            "repeat_penalty": s.repeat_penalty,
            "cache_prompt": True,
            "stream": True,
        }
        if grammar is not None:
            body["grammar"] = grammar
        return "/completion", body, len(ids)

    def _openai_request(
        self, prompt: str, grammar: str | None, s: Sampling
    ) -> tuple[str, dict[str, Any], int]:
        """The OpenAI dialects' ``/v1/completions``: (path, body, prompt tokens or 0)."""
        d = self.server.dialect
        text = prompt
        if self.server.bos_text and text.startswith(self.server.bos_text):
            text = text[len(self.server.bos_text) :]  # the server adds its own BOS
        # The server adds the model's BOS to a text prompt: counted as it will be decoded.
        n_prompt = len(self.tokenize(text, add_bos=True)) if d != "openai-schema" else 0
        body: dict[str, Any] = {
            "model": self.server.model,
            "prompt": text,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if d == "llama-cpp-python":
            body.update(top_k=s.top_k, min_p=s.min_p, repeat_penalty=s.repeat_penalty)
        elif d != "openai-schema":
            body.update(top_k=s.top_k, min_p=s.min_p, repetition_penalty=s.repeat_penalty)
        if grammar is not None:
            if d == "vllm":
                body["structured_outputs"] = {"grammar": grammar}
            elif d == "llama-cpp-python":
                body["grammar"] = grammar
            else:
                body["response_format"] = _schema_format(grammar)
        return "/v1/completions", body, n_prompt

    def close(self) -> None:
        """Nothing to free locally (each request has its own connection)."""


class _Stream:
    """One streamed answer: its pieces, progress as they arrive, and the final counts."""

    def __init__(
        self, dialect: str, max_tokens: int, item: str, progress: ProgressCallback | None
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
        if self.dialect == "llama-server":
            piece = str(ev.get("content") or "")
            if ev.get("stop"):
                state["final"] = ev
                state["stop"] = ev.get("stop_type") or "eos"
        else:
            choices = ev.get("choices") or []
            c0 = choices[0] if choices and isinstance(choices[0], dict) else {}
            piece = str(c0.get("text") or "")
            if c0.get("finish_reason"):
                state["stop"] = c0["finish_reason"]
            if isinstance(ev.get("usage"), dict):
                state["usage"] = ev["usage"]
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
        if self.dialect == "llama-cpp-python":
            raise Retryable(
                "its stream ended without a finish_reason (llama-cpp-python's server drops a "
                "request when another one arrives; start it with --interrupt_requests False)"
            )
        raise Retryable(
            "its answer was cut short: the stream ended without saying the answer was finished "
            f"({self.state['n']} pieces in)"
        )

    def generation(self, n_prompt: int, started: float, ended: float) -> Generation:
        state = self.state
        text_out = "".join(state["text"])
        stop = state["stop"]
        length = stop in ("limit", "length")
        if self.dialect == "llama-server":
            final = state["final"]
            timings = final.get("timings") or {}
            prompt_n = int(timings.get("prompt_n", n_prompt))
            prompt_s = float(timings.get("prompt_ms", 0.0)) / 1000
            gen_n = int(timings.get("predicted_n", state["n"]))
            gen_s = float(timings.get("predicted_ms", 0.0)) / 1000
            total_prompt = int(final.get("tokens_evaluated") or n_prompt)
        else:
            usage = state["usage"]
            total_prompt = int(usage.get("prompt_tokens") or n_prompt)
            prompt_n = total_prompt
            first = state["first"] or ended
            prompt_s = first - started
            gen_n = int(usage.get("completion_tokens") or state["n"])
            gen_s = ended - first
        return Generation(
            text=text_out,
            prompt_tokens=total_prompt,
            prompt_evaluated=prompt_n,
            prompt_seconds=prompt_s,
            generated_tokens=gen_n,
            generation_seconds=gen_s,
            stop_reason="length" if length else "stop",
        )


@cache
def _committed_summary_grammar() -> str:
    # The committed data file itself (what engine.pipeline.prompts.grammar.summary_gbnf loads): the
    # runtime sits below the pipeline and must not import it.
    return resources.files("grammars").joinpath("summary.gbnf").read_text(encoding="utf-8")


def _schema_format(grammar: str) -> dict[str, Any]:
    """The JSON-schema stand-in for a GBNF grammar on a schema-only endpoint: the summary's own
    schema for the summary grammar, any JSON object otherwise (validated afterwards anyway)."""
    from engine.schema import Summary

    if grammar == _committed_summary_grammar():
        return {
            "type": "json_schema",
            "json_schema": {"name": "summary", "schema": Summary.model_json_schema()},
        }
    return {"type": "json_object"}


def canary(backend: ServerBackend, cancel: CancelToken | None = None) -> str:
    """Ask for text a one-string grammar allows only as ``ok-42``; raise
    ``GrammarNotHonoured`` when anything else comes back. Returns the answer."""
    server = backend.server
    try:
        gen = backend.generate(
            CANARY_PROMPT,
            grammar=CANARY_GRAMMAR,
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
