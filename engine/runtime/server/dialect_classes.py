"""The server dialects as classes: what each kind of endpoint takes and how it is spoken to.

One class per name in ``engine.runtime.base.DIALECTS``. Its capability attributes say what the
endpoint takes (where a grammar or a JSON schema goes, its tokenizer, where its slot count and
context come from); its methods build requests, read the answer's stream and read what the
endpoint says about itself. Every dialect-specific decision is made in these classes:
``engine.runtime.server.http`` (the backend) and ``engine.runtime.server.dialects`` (which
dialect an endpoint speaks, ``connect``) only ask them.

- ``LlamaServer``: native ``/completion`` with ``grammar`` (GBNF), ``cache_prompt``, the prompt
  sent as token ids from the server's own ``/tokenize`` (so it is tokenized exactly as the local
  worker tokenizes it: the rendered prompt already carries its BOS). ``/props`` gives the context
  per slot, the slot count, the model path, the chat template and the build.
- ``Vllm``: ``/v1/completions`` with ``structured_outputs: {"grammar": ...}`` (xgrammar takes
  GBNF) and ``/tokenize``.
- ``LlamaCppPython`` (``python -m llama_cpp.server``): ``/v1/completions`` with ``grammar`` and
  ``/extras/tokenize`` (which always adds the model's BOS, as its completions do: stripped here
  unless ``add_bos``). It says little about itself: ``/v1/models`` lists the model id (by
  default the GGUF path), nothing reports the context, the chat template or the build. The
  context is read from the error it gives for a prompt that cannot fit (``_probe_context``);
  the chat template from the GGUF header when the id is a file readable here (a server on this
  machine or a shared disk), else prompts are plain text. Its text prompts get the model's BOS
  from the server itself, so the rendered prompt carries none (``bos_text`` "": the same token
  ids as the local worker's). One request at a time, whatever ``--concurrency`` says; by
  default a new request cuts the one in flight short (its stream ends without a
  ``finish_reason``): retried, and the error says to start it with ``--interrupt_requests
  False``. An invalid grammar crashes it (segfault; vidsum sends only its committed grammars).
- ``OpenAISchema``: any OpenAI-compatible endpoint; JSON schema only (``response_format``), no
  grammar and no tokenizer (token counts are estimated generously). Labelled schema-only: its
  outputs are validated and retried like any other, but nothing forces their shape.

May import: ``engine.runtime.base``, ``engine.runtime.server.client`` (the HTTP client),
``engine.modelfile`` (the GGUF header, for llama-cpp-python's chat template) and the ground floor.
"""

from __future__ import annotations

import contextlib
import math
import re
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, cast

from engine.errors import VidsumError
from engine.modelfile.header import check_gguf
from engine.progress import CancelToken
from engine.runtime.base import (
    Constraint,
    Dialect,
    Sampling,
    ServerError,
    ServerInfo,
    ServerRejected,
)
from engine.runtime.server.client import Client

__all__ = [
    "DIALECT_CLASSES",
    "LlamaCppPython",
    "LlamaServer",
    "OpenAICompatible",
    "OpenAISchema",
    "ServerDialect",
    "Vllm",
    "dialect_for",
]

# llama-cpp-python's context probe: this many one-token words (" x"), refused before any
# decoding when they do not fit (~0.7 s of tokenizing on 2 cores; the refusal's time grows
# with the count, so not larger). A server whose context holds them all is credited with this.
LCP_CONTEXT_PROBE = 131072
_MAX_CONTEXT = re.compile(r"maximum context length is (\d+) tokens")

# Endpoints without a tokenizer: 1 token per 2.5 UTF-8 bytes over-counts every tokenizer vidsum
# targets, so a context is never overfilled.
EST_BYTES_PER_TOKEN = 2.5

SlotSource = Literal["reported", "profile", "one"]
Request = tuple[str, dict[str, Any], int]  # (path, body, prompt tokens or 0)


class Counts(NamedTuple):
    """A finished answer's counts and times (``Generation``'s fields of the same names)."""

    prompt_tokens: int
    prompt_evaluated: int
    prompt_seconds: float
    generated_tokens: int
    generation_seconds: float


class ServerDialect:
    """How vidsum speaks to one kind of endpoint. One instance per ``ServerBackend`` (one
    request at a time; llama-cpp-python's keeps what its tokenizer prepends)."""

    name: ClassVar[Dialect]
    # Where a request carries the GBNF (nested keys); None: the endpoint takes no grammar.
    grammar_field: ClassVar[tuple[str, ...] | None] = None
    # Where a JSON schema stands in for the grammar (when there is no grammar field).
    schema_field: ClassVar[str | None] = None
    # The endpoint's tokenizer; None: token counts are estimated (``EST_BYTES_PER_TOKEN``).
    tokenize_path: ClassVar[str | None] = None
    # Where it describes itself (context per slot, slots, model, template, build); None: only
    # ``/v1/models``.
    props_path: ClassVar[str | None] = None
    # Requests at once: "reported" by the server (the profile's --concurrency wins), the
    # "profile"'s (else 1), or "one" whatever the profile says.
    slots: ClassVar[SlotSource] = "profile"
    # Its context is found by a prompt it refuses (it reports the context nowhere).
    context_probe: ClassVar[bool] = False
    # The sampling fields beyond OpenAI's (top_k, min_p) and its name for the repeat penalty;
    # None: OpenAI's subset only.
    penalty_field: ClassVar[str | None] = None
    # Why a stream that ended without a finish reason was most likely cut short; None: unknown.
    cut_short: ClassVar[str | None] = None
    # What its ``/v1/models`` says in ``owned_by`` (how ``dialects.detect`` recognises it).
    owned_by: ClassVar[tuple[str, ...]] = ()

    def __init__(self, server: ServerInfo, client: Client) -> None:
        self.server = server
        self.client = client

    # --- what it says about itself ------------------------------------------------------------

    @classmethod
    def describe(
        cls,
        client: Client,
        said: dict[str, Any],
        *,
        model: str | None,
        concurrency: int | None,
        cancel: CancelToken | None,
    ) -> ServerInfo:
        raise NotImplementedError

    @classmethod
    def slot_count(cls, concurrency: int | None, reported: int | None = None) -> int:
        return 1 if cls.slots == "one" else concurrency or reported or 1

    # --- tokens -------------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool, special: bool) -> list[int]:
        """No tokenizer: placeholder ids, a generous count (see ``EST_BYTES_PER_TOKEN``)."""
        return [-1] * math.ceil(len(text.encode("utf-8")) / EST_BYTES_PER_TOKEN)

    def _token_ids(self, out: Any) -> list[int]:
        tokens = out.get("tokens") if isinstance(out, dict) else None
        if not isinstance(tokens, list):
            raise ServerRejected(
                f"Server {self.server.name} ({self.server.url}) gave no tokens for a tokenize "
                "request."
            )
        return [int(t["id"]) if isinstance(t, dict) else int(t) for t in tokens]

    # --- requests and answers -----------------------------------------------------------------

    def request(self, prompt: str, constraint: Constraint | None, s: Sampling) -> Request:
        raise NotImplementedError

    def constrain(self, body: dict[str, Any], constraint: Constraint | None) -> None:
        """Put the constraint where this dialect takes it: the GBNF in its grammar field, else
        the JSON schema in its schema field."""
        if constraint is None:
            return
        if self.grammar_field is not None:
            *outer, last = self.grammar_field
            slot = body
            for key in outer:
                slot = slot.setdefault(key, {})
            slot[last] = constraint.gbnf
        elif self.schema_field is not None:
            body[self.schema_field] = _schema_format(constraint)

    def read_event(self, ev: dict[str, Any], state: dict[str, Any]) -> str:
        """One stream event's text; its stop reason and counts go into ``state``."""
        raise NotImplementedError

    def counts(self, state: dict[str, Any], n_prompt: int, started: float, ended: float) -> Counts:
        raise NotImplementedError


def _schema_format(constraint: Constraint) -> dict[str, Any]:
    """The JSON-schema stand-in for a grammar: the constraint's schema, else any JSON object
    (validated afterwards anyway)."""
    if constraint.schema is None:
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": constraint.name, "schema": constraint.schema},
    }


class LlamaServer(ServerDialect):
    """llama-server's native API (see the module docstring)."""

    name = "llama-server"
    grammar_field = ("grammar",)
    tokenize_path = "/tokenize"
    props_path = "/props"
    slots = "reported"

    @classmethod
    def describe(
        cls,
        client: Client,
        said: dict[str, Any],
        *,
        model: str | None,
        concurrency: int | None,
        cancel: CancelToken | None,
    ) -> ServerInfo:
        props = said
        gen = props.get("default_generation_settings") or {}
        n_ctx = int(gen.get("n_ctx") or props.get("n_ctx") or 0)
        model_path = str(props.get("model_path") or "")
        alias = str(props.get("model_alias") or Path(model_path).name or "")
        return ServerInfo(
            name=client.name,
            url=client.url,
            dialect=cls.name,
            model=model or alias,
            model_path=model_path,
            n_ctx=n_ctx,
            slots=cls.slot_count(concurrency, int(props.get("total_slots") or 1)),
            build=str(props.get("build_info") or ""),
            chat_template=props.get("chat_template") or None,
            bos_text=str(props.get("bos_token") or ""),
            eos_text=str(props.get("eos_token") or ""),
        )

    def tokenize(self, text: str, *, add_bos: bool, special: bool) -> list[int]:
        body = {"content": text, "add_special": add_bos, "parse_special": special}
        return self._token_ids(self.client.json("POST", cast(str, self.tokenize_path), body))

    def request(self, prompt: str, constraint: Constraint | None, s: Sampling) -> Request:
        """``/completion``; the prompt tokenized by the server exactly as the local worker does
        (it carries its own BOS; none is added), then sent as ids."""
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
        self.constrain(body, constraint)
        return "/completion", body, len(ids)

    def read_event(self, ev: dict[str, Any], state: dict[str, Any]) -> str:
        if ev.get("stop"):
            state["final"] = ev
            state["stop"] = ev.get("stop_type") or "eos"
        return str(ev.get("content") or "")

    def counts(self, state: dict[str, Any], n_prompt: int, started: float, ended: float) -> Counts:
        """The server's own timings (its final event)."""
        final = state["final"]
        timings = final.get("timings") or {}
        return Counts(
            prompt_tokens=int(final.get("tokens_evaluated") or n_prompt),
            prompt_evaluated=int(timings.get("prompt_n", n_prompt)),
            prompt_seconds=float(timings.get("prompt_ms", 0.0)) / 1000,
            generated_tokens=int(timings.get("predicted_n", state["n"])),
            generation_seconds=float(timings.get("predicted_ms", 0.0)) / 1000,
        )


class OpenAICompatible(ServerDialect):
    """The OpenAI dialects' ``/v1/completions`` and ``/v1/models``."""

    @classmethod
    def describe(
        cls,
        client: Client,
        said: dict[str, Any],
        *,
        model: str | None,
        concurrency: int | None,
        cancel: CancelToken | None,
    ) -> ServerInfo:
        models = said.get("models") or {}
        data = models.get("data") if isinstance(models, dict) else None
        entries = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
        chosen = next((d for d in entries if model is None or d.get("id") == model), None)
        if chosen is None:
            names = ", ".join(str(d.get("id")) for d in entries) or "none"
            where = f"Server {client.name} ({client.url})"
            raise ServerError(
                f"{where} does not serve the model {model!r} (it serves: {names})."
                if model
                else f"{where} lists no model at /v1/models."
            )
        return cls.describe_model(client, said, chosen, concurrency, cancel)

    @classmethod
    def describe_model(
        cls,
        client: Client,
        said: dict[str, Any],
        chosen: dict[str, Any],
        concurrency: int | None,
        cancel: CancelToken | None,
    ) -> ServerInfo:
        """The ``ServerInfo`` of the model ``chosen`` from ``/v1/models``."""
        version = said.get("version")
        return ServerInfo(
            name=client.name,
            url=client.url,
            dialect=cls.name,
            model=str(chosen.get("id")),
            model_path=str(chosen.get("root") or chosen.get("id")),
            n_ctx=cls.context(client, chosen, cancel),
            slots=cls.slot_count(concurrency),
            build=str(version.get("version")) if isinstance(version, dict) else "",
        )

    @classmethod
    def context(cls, client: Client, chosen: dict[str, Any], cancel: CancelToken | None) -> int:
        if cls.context_probe:
            return _probe_context(client, str(chosen.get("id")), cancel)
        return int(chosen.get("max_model_len") or chosen.get("context_length") or 0) or 4096

    def request(self, prompt: str, constraint: Constraint | None, s: Sampling) -> Request:
        text = prompt
        if self.server.bos_text and text.startswith(self.server.bos_text):
            text = text[len(self.server.bos_text) :]  # the server adds its own BOS
        # The server adds the model's BOS to a text prompt: counted as it will be decoded.
        n_prompt = len(self.tokenize(text, add_bos=True, special=True)) if self.tokenize_path else 0
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
        if self.penalty_field is not None:
            body.update({"top_k": s.top_k, "min_p": s.min_p, self.penalty_field: s.repeat_penalty})
        self.constrain(body, constraint)
        return "/v1/completions", body, n_prompt

    def read_event(self, ev: dict[str, Any], state: dict[str, Any]) -> str:
        choices = ev.get("choices") or []
        c0 = choices[0] if choices and isinstance(choices[0], dict) else {}
        if c0.get("finish_reason"):
            state["stop"] = c0["finish_reason"]
        if isinstance(ev.get("usage"), dict):
            state["usage"] = ev["usage"]
        return str(c0.get("text") or "")

    def counts(self, state: dict[str, Any], n_prompt: int, started: float, ended: float) -> Counts:
        """The usage the server reports, else what was counted here; times measured here."""
        usage = state["usage"]
        total_prompt = int(usage.get("prompt_tokens") or n_prompt)
        first = state["first"] or ended
        return Counts(
            prompt_tokens=total_prompt,
            prompt_evaluated=total_prompt,
            prompt_seconds=first - started,
            generated_tokens=int(usage.get("completion_tokens") or state["n"]),
            generation_seconds=ended - first,
        )


class Vllm(OpenAICompatible):
    """vLLM (see the module docstring)."""

    name = "vllm"
    owned_by = ("vllm",)
    grammar_field = ("structured_outputs", "grammar")
    tokenize_path = "/tokenize"
    penalty_field = "repetition_penalty"

    def tokenize(self, text: str, *, add_bos: bool, special: bool) -> list[int]:
        body = {"model": self.server.model, "prompt": text, "add_special_tokens": add_bos}
        return self._token_ids(self.client.json("POST", cast(str, self.tokenize_path), body))


class LlamaCppPython(OpenAICompatible):
    """llama-cpp-python's server (see the module docstring)."""

    name = "llama-cpp-python"
    owned_by = ("llama-cpp-python", "me")
    grammar_field = ("grammar",)
    tokenize_path = "/extras/tokenize"
    slots = "one"
    context_probe = True
    penalty_field = "repeat_penalty"
    cut_short = (
        "its stream ended without a finish_reason (llama-cpp-python's server drops a "
        "request when another one arrives; start it with --interrupt_requests False)"
    )

    def __init__(self, server: ServerInfo, client: Client) -> None:
        super().__init__(server, client)
        self._bos: list[int] | None = None  # what its tokenizer prepends

    @classmethod
    def describe_model(
        cls,
        client: Client,
        said: dict[str, Any],
        chosen: dict[str, Any],
        concurrency: int | None,
        cancel: CancelToken | None,
    ) -> ServerInfo:
        """The model id is the served file's path (by default): the chat template is read from
        its header when the file is readable here; the build is reported nowhere."""
        model_id = str(chosen.get("id"))
        return ServerInfo(
            name=client.name,
            url=client.url,
            dialect=cls.name,
            model=model_id,
            model_path=model_id,
            n_ctx=cls.context(client, chosen, cancel),
            slots=cls.slot_count(concurrency),
            build="",
            chat_template=_local_chat_template(model_id),
        )

    def tokenize(self, text: str, *, add_bos: bool, special: bool) -> list[int]:
        """Special tokens are always parsed; the BOS its tokenizer adds is stripped unless
        ``add_bos``."""
        ids = self._tokenize(text)
        if self._bos is None:
            self._bos = self._tokenize("")  # [BOS], or [] for a model without one
        return ids if add_bos or ids[: len(self._bos)] != self._bos else ids[len(self._bos) :]

    def _tokenize(self, text: str) -> list[int]:
        body = {"model": self.server.model, "input": text}
        return self._token_ids(self.client.json("POST", cast(str, self.tokenize_path), body))


class OpenAISchema(OpenAICompatible):
    """Any OpenAI-compatible endpoint, JSON schema only (see the module docstring)."""

    name = "openai-schema"
    schema_field = "response_format"


DIALECT_CLASSES: dict[Dialect, type[ServerDialect]] = {
    c.name: c for c in (LlamaServer, Vllm, LlamaCppPython, OpenAISchema)
}


def dialect_for(server: ServerInfo, client: Client) -> ServerDialect:
    """The dialect object a backend speaks ``server``'s dialect through."""
    return DIALECT_CLASSES[server.dialect](server, client)


def _probe_context(client: Client, model_id: str, cancel: CancelToken | None) -> int:
    """The context of a server that reports it nowhere (llama-cpp-python), from its refusal of
    a prompt that does not fit."""
    body = {"model": model_id, "prompt": " x" * LCP_CONTEXT_PROBE, "max_tokens": 1}
    try:
        client.json("POST", "/v1/completions", body, cancel=cancel, attempts=1)
    except ServerRejected as exc:
        found = _MAX_CONTEXT.search(str(exc))
        if found is None:
            raise
        return int(found.group(1))
    return LCP_CONTEXT_PROBE


def _local_chat_template(model_path: str) -> str | None:
    """The chat template of the served GGUF when that file is readable here, else None."""
    with contextlib.suppress(OSError, ValueError, VidsumError):
        if model_path.endswith(".gguf") and Path(model_path).is_file():
            return check_gguf(model_path).chat_template
    return None
