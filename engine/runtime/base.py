"""The inference backend the summary pipeline sees, and every value type that crosses it.

Two implementations: ``engine.runtime.llamacpp.runner.LlamaRunner`` (llama.cpp in vidsum's own
worker process) and ``engine.runtime.server.http.ServerBackend`` (an OpenAI-compatible /
llama-server endpoint). The pipeline is typed against ``Backend`` only; the batch layer opens
one (llama.cpp through ``engine.runtime.backends``, by module name), so a backend is a drop-in:
same prompts, same grammar, same validation and retries. The shape of an answer is handed
over as a ``Constraint`` (GBNF and JSON schema): each backend enforces the form it can, and
none needs to know which grammar it is. Each implementation proves to mypy that it satisfies
the protocol (see the ``_conforms`` function at the end of its module).

What a backend does beyond this interface (llama.cpp's fast-forward and drafts, a server's
retries) is configured on the implementation, never here.

May import: the ground floor (``engine.errors``, ``engine.progress``) only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from engine.errors import ModelError
from engine.progress import CancelToken, ProgressCallback

__all__ = [
    "DIALECTS",
    "Backend",
    "Constraint",
    "Dialect",
    "Generation",
    "GrammarNotHonoured",
    "LoadOptions",
    "LocalBackend",
    "ModelInfo",
    "Sampling",
    "ServerError",
    "ServerInfo",
    "ServerProfile",
    "ServerRejected",
    "ServerUnavailable",
    "StopReason",
]

StopReason = Literal["stop", "length"]


@dataclass(frozen=True)
class LoadOptions:
    """A local model file and how to load it (``LocalBackend``)."""

    model_path: Path
    n_ctx: int  # sized by the caller for the job; there is no silent default
    n_gpu_layers: int = 0  # -1 = all
    n_threads: int | None = None  # None = the physical cores free at load
    n_batch: int = 512
    n_ubatch: int = 512
    # None = llama.cpp decides (on wherever its kernels support it: +16% prompt speed on CPU
    # in BENCHMARKS.md, decode equal; less compute memory on a GPU).
    flash_attn: bool | None = None
    type_k: str | None = None  # KV cache type name: "f16", "q8_0", "q4_0", ...
    type_v: str | None = None


@dataclass(frozen=True)
class Sampling:
    """How tokens are chosen; every backend honours these (a schema-only server the subset
    its API has)."""

    temperature: float = 0.3
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    seed: int = 0
    max_tokens: int = 2048


@dataclass(frozen=True)
class Constraint:
    """The shape an answer must take, in both forms a backend may enforce: a GBNF grammar (rule
    ``root``: llama.cpp and the servers that take grammars) and the JSON schema that stands in
    for it on an endpoint that takes only a schema (None: any JSON object; the answer is
    validated afterwards anyway). Built by the pipeline beside its grammars; ``name`` labels
    the schema on the wire."""

    name: str
    gbnf: str
    schema: dict[str, Any] | None = None  # not hashable: a Constraint is never a dict key


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    n_ctx: int  # the context actually allocated (llama.cpp may round up)
    n_ctx_train: int
    n_vocab: int
    n_layer: int
    n_embd: int
    architecture: str
    chat_template: str | None
    bos: int  # -1 when the vocabulary has none
    eos: int
    gpu_offload: bool  # this llama.cpp build can offload to a GPU
    n_gpu_layers: int  # layers actually asked to live on the GPU (0 without offload)
    expert_count: int  # 0 for dense models
    # Extensions: what a chat template needs to render, and provenance.
    bos_text: str = ""
    eos_text: str = ""
    add_bos: bool = True  # the vocabulary expects BOS at the start of a prompt
    description: str = ""  # llama.cpp's one-line description, e.g. "llama 7B Q4_K - Medium"
    n_threads: int = 0
    # A server backend that enforces grammars: its name (an answer that is not JSON then means
    # the server ignored the grammar); "" for the local worker and schema-only endpoints.
    grammar_server: str = ""


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    prompt_evaluated: int  # prompt tokens actually evaluated (the rest came from the KV cache)
    prompt_seconds: float
    generated_tokens: int
    generation_seconds: float
    stop_reason: StopReason  # "stop": end of generation / grammar complete; "length": limit
    grammar_resamples: int = 0  # tokens re-picked because the grammar rejected the first pick
    grammar_full_masks: int = 0  # ... of which needed the grammar over the whole vocabulary
    sampling_seconds: float = 0.0  # CPU time spent choosing tokens (grammar included)
    forced_tokens: int = 0  # of generated_tokens, fed in without sampling (grammar-forced)
    draft_tokens: int = 0  # prompt-lookup draft tokens decoded ahead
    draft_accepted: int = 0  # ... of which sampling picked (their decode step was saved)


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
        constraint: Constraint | None,
        sampling: Sampling | None = None,
        shared_prefix: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Generation: ...

    def close(self) -> None: ...


class LocalBackend(Backend, Protocol):
    """A backend over a model file: loaded explicitly (with progress) before first use."""

    def load(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> ModelInfo: ...


# --- inference servers ----------------------------------------------------------------------

# The dialects' names (profiles store them); what each one does is its class in
# ``engine.runtime.server.dialect_classes``.
Dialect = Literal["llama-server", "vllm", "llama-cpp-python", "openai-schema"]
DIALECTS: tuple[Dialect, ...] = ("llama-server", "vllm", "llama-cpp-python", "openai-schema")


class ServerError(ModelError):
    """An inference server could not be used; the message names the endpoint."""


class ServerUnavailable(ServerError):
    """The endpoint does not answer (refused, reset, timed out, 5xx after retries)."""


class ServerRejected(ServerError):
    """The endpoint answered a request with a 4xx: that request (file) cannot be done there."""


class GrammarNotHonoured(ServerError):
    """The endpoint ignored a grammar: its outputs would not be constrained."""


@dataclass(frozen=True)
class ServerProfile:
    """A named endpoint (``vidsum servers add``), stored by ``engine.runtime.server.profiles``."""

    name: str
    url: str
    dialect: Dialect | None = None  # None: detected when used
    model: str | None = None  # the model to request (OpenAI dialects serving several)
    api_key_env: str | None = None  # environment variable holding the API key
    concurrency: int | None = None  # requests at once; None: the server's slots (or 1)


@dataclass(frozen=True)
class ServerInfo:
    """What an endpoint reported about itself."""

    name: str
    url: str
    dialect: Dialect
    model: str  # the id requests name (OpenAI dialects), or the alias llama-server reports
    model_path: str  # llama-server's model file; else the model id
    n_ctx: int  # context per request (llama-server: per slot)
    slots: int  # requests it runs at once (llama-server total_slots; else the profile / 1)
    build: str  # server build where reported, else ""
    chat_template: str | None = None
    bos_text: str = ""
    eos_text: str = ""
    # The dialect takes a JSON schema, not a grammar (``ServerDialect.grammar_field`` is None):
    # nothing forces an answer's shape there. Set by ``connect`` from the dialect class.
    schema_only: bool = False

    @property
    def identity(self) -> str:
        """The model identity used in place of a file sha256 (dedupe key): the served file's
        name (or the model id), prefixed ``server:`` so a server summary and a local one of the
        same model are distinct library entries."""
        base = Path(self.model_path).name if self.model_path else self.model
        return f"server:{base or self.model}"


@dataclass(frozen=True)
class ModelCheck:
    """What ``inspect_model`` learned from llama.cpp about a file it could load."""

    path: Path
    architecture: str
    description: str
    n_vocab: int
    n_layer: int
    n_ctx_train: int
    chat_template: str | None
    bos_text: str
    eos_text: str
