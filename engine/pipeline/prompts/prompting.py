"""Prompts: the instructions (``engine.pipeline.prompts.instructions``) and few-shot examples from
``prompts/``, in a chat format.

The conversation is: instructions (a system message, or folded into the first user turn),
then ``n_examples`` example turns (user: transcript, assistant: compact summary JSON), then the
transcript to summarize. Everything before the last user turn is the *shared prefix*: the same
text for every transcript, ending at a message boundary, so a runner evaluates it once per
loaded model and reuses its KV cache.

The runner tokenizes the text with ``special=True`` and without adding BOS, so the text
carries BOS itself and control tokens are written as text. Transcripts are untrusted: any
control-token-like string in them is defused before it is placed in the prompt.

Imports the schema's validator and the instruction text; nothing of the runtime.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from jinja2 import TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import ModelError
from engine.pipeline.checks.validate import parse_summary
from engine.pipeline.prompts.instructions import PROMPTS_PACKAGE, instructions

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

# Bump when the code below changes what a model sees for the same prompt files.
_RENDER_REVISION = "1"

ChatFormat = Literal["mistral-instruct", "mistral-instruct-v3", "gguf-template", "plain"]
Role = Literal["system", "user", "assistant"]


class ChatTemplateError(ModelError):
    """A model's chat template failed, or tried something the sandbox does not allow."""


@dataclass(frozen=True)
class ChatSpec:
    """How to turn messages into prompt text for one model.

    ``mistral-instruct``: Mistral tokenizer V1 (Mistral-7B-Instruct v0.1/v0.2, Mixtral-8x7B),
    where ``[INST]`` is plain text. ``mistral-instruct-v3``: tokenizer V3 (v0.3), where
    ``[INST]``/``[/INST]`` are control tokens. ``gguf-template``: the GGUF's
    ``tokenizer.chat_template`` rendered in a sandbox. ``plain``: a model without a template.
    ``bos_token``/``eos_token`` are the token *texts* (``"<s>"``), empty when the model has none.
    """

    format: ChatFormat
    template: str | None = None
    bos_token: str = ""
    eos_token: str = ""


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Example:
    name: str
    title: str | None
    transcript: str
    answer: str  # the summary as Summary.generated_json()

    @property
    def transcript_hash(self) -> str:
        return hashlib.sha256(self.transcript.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Prompt:
    text: str
    shared_prefix: str  # text.startswith(shared_prefix); identical for every transcript
    example_names: list[str]


# --- prompt files ---------------------------------------------------------------------------------


def _root() -> Traversable:
    return resources.files(PROMPTS_PACKAGE)


def _data_files(root: Traversable, rel: str = "") -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        path = f"{rel}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                out.extend(_data_files(entry, path + "/"))
        elif not entry.name.endswith((".py", ".pyc")):
            out.append((path, entry.read_bytes()))
    return out


def prompt_version(root: Traversable | Path | None = None) -> str:
    """sha256[:12] over every prompt data file (path and bytes) and the rendering revision."""
    base: Traversable = _root() if root is None else root
    h = hashlib.sha256(f"render:{_RENDER_REVISION}\0".encode())
    for path, data in _data_files(base):
        h.update(path.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:12]


PROMPT_VERSION: str = prompt_version()


@cache
def load_examples() -> tuple[Example, ...]:
    """The few-shot examples in their preferred order; each summary is validated."""
    root = _root()
    manifest = json.loads(root.joinpath("examples.json").read_text(encoding="utf-8"))
    out = []
    for item in manifest["examples"]:
        name = item["name"]
        folder = root.joinpath("examples")
        transcript = folder.joinpath(f"{name}.txt").read_text(encoding="utf-8").strip()
        summary = parse_summary(folder.joinpath(f"{name}.json").read_text(encoding="utf-8"))
        out.append(Example(name, item.get("title"), transcript, summary.generated_json()))
    return tuple(out)


# --- which examples -------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_SHINGLE = 5
# Share of the shorter text's word 5-grams found in the other: above this, same video.
_SAME_VIDEO = 0.5


def _shingles(text: str) -> set[int]:
    words = _WORD.findall(text.casefold())
    if len(words) < _SHINGLE:
        return {hash(" ".join(words))} if words else set()
    return {hash(" ".join(words[i : i + _SHINGLE])) for i in range(len(words) - _SHINGLE + 1)}


def same_video(a: str, b: str) -> bool:
    """Near-identical transcripts (one contains most of the other), whitespace and case aside."""
    sa, sb = _shingles(a), _shingles(b)
    if not sa or not sb:
        return False
    return len(sa & sb) / min(len(sa), len(sb)) >= _SAME_VIDEO


def choose_examples(
    transcript_text: str, *, exclude_hash: str | None = None, n_examples: int = 2
) -> list[Example]:
    """The first ``n_examples`` examples that are not the input's own video.

    Fewer come back only when exclusion leaves fewer than asked for.
    """
    examples = load_examples()
    if not 0 <= n_examples <= len(examples):
        raise ValueError(f"n_examples must be between 0 and {len(examples)}")
    chosen: list[Example] = []
    for ex in examples:
        if len(chosen) == n_examples:
            break
        if exclude_hash is not None and ex.transcript_hash == exclude_hash:
            continue
        if same_video(ex.transcript, transcript_text):
            continue
        chosen.append(ex)
    return chosen


# --- defusing control tokens in untrusted text ----------------------------------------------------

_CONTROL_LIKE = re.compile(
    r"</?s>|<\|[^<>|\s]{1,40}\|>|</?(?:start|end)_of_[a-z_]{1,20}>|</?(?:bos|eos|pad|unk)>"
    r"|\[/?(?:INST|TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS|SYSTEM_PROMPT)\]"
)
_ZWSP = "\u200b"


def defuse(text: str, chat: ChatSpec) -> str:
    """Break strings the tokenizer would read as control tokens (``special=True``).

    A zero-width space after the first character keeps the text readable but makes it
    ordinary text, so a transcript cannot end a turn or inject one.
    """
    specials = {t for t in (chat.bos_token, chat.eos_token) if len(t) > 1}

    def brk(tok: str) -> str:
        return tok[0] + _ZWSP + tok[1:]

    out = _CONTROL_LIKE.sub(lambda m: brk(m.group(0)), text)
    for tok in specials:
        out = out.replace(tok, brk(tok))
    return out


def user_message(transcript_text: str, title: str | None) -> str:
    head = f"Title: {title.strip()}\n\n" if title and title.strip() else ""
    return f"{head}Transcript:\n{transcript_text.strip()}"


# --- chat formats ---------------------------------------------------------------------------------


def _fold_system(messages: Sequence[Message]) -> list[Message]:
    """Put a leading system message at the top of the first user turn (Mistral's convention)."""
    if not messages or messages[0].role != "system":
        return list(messages)
    rest = list(messages[1:])
    if not rest or rest[0].role != "user":
        return [Message("user", messages[0].content), *rest]
    return [Message("user", f"{messages[0].content}\n\n{rest[0].content}"), *rest[1:]]


def _check_alternation(messages: Sequence[Message]) -> None:
    for i, m in enumerate(messages):
        want = "user" if i % 2 == 0 else "assistant"
        if m.role != want:
            raise ValueError("after the system message, roles must alternate user/assistant")


def _render_mistral(
    messages: Sequence[Message], chat: ChatSpec, add_generation_prompt: bool
) -> str:
    msgs = _fold_system(messages)
    _check_alternation(msgs)
    # V1: "[INST]" is text; llama.cpp adds the SentencePiece space after BOS/EOS itself, which
    # gives mistral-common's "<s>▁[INST]▁…▁[/INST]". V3: "[INST]" is a control token and the
    # content gets its "▁" from the same rule. The answer follows "[/INST]" directly because
    # the grammar allows no leading space.
    v3 = chat.format == "mistral-instruct-v3"
    open_, close = ("[INST]", "[/INST]") if v3 else ("[INST] ", " [/INST]")
    out = [chat.bos_token]
    for m in msgs:
        if m.role == "user":
            out.append(f"{open_}{m.content}{close}")
        else:
            out.append(f"{m.content}{chat.eos_token}")
    # add_generation_prompt needs nothing here: the open "[/INST]" is the generation prompt.
    return "".join(out)


_PLAIN_LABELS = {"user": "### Input\n", "assistant": "### Output\n"}


def _render_plain(messages: Sequence[Message], chat: ChatSpec, add_generation_prompt: bool) -> str:
    out = [chat.bos_token]
    for m in messages:
        label = _PLAIN_LABELS.get(m.role, "")
        out.append(f"{label}{m.content}\n\n")
    if add_generation_prompt:
        out.append(_PLAIN_LABELS["assistant"])
    return "".join(out)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The HF-style template sandbox, stricter: unsafe access fails at once, and huge
    repetitions (``'x' * 10**9``) are refused instead of allocated."""

    intercepted_binops = frozenset({"*", "**"})
    _MAX_REPEAT = 100_000

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is not allowed"
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for a, b in ((left, right), (right, left)):
                seq = isinstance(a, (str, list, tuple)) and isinstance(b, int)
                if seq and len(a) * b > self._MAX_REPEAT:
                    raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


def _raise_exception(message: str) -> NoReturn:
    raise TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@cache
def _environment() -> _Sandbox:
    env = _Sandbox(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


# Templates are data from a model file: cap what one render may produce, and how long it may
# run. Steps are lines executed in the template's own code (every loop iteration is at least
# one); a real chat template renders a conversation in a few hundred.
_MAX_RENDER_CHARS = 8_000_000
_MAX_RENDER_STEPS = 1_000_000
_MAX_RENDER_SECONDS = 10.0
_TEMPLATE_CODE = "<template>"  # jinja2's file name for code compiled from a string


class _RenderLimit(SecurityError):
    """A render ran out of steps or time (its message completes "The model's chat template ...")."""


class _RenderBudget:
    """A trace function that stops a template render after too many steps or seconds.

    Python-level tracing is the one hook that reaches inside jinja2's compiled loops (a
    ``{% for %}`` over ``range()`` calls nothing per iteration). Only frames of the template's
    own code are traced line by line; jinja2's runtime and filters run untraced."""

    def __init__(self, max_steps: int, max_seconds: float) -> None:
        self.max_steps = max_steps
        self.deadline = time.monotonic() + max_seconds
        self.max_seconds = max_seconds
        self.steps = 0

    def on_call(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == _TEMPLATE_CODE:
            return self.on_line
        return None

    def on_line(self, frame: FrameType, event: str, arg: Any) -> Any:
        self.steps += 1
        if self.steps > self.max_steps:
            raise _RenderLimit(
                f"did not finish rendering within {self.max_steps:,} steps, far more than any "
                "chat template needs (it loops)"
            )
        if not self.steps & 0x3FF and time.monotonic() > self.deadline:
            raise _RenderLimit(f"did not finish rendering within {self.max_seconds:g} seconds")
        return self.on_line


def _render_template_raw(
    template: str, messages: Sequence[Message], chat: ChatSpec, add_generation_prompt: bool
) -> str:
    compiled = _environment().from_string(template)
    out: list[str] = []
    size = 0
    budget = _RenderBudget(_MAX_RENDER_STEPS, _MAX_RENDER_SECONDS)
    previous = sys.gettrace()
    sys.settrace(budget.on_call)
    try:
        for chunk in compiled.generate(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            bos_token=chat.bos_token,
            eos_token=chat.eos_token,
            add_generation_prompt=add_generation_prompt,
        ):
            size += len(chunk)
            if size > _MAX_RENDER_CHARS:
                raise SecurityError("the chat template produced far more text than its input")
            out.append(chunk)
    finally:
        sys.settrace(previous)
    return "".join(out)


_PROBE = "vidsum-system-probe"


@cache
def _template_takes_system(template: str, bos: str, eos: str) -> bool:
    """Whether the template renders a system message (Gemma 2's, for one, refuses it)."""
    chat = ChatSpec("gguf-template", template, bos, eos)
    probe = [Message("system", _PROBE), Message("user", "hello")]
    try:
        return _PROBE in _render_template_raw(template, probe, chat, True)
    except SecurityError:
        raise
    except Exception:  # raise_exception() or any template failure on a system role
        return False


def _render_template(
    messages: Sequence[Message], chat: ChatSpec, add_generation_prompt: bool
) -> str:
    if not chat.template:
        raise ChatTemplateError("The model declares no chat template to render.")
    try:
        if not _template_takes_system(chat.template, chat.bos_token, chat.eos_token):
            messages = _fold_system(messages)
        return _render_template_raw(chat.template, messages, chat, add_generation_prompt)
    except _RenderLimit as exc:
        raise ChatTemplateError(
            f"The model's chat template {exc}; vidsum will not run it."
        ) from None
    except SecurityError as exc:
        raise ChatTemplateError(
            f"The model's chat template tried something the sandbox does not allow ({exc}); "
            "vidsum will not run it."
        ) from None
    except Exception as exc:  # raise_exception(), TemplateError, or a TypeError inside it
        raise ChatTemplateError(f"The model's chat template failed: {exc}") from None


def render_messages(
    messages: Sequence[Message], chat: ChatSpec, *, add_generation_prompt: bool = True
) -> str:
    """Messages -> prompt text in the model's chat format (BOS included where it belongs).

    A leading system message is kept where the format has a place for it and folded into the
    first user turn otherwise. Content is used as given: defuse untrusted text first.
    """
    if chat.format in ("mistral-instruct", "mistral-instruct-v3"):
        return _render_mistral(messages, chat, add_generation_prompt)
    if chat.format == "gguf-template":
        return _render_template(messages, chat, add_generation_prompt)
    if chat.format == "plain":
        return _render_plain(messages, chat, add_generation_prompt)
    raise ValueError(f"unknown chat format {chat.format!r}")


def check_chat_template(template: str, bos_token: str, eos_token: str) -> None:
    """Render a summary prompt as vidsum will (system text, examples, a transcript) with this
    template; raises ``ChatTemplateError`` when the template fails, misbehaves or runs too long."""
    chat = ChatSpec("gguf-template", template, bos_token, eos_token)
    build_summary_prompt("A short test transcript about hash tables.", chat, title="Probe")


def common_prefix(a: str, b: str) -> str:
    """The longest string both ``a`` and ``b`` start with."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def build_summary_prompt(
    transcript_text: str,
    chat: ChatSpec,
    *,
    title: str | None = None,
    exclude_hash: str | None = None,
    n_examples: int = 2,
) -> Prompt:
    """The full summary prompt for one transcript; ``exclude_hash`` is its sha256.

    Nothing of the transcript is cut: fitting it into the context is the caller's decision.
    """
    examples = choose_examples(transcript_text, exclude_hash=exclude_hash, n_examples=n_examples)
    history = [Message("system", instructions())]
    for ex in examples:
        history.append(Message("user", defuse(user_message(ex.transcript, ex.title), chat)))
        history.append(Message("assistant", ex.answer))
    last = Message("user", defuse(user_message(transcript_text, title), chat))
    text = render_messages([*history, last], chat, add_generation_prompt=True)
    prefix = render_messages(history, chat, add_generation_prompt=False)
    if not text.startswith(prefix):
        # A template that renders the last assistant turn differently: share what is common.
        prefix = common_prefix(text, prefix)
    return Prompt(text=text, shared_prefix=prefix, example_names=[e.name for e in examples])
