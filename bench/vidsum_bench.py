"""``python bench/speed.py``: the speed claims of issue 6, measured side by side.

One run prints, each measured within the run (A/B repetitions interleaved, so a busy machine
slows both sides alike):

1. decode speed with the summary grammar (the runner's fast path) / without it, same model,
   prompt, sampler and token budget; plus llama-cpp-python's ``LlamaGrammar`` path for context;
2. prefix re-evaluation: prompt tokens evaluated for each later transcript / its own tokens;
3. memory: the worker's RSS (and VRAM on a GPU) after summary 1 vs after summary N;
4. end to end: seconds per transcript of vidsum's path vs the naive path
   (``create_chat_completion`` + ``LlamaGrammar.from_json_schema``, same loaded model);
5. settings: threads, flash attention, KV cache type, n_batch/n_ubatch, compact JSON, and an
   estimate for forced-token fast-forward;

then appends one dated row to ``BENCHMARKS.md``. ``--full-size mistral-7b|mixtral-8x7b`` instead
builds a random-weight full-size GGUF (cached) and measures tok/s, seconds per seed-sized video
and VRAM. Inputs are the seed run's transcripts and examples, read where they lie.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from engine.errors import ConfigError, VidsumError

if TYPE_CHECKING:  # the rest is imported where needed: `vidsum --help` stays fast
    from engine.pipeline.prompts.prompting import ChatSpec, Message, Prompt
    from engine.runtime.base import Generation, LoadOptions, ModelInfo, Sampling
    from engine.runtime.llamacpp.runner import LlamaRunner
    from engine.transcripts.types import Transcript

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "seed-run"
DEFAULT_RECORD = REPO / "BENCHMARKS.md"
DEFAULT_MODEL = "gemma-3-270m:Q4_K_M"
ANSWER_TOKENS = 3072  # = engine.batch.local.ANSWER_TOKENS: the answer budget of a full summary
TARGETS = {"constrained": 0.95, "prefix": 1.05, "memory": 1.0, "e2e": 3.0}
RESULTS_HEADING = "## Results"
RESULTS_HEADER = (
    "| date (UTC) | machine | load 1m | model | threads | constrained/unconstrained "
    "| tok/s unconstr / constr / LlamaGrammar | prefix re-eval | RSS growth | e2e vs naive "
    "| s/transcript vidsum / naive | s/video | VRAM | notes |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


@dataclass(frozen=True)
class BenchOptions:
    model: str | None = None  # catalog id or .gguf path; None = the Gemma 3 270M default
    data: Path = DEFAULT_DATA  # the seed run: transcripts/*.txt, examples/*.txt|json
    threads: int | None = None  # None: the runner's default (physical cores)
    n_ctx: int | None = None  # None: the longest prompt + the answer budget
    decode_tokens: int = 128  # tokens per decode-speed repetition
    reps: int = 3  # interleaved A/B repetitions
    e2e_files: int = 3  # transcripts for the end-to-end and prefix measurements
    e2e_tokens: int | None = None  # answer cap for both paths; None: a full summary
    naive: bool = True  # measure llama-cpp-python's own path (decode and end to end)
    mem_runs: int = 20
    mem_tokens: int = 32  # answer cap in the memory loop (it measures growth, not summaries)
    settings: bool = True
    settings_reps: int = 2
    settings_tokens: int = 32
    full_size: str | None = None  # a synthetic_gguf preset: mistral-7b, mixtral-8x7b
    prompt_tokens: int = 7700  # full-size mode: a seed-sized video
    gen_tokens: int = 900
    gpu_layers: int = -1  # full-size mode
    record: Path | None = DEFAULT_RECORD
    note: str = ""


@dataclass
class Results:
    model: str = ""
    threads: int = 0
    tps_unconstrained: float | None = None
    tps_constrained: float | None = None
    tps_llamagrammar: float | None = None
    prefix_ratio: float | None = None  # the worst later transcript
    rss_growth: float | None = None  # fraction
    vram_growth: float | None = None
    e2e_vidsum_s: float | None = None
    e2e_naive_s: float | None = None
    e2e_later_ratio: float | None = None  # transcripts 2.., the prefix cached in both paths
    seconds_per_video: float | None = None
    vram_bytes: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def constrained_ratio(self) -> float | None:
        if self.tps_constrained is None or not self.tps_unconstrained:
            return None
        return self.tps_constrained / self.tps_unconstrained

    @property
    def e2e_ratio(self) -> float | None:
        if self.e2e_naive_s is None or not self.e2e_vidsum_s:
            return None
        return self.e2e_naive_s / self.e2e_vidsum_s


@dataclass(frozen=True)
class Input:
    path: Path
    transcript: Transcript


# --- small helpers --------------------------------------------------------------------------------


_FA = {None: "auto", True: "on", False: "off"}


def _say(out: TextIO, text: str = "") -> None:
    print(text, file=out, flush=True)


def _median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if xs else 0.0


def _fmt(x: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "–" if x is None else f"{x:{spec}}{suffix}"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("  [target met]" if ok else "  [TARGET MISSED]")


def rss_bytes(pid: int | None) -> int | None:
    """VmRSS of a process (Linux), or None where /proc has no answer."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def vram_bytes(pid: int | None) -> int | None:
    """GPU memory used by ``pid`` per nvidia-smi, or None (no NVIDIA GPU, or not listed)."""
    if pid is None:
        return None
    try:
        res = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in res.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] == str(pid) and parts[1].isdigit():
            return int(parts[1]) * 1024 * 1024
    return None


def machine_description() -> str:
    from engine.hardware import detect

    hw = detect()
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = hw.best_gpu()
    build = "GPU build" if hw.build.gpu_offload else "CPU build"
    where = f", {gpu.name}" if gpu is not None else ""
    return f"{cpu}, {hw.cpu_physical_cores} cores{where}, {build}"


def load_inputs(data: Path) -> tuple[list[Input], list[Path]]:
    """Transcripts (transcripts/*.txt, then examples/*.txt) and reference summaries."""
    from engine.transcripts.readers import load_transcript

    files = sorted((data / "transcripts").glob("*.txt")) + sorted((data / "examples").glob("*.txt"))
    if not files:
        raise ConfigError(
            f"No transcripts found under {data}; pass --data with the seed-run folder "
            "(transcripts/*.txt, examples/*.txt)."
        )
    refs = sorted((data / "examples").glob("*.json"))
    return [Input(p, load_transcript(p)) for p in files], refs


def summary_messages(transcript: Transcript, chat: ChatSpec) -> list[Message]:
    """The messages ``build_summary_prompt`` renders, for a chat-completion API."""
    from engine.pipeline.prompts.instructions import instructions
    from engine.pipeline.prompts.prompting import (
        Message,
        choose_examples,
        defuse,
        user_message,
    )

    text = transcript.text
    examples = choose_examples(text, exclude_hash=transcript.content_hash)
    msgs = [Message("system", instructions())]
    for ex in examples:
        msgs.append(Message("user", defuse(user_message(ex.transcript, ex.title), chat)))
        msgs.append(Message("assistant", ex.answer))
    msgs.append(Message("user", defuse(user_message(text, transcript.meta.title), chat)))
    return msgs


def _chat_spec(info: ModelInfo, chat_format: str) -> ChatSpec:
    from engine.pipeline.prompts.prompting import ChatSpec

    if chat_format == "mistral-instruct":
        return ChatSpec("mistral-instruct", None, info.bos_text, info.eos_text)
    if info.chat_template:
        return ChatSpec("gguf-template", info.chat_template, info.bos_text, info.eos_text)
    return ChatSpec("plain", None, info.bos_text, info.eos_text)


def _round_up(n: int, step: int = 1024) -> int:
    return -(-n // step) * step


def _timed(fn: Callable[[], Generation]) -> tuple[Generation, float]:
    t = time.perf_counter()
    g = fn()
    return g, time.perf_counter() - t


def _tps(g: Generation) -> float:
    return g.generated_tokens / g.generation_seconds if g.generation_seconds > 0 else 0.0


# --- the naive path: llama-cpp-python's own API, in this process ----------------------------------


class Naive:
    """``llama_cpp.Llama`` with the same load settings: the path vidsum is compared with."""

    def __init__(self, opts: LoadOptions) -> None:
        import llama_cpp
        from llama_cpp import Llama

        from engine.hardware import physical_cores
        from engine.runtime.llamacpp.cpu_features import patch_default_params

        patch_default_params(llama_cpp)

        threads = opts.n_threads or physical_cores()
        self.llm = Llama(
            str(opts.model_path),
            n_ctx=opts.n_ctx,
            n_gpu_layers=opts.n_gpu_layers,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=opts.n_batch,
            n_ubatch=opts.n_ubatch,
            flash_attn=opts.flash_attn is not False,  # None: auto, on where supported
            verbose=False,
        )

    def decode_tps(self, prompt: str, gbnf: str, s: Sampling, n: int) -> tuple[float, int]:
        """Decode tok/s of ``Llama.generate`` with a ``LlamaGrammar`` (Python-side masking)."""
        from llama_cpp import LlamaGrammar

        self.check(gbnf)
        grammar = LlamaGrammar.from_string(gbnf, verbose=False)
        tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        self.llm.set_seed(s.seed)
        stamps: list[float] = []
        for tok in self.llm.generate(
            tokens,
            top_k=s.top_k,
            top_p=s.top_p,
            min_p=s.min_p,
            temp=s.temperature,
            repeat_penalty=s.repeat_penalty,
            grammar=grammar,
        ):
            stamps.append(time.perf_counter())
            if len(stamps) >= n or self.llm.token_eos() == tok:
                break
        # From the first token on: prompt evaluation and the first pick are not decode time.
        if len(stamps) < 2:
            return 0.0, len(stamps)
        return (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps)

    def check(self, gbnf: str) -> None:
        """Refuse a grammar llama.cpp cannot parse: ``LlamaGrammar`` would crash the process."""
        import llama_cpp as L

        vocab = L.llama_model_get_vocab(self.llm.model)
        sampler = L.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
        if not sampler:
            raise ConfigError("llama.cpp cannot parse the naive path's grammar.")
        L.llama_sampler_free(sampler)

    def chat(
        self, messages: list[Message], s: Sampling, max_tokens: int
    ) -> tuple[str, int, int, float]:
        """One naive summary: text, prompt tokens, completion tokens, wall seconds."""
        from llama_cpp import LlamaGrammar

        grammar = LlamaGrammar.from_json_schema(naive_schema(), verbose=False)
        self.check(grammar._grammar)
        t = time.perf_counter()
        res: Any = self.llm.create_chat_completion(
            messages=[_as_dict(m) for m in messages],
            grammar=grammar,
            max_tokens=max_tokens,
            temperature=s.temperature,
            top_k=s.top_k,
            top_p=s.top_p,
            min_p=s.min_p,
            repeat_penalty=s.repeat_penalty,
            seed=s.seed,
        )
        wall = time.perf_counter() - t
        text = res["choices"][0]["message"]["content"] or ""
        usage = res["usage"]
        return text, int(usage["prompt_tokens"]), int(usage["completion_tokens"]), wall

    def close(self) -> None:
        self.llm.close()


def naive_schema() -> str:
    """The ``Summary`` JSON schema as the naive path can use it: without ``maxLength``.

    With the limits, ``from_json_schema`` nests up to 1200 optional repeats per string, which
    llama.cpp's grammar parser refuses (and llama-cpp-python then segfaults on first use).
    """
    from engine.schema import Summary

    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k != "maxLength"}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return json.dumps(strip(Summary.model_json_schema()))


def _as_dict(m: Message) -> Any:
    return {"role": m.role, "content": m.content}


def _valid(text: str) -> bool:
    from engine.errors import GenerationError
    from engine.pipeline.checks.validate import parse_summary

    try:
        parse_summary(text)
    except GenerationError:
        return False
    return True


# --- sections -------------------------------------------------------------------------------------


def bench_e2e_and_prefix(
    runner: LlamaRunner,
    naive: Naive | None,
    spec: ChatSpec,
    inputs: list[Input],
    prompts: list[Prompt],
    opts: BenchOptions,
    res: Results,
    out: TextIO,
) -> None:
    """Sections 2 and 4: both paths start cold and take the same transcripts, interleaved."""
    from engine.pipeline.prompts.grammar import summary_constraint
    from engine.runtime.base import Sampling

    constraint = summary_constraint()
    cap = opts.e2e_tokens or ANSWER_TOKENS
    s = Sampling(max_tokens=cap)
    chosen = list(range(min(opts.e2e_files, len(inputs))))
    _say(
        out,
        f"\n[e2e + prefix] end to end, {len(chosen)} transcripts, answer cap {cap} tokens "
        "(vidsum, then naive, per transcript)",
    )
    ours: list[float] = []
    theirs: list[float] = []
    ratios: list[float] = []
    valid = 0
    for i in chosen:
        inp, prompt = inputs[i], prompts[i]
        n_all = len(runner.tokenize(prompt.text))
        n_own = n_all - len(runner.tokenize(prompt.shared_prefix))
        t = time.perf_counter()  # what the pipeline does: generate, then validate
        g = runner.generate(
            prompt.text, constraint=constraint, sampling=s, shared_prefix=prompt.shared_prefix
        )
        ok = g.stop_reason == "stop" and _valid(g.text)
        wall = time.perf_counter() - t
        ours.append(wall)
        valid += ok
        line = (
            f"  {inp.path.name}: vidsum {wall:.1f} s (evaluated {g.prompt_evaluated} of "
            f"{n_all} prompt tokens in {g.prompt_seconds:.1f} s, own {n_own}; "
            f"{g.generated_tokens} tokens ({g.forced_tokens} forced, {g.draft_accepted}/"
            f"{g.draft_tokens} drafted) at "
            f"{_tps(g):.1f} tok/s, {g.stop_reason}, {'valid' if ok else 'not valid'})"
        )
        if i > 0 and n_own > 0:
            ratios.append(g.prompt_evaluated / n_own)
            line += f"; re-eval {ratios[-1]:.3f}x own"
        _say(out, line)
        if naive is not None:
            text, n_prompt, n_gen, nwall = naive.chat(
                summary_messages(inp.transcript, spec), s, cap
            )
            theirs.append(nwall)
            _say(
                out,
                f"  {inp.path.name}: naive  {nwall:.1f} s ({n_prompt} prompt tokens, {n_gen} "
                "tokens, "
                f"{'valid' if _valid(text) else 'not valid'})",
            )
    res.prefix_ratio = max(ratios) if ratios else None
    res.e2e_vidsum_s = statistics.fmean(ours) if ours else None
    res.e2e_naive_s = statistics.fmean(theirs) if theirs else None
    if len(theirs) > 1:
        res.e2e_later_ratio = sum(theirs[1:]) / sum(ours[1:])
        res.notes.append(f"e2e later transcripts {res.e2e_later_ratio:.1f}x")
    _say(out, f"  vidsum outputs valid: {valid}/{len(chosen)}")
    if opts.e2e_tokens:
        res.notes.append(f"e2e cap {cap} tok")


def bench_decode(
    runner: LlamaRunner,
    naive: Naive | None,
    prompt: str,
    opts: BenchOptions,
    res: Results,
    out: TextIO,
) -> None:
    """Section 1: the same prompt (cached) and budget, with and without the grammar."""
    from engine.pipeline.prompts.grammar import summary_constraint, summary_gbnf
    from engine.runtime.base import Constraint, Sampling
    from engine.runtime.llamacpp.runner import DecodeOptions

    gbnf = summary_gbnf()
    constraint = summary_constraint()
    n = opts.decode_tokens
    # The ratio is per sampled token (fast-forward and drafts off); the pipeline's default,
    # with both, is measured beside it.
    s = Sampling(max_tokens=n)
    plain = DecodeOptions(fast_forward=False, draft=False)
    _say(
        out,
        f"\n[decode] speed, {n} tokens x {opts.reps} interleaved repetitions, same "
        f"prompt ({len(runner.tokenize(prompt))} tokens, cached) and sampler",
    )
    # Fills the cache.
    runner.generate(prompt, constraint=None, sampling=replace(s, max_tokens=1), decoding=plain)
    free: list[float] = []
    fast: list[float] = []
    ff: list[float] = []
    slow: list[float] = []
    variants: list[tuple[str, Constraint | None, DecodeOptions]] = [
        ("no grammar", None, plain),
        ("grammar", constraint, plain),
        ("grammar + fast-forward + drafts", constraint, DecodeOptions()),
    ]
    for rep in range(opts.reps):
        for kind, wanted, decoding in variants if rep % 2 == 0 else variants[::-1]:
            g = runner.generate(prompt, constraint=wanted, sampling=s, decoding=decoding)
            {"no grammar": free, "grammar": fast}.get(kind, ff).append(_tps(g))
            extra = (
                f", {g.grammar_resamples} re-picks, {g.grammar_full_masks} full masks, "
                f"{g.forced_tokens} forced, {g.draft_accepted}/{g.draft_tokens} drafted"
                if wanted
                else ""
            )
            _say(
                out, f"  rep {rep + 1} {kind}: {g.generated_tokens} tok, {_tps(g):.1f} tok/s{extra}"
            )
        if naive is not None:
            tps, got = naive.decode_tps(prompt, gbnf, s, n)
            slow.append(tps)
            _say(out, f"  rep {rep + 1} LlamaGrammar (naive): {got} tok, {tps:.1f} tok/s")
    res.tps_unconstrained = _median(free)
    res.tps_constrained = _median(fast)
    res.tps_llamagrammar = _median(slow) if slow else None
    pairs = [c / u for c, u in zip(fast, free, strict=True) if u > 0]
    _say(
        out,
        f"  median: unconstrained {res.tps_unconstrained:.1f} tok/s, grammar (fast path) "
        f"{res.tps_constrained:.1f} tok/s, with fast-forward + drafts {_median(ff):.1f} tok/s, "
        f"LlamaGrammar {_fmt(res.tps_llamagrammar, '.1f')}"
        f" tok/s; per-pair ratios {min(pairs):.2f}..{max(pairs):.2f}",
    )
    res.notes.append(f"grammar + fast-forward + drafts {_median(ff):.1f} tok/s")


def bench_memory(
    options: LoadOptions,
    inputs: list[Input],
    prompts: list[Prompt],
    opts: BenchOptions,
    res: Results,
    out: TextIO,
) -> None:
    """Section 3: a fresh worker, ``mem_runs`` summaries cycling the inputs, longest first
    (so summary 1 already reaches the batch's KV high-water mark; growth then means a leak)."""
    from engine.pipeline.prompts.grammar import summary_constraint
    from engine.runtime.base import Sampling
    from engine.runtime.llamacpp.runner import LlamaRunner

    constraint = summary_constraint()
    s = Sampling(max_tokens=opts.mem_tokens)
    _say(
        out,
        f"\n[memory] {opts.mem_runs} summaries on a fresh worker (same model, "
        f"answer cap {opts.mem_tokens} tokens), cycling {len(inputs)} transcripts",
    )
    with LlamaRunner(options) as runner:
        runner.load()
        order = sorted(range(len(prompts)), key=lambda i: -len(runner.tokenize(prompts[i].text)))
        rss: list[int] = []
        vram: list[int] = []
        for k in range(opts.mem_runs):
            i = order[k % len(order)]
            p = prompts[i]
            runner.generate(
                p.text,
                constraint=constraint,
                sampling=replace(s, seed=k),
                shared_prefix=p.shared_prefix,
            )
            r = rss_bytes(runner.pid)
            if r is not None:
                rss.append(r)
            v = vram_bytes(runner.pid)
            if v is not None:
                vram.append(v)
    if len(rss) >= 2:
        res.rss_growth = (rss[-1] - rss[0]) / rss[0]
        _say(
            out,
            f"  worker RSS after summary 1: {rss[0] / 2**20:.1f} MiB, after "
            f"{len(rss)}: {rss[-1] / 2**20:.1f} MiB (min {min(rss) / 2**20:.1f}, max "
            f"{max(rss) / 2**20:.1f}) -> growth {res.rss_growth:+.2%}",
        )
        _say(out, "  RSS MiB by summary: " + " ".join(f"{r / 2**20:.1f}" for r in rss))
    else:
        _say(out, "  worker RSS: not readable on this system (/proc)")
    if len(vram) >= 2:
        res.vram_growth = (vram[-1] - vram[0]) / vram[0]
        res.vram_bytes = max(vram)
        _say(
            out,
            f"  worker VRAM after 1: {vram[0] / 2**20:.0f} MiB, after {len(vram)}: "
            f"{vram[-1] / 2**20:.0f} MiB -> growth {res.vram_growth:+.2%}",
        )


def bench_settings(
    base: LoadOptions, text: str, bos: str, opts: BenchOptions, out: TextIO
) -> list[str]:
    """Section 5: each group's variants loaded side by side, measured round-robin."""
    from engine.hardware import physical_cores
    from engine.pipeline.prompts.grammar import summary_constraint
    from engine.runtime.base import Sampling
    from engine.runtime.llamacpp.runner import LlamaRunner

    constraint = summary_constraint()
    s = Sampling(max_tokens=opts.settings_tokens)
    cores = physical_cores()
    groups: list[tuple[str, list[tuple[str, LoadOptions]]]] = []
    if cores > 1:
        groups.append(("threads", [(f"{t}", replace(base, n_threads=t)) for t in (1, cores)]))
    groups.append(
        (
            "flash attention",
            [(f"{'on' if fa else 'off'}", replace(base, flash_attn=fa)) for fa in (False, True)],
        )
    )
    groups.append(
        (
            "KV cache (flash attention on)",
            [(kv, replace(base, flash_attn=True, type_k=kv, type_v=kv)) for kv in ("f16", "q8_0")],
        )
    )
    groups.append(
        (
            "n_batch = n_ubatch",
            [(str(b), replace(base, n_batch=b, n_ubatch=b)) for b in (256, 512, 1024)],
        )
    )
    lines: list[str] = []
    _say(
        out,
        f"\n[settings] prompt eval of {len(text)} chars of transcript (re-evaluated "
        f"each time) + {opts.settings_tokens} grammar tokens, {opts.settings_reps} "
        "round-robin repetitions per group",
    )
    counter = 0
    for name, variants in groups:
        with contextlib.ExitStack() as stack:
            runners = []
            for label, lo in variants:
                r = stack.enter_context(LlamaRunner(lo))
                try:
                    r.load()
                except VidsumError as exc:  # e.g. a quantized KV cache this model cannot have
                    _say(out, f"  {name} {label}: not available: {exc}")
                    continue
                runners.append((label, r, rss_bytes(r.pid)))
            pp: dict[str, list[float]] = {label: [] for label, _, _ in runners}
            tg: dict[str, list[float]] = {label: [] for label, _, _ in runners}
            n_prompt = 0
            for rep in range(opts.settings_reps):
                seq = runners if rep % 2 == 0 else runners[::-1]
                for label, r, _ in seq:
                    counter += 1
                    # A different first line each time: the whole prompt is evaluated again.
                    g = r.generate(
                        f"{bos}Run {counter}.\n{text}", constraint=constraint, sampling=s
                    )
                    n_prompt = g.prompt_evaluated
                    pp[label].append(g.prompt_evaluated / g.prompt_seconds)
                    tg[label].append(_tps(g))
            parts = []
            for label, _, rss in runners:
                mem = f", RSS {rss / 2**20:.0f} MiB" if rss else ""
                parts.append(
                    f"{label}: prompt {_median(pp[label]):.0f} tok/s, decode "
                    f"{_median(tg[label]):.1f} tok/s{mem}"
                )
            line = f"  {name} ({n_prompt} prompt tokens): " + "; ".join(parts)
            _say(out, line)
            lines.append(line.strip())
    return lines


def bench_json(runner: LlamaRunner, refs: list[Path], res: Results, out: TextIO) -> None:
    """Compact vs pretty JSON on the reference summaries; the grammar's fixed tokens."""
    from engine.pipeline.prompts.prompting import load_examples

    _say(out, "\n[settings] compact JSON and forced tokens")
    for ref in refs:
        raw = ref.read_text(encoding="utf-8")
        value = json.loads(raw)
        pretty = len(runner.tokenize(json.dumps(value, indent=2, ensure_ascii=False)))
        compact = len(runner.tokenize(json.dumps(value, separators=(",", ":"), ensure_ascii=False)))
        _say(
            out,
            f"  {ref.name}: pretty {pretty} tokens, compact {compact} tokens "
            f"({1 - compact / pretty:.0%} fewer to generate)",
        )
    forced = total = 0
    for ex in load_examples():
        value = json.loads(ex.answer)
        total += len(runner.tokenize(ex.answer))
        forced += len(runner.tokenize(json.dumps(_skeleton(value), separators=(",", ":"))))
    share = forced / total if total else 0.0
    _say(
        out,
        f"  forced-token fast-forward: keys, punctuation and 'Section N: ' are "
        f"{forced}/{total} = {share:.0%} of the example summaries' tokens; the runner feeds "
        "forced text in one batch (less the last token of each run, which the model may join "
        "to what follows): see 'forced' in [decode] and [e2e]",
    )


def _skeleton(value: Any) -> Any:
    """The JSON with every free string emptied: what the grammar fixes by itself."""
    if isinstance(value, dict):
        return {k: _skeleton(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_skeleton(v) for v in value]
    if isinstance(value, str):
        return value[: len("Section 1: ")] if value.startswith("Section ") else ""
    return value


# --- the two modes --------------------------------------------------------------------------------


def _resolve(opts: BenchOptions) -> tuple[Path, str, str]:
    from engine.modelstore.manager import resolve_model

    m = resolve_model(opts.model or DEFAULT_MODEL)
    return m.path, m.chat_format, m.id


def run(opts: BenchOptions, out: TextIO = sys.stdout) -> Results:
    """The default mode: every measurement on one model, one run."""
    from engine.pipeline.prompts.prompting import build_summary_prompt
    from engine.runtime.base import LoadOptions
    from engine.runtime.llamacpp.runner import LlamaRunner

    if opts.full_size:
        return run_full_size(opts, out)
    inputs, refs = load_inputs(opts.data)
    path, chat_format, model_id = _resolve(opts)
    res = Results(model=model_id)
    _say(out, f"vidsum bench: {model_id} ({path.name}), {len(inputs)} transcripts from {opts.data}")
    _say(out, f"machine: {machine_description()}; load {os.getloadavg()[0]:.1f}")

    probe = LoadOptions(model_path=path, n_ctx=512, n_threads=opts.threads)
    with LlamaRunner(probe) as r:
        info = r.load()
        spec = _chat_spec(info, chat_format)
        prompts = [
            build_summary_prompt(
                i.transcript.text,
                spec,
                title=i.transcript.meta.title,
                exclude_hash=i.transcript.content_hash,
            )
            for i in inputs
        ]
        longest = max(r.count_tokens([p.text for p in prompts]))
    cap = opts.e2e_tokens or ANSWER_TOKENS
    n_ctx = opts.n_ctx or min(
        _round_up(longest + max(cap, opts.decode_tokens) + 64), max(info.n_ctx_train, 512)
    )
    options = LoadOptions(model_path=path, n_ctx=n_ctx, n_threads=opts.threads)
    res.threads = opts.threads or info.n_threads
    _say(
        out,
        f"context {n_ctx} tokens, threads {res.threads}, n_batch {options.n_batch}, "
        f"flash attention {_FA[options.flash_attn]}, KV f16, chat format {spec.format}",
    )

    with contextlib.ExitStack() as stack:
        runner = stack.enter_context(LlamaRunner(options))
        runner.load()
        naive = Naive(options) if opts.naive else None
        if naive is not None:
            stack.callback(naive.close)
        bench_e2e_and_prefix(runner, naive, spec, inputs, prompts, opts, res, out)
        last = prompts[min(opts.e2e_files, len(prompts)) - 1].text
        bench_decode(runner, naive, last, opts, res, out)
        bench_json(runner, refs, res, out)
    if opts.mem_runs >= 2:
        bench_memory(options, inputs, prompts, opts, res, out)
    if opts.settings:
        longest_input = max(inputs, key=lambda i: len(i.transcript.text))
        bench_settings(options, longest_input.transcript.text, info.bos_text, opts, out)
    summarize(res, out)
    return res


def _long_prompt(runner: LlamaRunner, inputs: list[Input], target: int, bos: str) -> str:
    """Real transcript text, repeated as needed, cut to about ``target`` tokens."""
    base = "\n\n".join(i.transcript.text for i in inputs)
    n = max(1, len(runner.tokenize(base)))
    text = base * (target // n + 1)
    for _ in range(4):
        have = len(runner.tokenize(text))
        if abs(have - target) <= max(8, target // 200):
            break
        text = (text * 2)[: max(1, int(len(text) * target / have))]
    return bos + text


def full_size_model(preset: str, progress: TextIO) -> Path:
    """The random-weight full-size GGUF, written once into the cache dir (~17 s, 3.8 GB)."""
    from bench.synthetic_gguf import PRESETS, write_gguf
    from engine.paths import get_paths
    from engine.progress import Progress

    if preset not in PRESETS:
        raise ConfigError(f"Unknown --full-size {preset!r}; use one of {', '.join(PRESETS)}.")
    path = get_paths().cache / "bench" / f"{preset}-Q4_0.gguf"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        _say(progress, f"writing {path} (random weights, once)...")
        last = [0.0]

        def show(ev: Progress) -> None:
            if ev.total and time.monotonic() - last[0] > 5:
                last[0] = time.monotonic()
                _say(progress, f"  {ev.done / ev.total:.0%}")

        write_gguf(path, PRESETS[preset], quant="Q4_0", progress=show)
    return path


def run_full_size(opts: BenchOptions, out: TextIO) -> Results:
    """Tok/s, seconds per seed-sized video and VRAM on a full-size random-weight model."""
    from engine.pipeline.prompts.grammar import summary_constraint
    from engine.runtime.base import LoadOptions, Sampling
    from engine.runtime.llamacpp.runner import LlamaRunner

    assert opts.full_size is not None
    inputs, _ = load_inputs(opts.data)
    path = full_size_model(opts.full_size, out)
    res = Results(model=f"{opts.full_size} (synthetic Q4_0)")
    _say(out, f"vidsum bench --full-size {opts.full_size}: {path}")
    _say(out, f"machine: {machine_description()}; load {os.getloadavg()[0]:.1f}")
    n_ctx = opts.n_ctx or _round_up(opts.prompt_tokens + opts.gen_tokens + 256)
    options = LoadOptions(
        model_path=path, n_ctx=n_ctx, n_gpu_layers=opts.gpu_layers, n_threads=opts.threads
    )
    constraint = summary_constraint()
    with LlamaRunner(options) as runner:
        info = runner.load()
        res.threads = info.n_threads
        if not info.gpu_offload:
            res.notes.append("CPU build: no GPU numbers")
            _say(out, "  this llama.cpp build cannot offload: the numbers below are CPU numbers")
        prompt = _long_prompt(runner, inputs, opts.prompt_tokens, info.bos_text)
        g, wall = _timed(
            lambda: runner.generate(
                prompt, constraint=constraint, sampling=Sampling(max_tokens=opts.gen_tokens)
            )
        )
        tps = _tps(g)
        # Normalized to the seed run's answer length when the random model stopped early.
        res.seconds_per_video = g.prompt_seconds + (opts.gen_tokens / tps if tps else 0.0)
        res.vram_bytes = vram_bytes(runner.pid)
        _say(
            out,
            f"  one video: {g.prompt_tokens} prompt tokens in {g.prompt_seconds:.2f} s "
            f"({g.prompt_tokens / g.prompt_seconds:.0f} tok/s), {g.generated_tokens} "
            f"tokens at {tps:.1f} tok/s ({g.stop_reason}); wall {wall:.2f} s -> "
            f"{res.seconds_per_video:.2f} s per video of {opts.gen_tokens} tokens",
        )
        _say(
            out,
            f"  worker RSS {_fmt((rss_bytes(runner.pid) or 0) / 2**30, '.2f', ' GiB')}, "
            f"VRAM {_fmt(res.vram_bytes / 2**30 if res.vram_bytes else None, '.2f', ' GiB')}",
        )
        bench_decode(runner, None, prompt, opts, res, out)
    summarize(res, out)
    return res


# --- report ---------------------------------------------------------------------------------------


def summarize(res: Results, out: TextIO) -> None:
    """The ratios against the issue's targets; lines for what this mode did not measure are
    left out."""
    t = TARGETS
    cr, er, pr, g = res.constrained_ratio, res.e2e_ratio, res.prefix_ratio, res.rss_growth
    _say(out, "\nsummary")
    if cr is not None:
        _say(
            out,
            f"  constrained/unconstrained decode: {cr:.2f} (target >= {t['constrained']})"
            f"{_verdict(cr >= t['constrained'])}",
        )
        _say(
            out,
            f"  tok/s: unconstrained {_fmt(res.tps_unconstrained, '.1f')}, grammar fast "
            f"path {_fmt(res.tps_constrained, '.1f')}, LlamaGrammar "
            f"{_fmt(res.tps_llamagrammar, '.1f')}",
        )
    if pr is not None:
        _say(
            out,
            f"  prefix re-evaluation (worst later transcript): {pr:.3f}x its own tokens "
            f"(target <= {t['prefix']}){_verdict(pr <= t['prefix'])}",
        )
    if g is not None:
        _say(
            out,
            f"  worker RSS growth summary 1 -> last: {100 * g:+.2f}% (target < "
            f"{t['memory']:.0f}%){_verdict(abs(100 * g) < t['memory'])}",
        )
    if res.vram_growth is not None:
        _say(out, f"  worker VRAM growth: {100 * res.vram_growth:+.2f}%")
    if res.e2e_vidsum_s is not None:
        _say(
            out,
            f"  end to end: vidsum {res.e2e_vidsum_s:.2f} s, naive "
            f"{_fmt(res.e2e_naive_s, '.2f')} s per transcript -> {_fmt(er)}x (target >= "
            f"{t['e2e']:.0f}x){_verdict(None if er is None else er >= t['e2e'])}",
        )
    if res.e2e_later_ratio is not None:
        _say(out, f"    transcripts 2.. only (shared prefix cached): {res.e2e_later_ratio:.2f}x")
    if res.seconds_per_video is not None:
        _say(out, f"  seconds per seed-sized video: {res.seconds_per_video:.2f}")
    if res.vram_bytes is not None:
        _say(out, f"  VRAM (worker): {res.vram_bytes / 2**30:.2f} GiB")


def table_row(res: Results, machine: str, load: float, note: str = "") -> str:
    def cell(text: str) -> str:
        return text.replace("|", "/").replace("\n", " ")

    g = res.rss_growth
    notes = "; ".join([*res.notes, *([note] if note else [])])
    cells = [
        dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        machine,
        f"{load:.1f}",
        res.model,
        str(res.threads),
        _fmt(res.constrained_ratio),
        f"{_fmt(res.tps_unconstrained, '.1f')} / {_fmt(res.tps_constrained, '.1f')} / "
        f"{_fmt(res.tps_llamagrammar, '.1f')}",
        _fmt(res.prefix_ratio, ".3f", "x"),
        _fmt(None if g is None else 100 * g, "+.2f", "%"),
        _fmt(res.e2e_ratio, ".1f", "x"),
        f"{_fmt(res.e2e_vidsum_s, '.1f')} / {_fmt(res.e2e_naive_s, '.1f')}",
        _fmt(res.seconds_per_video, ".2f"),
        _fmt(res.vram_bytes / 2**30 if res.vram_bytes else None, ".2f", " GiB"),
        notes or "–",
    ]
    return "| " + " | ".join(cell(c) for c in cells) + " |\n"


def append_row(path: Path, row: str) -> None:
    """Append one table row in a single ``write`` (O_APPEND: concurrent runs never interleave);
    the results heading and table header are added first when the file has none."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        with _locked(fd):
            size = os.fstat(fd).st_size
            existing = os.pread(fd, size, 0).decode("utf-8", "replace") if size else ""
            chunk = row
            if RESULTS_HEADER.splitlines()[0] not in existing:
                chunk = f"\n{RESULTS_HEADING}\n\n{RESULTS_HEADER}{row}"
            if existing and not existing.endswith("\n"):
                chunk = "\n" + chunk
            os.write(fd, chunk.encode("utf-8"))
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: O_APPEND alone
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


# --- command line ---------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = BenchOptions()
    p.add_argument(
        "--model", metavar="ID|PATH", help=f"catalog id or .gguf path (default: {DEFAULT_MODEL})"
    )
    p.add_argument(
        "--data",
        type=Path,
        default=d.data,
        metavar="DIR",
        help="the seed-run folder: transcripts/*.txt, examples/*.txt and *.json",
    )
    p.add_argument("--threads", type=int, default=None, help="default: physical cores")
    p.add_argument(
        "--ctx",
        type=int,
        default=None,
        dest="n_ctx",
        help="context (default: longest prompt + answer)",
    )
    p.add_argument("--decode-tokens", type=int, default=d.decode_tokens)
    p.add_argument("--reps", type=int, default=d.reps, help="interleaved A/B repetitions")
    p.add_argument("--e2e-files", type=int, default=d.e2e_files)
    p.add_argument(
        "--e2e-tokens",
        type=int,
        default=None,
        help="answer cap for both end-to-end paths (default: full summary)",
    )
    p.add_argument(
        "--no-naive", dest="naive", action="store_false", help="skip llama-cpp-python's own path"
    )
    p.add_argument("--mem-runs", type=int, default=d.mem_runs)
    p.add_argument("--mem-tokens", type=int, default=d.mem_tokens)
    p.add_argument("--no-settings", dest="settings", action="store_false")
    p.add_argument("--settings-reps", type=int, default=d.settings_reps)
    p.add_argument("--settings-tokens", type=int, default=d.settings_tokens)
    p.add_argument(
        "--full-size",
        metavar="SHAPE",
        default=None,
        help="mistral-7b | mixtral-8x7b: random-weight full-size model (GPU)",
    )
    p.add_argument("--prompt-tokens", type=int, default=d.prompt_tokens)
    p.add_argument("--gen-tokens", type=int, default=d.gen_tokens)
    p.add_argument("--gpu-layers", type=int, default=d.gpu_layers)
    p.add_argument(
        "--record",
        type=Path,
        default=DEFAULT_RECORD,
        metavar="FILE",
        help="append the row here (default: BENCHMARKS.md in the repo)",
    )
    p.add_argument("--no-record", dest="record", action="store_const", const=None)
    p.add_argument("--note", default="", help="free text for the row's notes column")


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    names = BenchOptions.__dataclass_fields__
    return BenchOptions(**{k: v for k, v in vars(args).items() if k in names})


def cmd_bench(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    opts = options_from_args(args)
    load = os.getloadavg()[0]
    res = run(opts, out)
    if opts.record is not None:
        load = max(load, os.getloadavg()[0])
        append_row(opts.record, table_row(res, machine_description(), load, opts.note))
        _say(out, f"row appended to {opts.record}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/speed.py", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return cmd_bench(args, sys.stdout, sys.stderr)
    except VidsumError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return exc.exit_code
