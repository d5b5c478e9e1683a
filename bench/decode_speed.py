"""Decode speed of the grammar paths and prefix reuse, measured side by side in one run.

    python bench/decode_speed.py [--model PATH] [--tiny] [--tokens 256] [--repeats 3]

For each model (Gemma 3 270M by default; ``--tiny`` adds the tiny random-weight llama):

* unconstrained vs the runner's grammar path (sample first, check one token, retry on the top
  candidates, mask the vocabulary last) on the same prompt, interleaved ``--repeats`` times;
  tok/s by wall clock, plus sampling CPU time per token (what the grammar costs, immune to
  other load on the machine);
* the naive path users usually write, ``Llama.create_completion(grammar=LlamaGrammar...)``,
  which masks the whole vocabulary at every token (in this process, once);
* prefix reuse: two prompts sharing instructions, the second evaluating only its own tokens.

Timings on a shared machine are noisy: compare the numbers of one run with each other.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.hardware import physical_cores
from engine.pipeline.prompts.grammar import summary_constraint
from engine.runtime.base import Generation, LoadOptions, Sampling
from engine.runtime.llamacpp.runner import LlamaRunner

SEED_RUN = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "seed-run"
SAMPLING = Sampling()  # the defaults the pipeline uses


def instructions() -> str:
    try:
        from engine.pipeline.prompts.instructions import instructions as prompt_instructions

        return prompt_instructions()
    except Exception:  # the prompt module is someone else's and may be mid-change
        return (SEED_RUN / "instructions.txt").read_text(encoding="utf-8")


def transcripts() -> list[str]:
    files = sorted((SEED_RUN / "transcripts").glob("*.txt"))
    if len(files) < 2:
        raise SystemExit(f"need two transcripts in {SEED_RUN / 'transcripts'}")
    return [f.read_text(encoding="utf-8") for f in files[:2]]


def prompts(bos: str, gemma: bool, chars: int) -> tuple[str, list[str]]:
    """(shared prefix, [prompt per transcript]) in the model's turn format."""
    if gemma:
        prefix = f"{bos}<start_of_turn>user\n{instructions()}\n\n"
        tail = "<end_of_turn>\n<start_of_turn>model\n"
    else:
        prefix = f"{bos}[INST] {instructions()}\n\n"
        tail = " [/INST]"
    return prefix, [f"{prefix}Transcript:\n{t[:chars]}{tail}" for t in transcripts()]


def tok_s(g: Generation) -> float:
    return g.generated_tokens / g.generation_seconds if g.generation_seconds else 0.0


def naive(path: Path, prompt: str, grammar: str, n: int, threads: int, n_ctx: int) -> float:
    """tok/s of create_completion with a LlamaGrammar, timed from the first token on."""
    import llama_cpp
    from llama_cpp import Llama, LlamaGrammar

    from engine.runtime.llamacpp.cpu_features import patch_default_params

    patch_default_params(llama_cpp)
    llm = Llama(str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    bos = llm.detokenize([llm.token_bos()], special=True).decode()
    try:
        stream = llm.create_completion(
            prompt.removeprefix(bos),  # create_completion adds BOS itself
            grammar=LlamaGrammar.from_string(grammar, verbose=False),
            max_tokens=n,
            temperature=SAMPLING.temperature,
            top_k=SAMPLING.top_k,
            top_p=SAMPLING.top_p,
            min_p=SAMPLING.min_p,
            seed=0,
            stream=True,
        )
        count, first = 0, 0.0
        for _chunk in stream:
            count += 1
            if count == 1:
                first = time.perf_counter()
        elapsed = time.perf_counter() - first
        return (count - 1) / elapsed if count > 1 and elapsed > 0 else 0.0
    finally:
        llm.close()


def bench_model(path: Path, label: str, args: argparse.Namespace) -> None:
    threads = args.threads or physical_cores()
    n_ctx = 8192
    constraint = summary_constraint()
    print(f"\n== {label}: {path.name}, {threads} thread(s), {args.tokens} tokens per run")
    with LlamaRunner(LoadOptions(path, n_ctx=n_ctx, n_threads=threads)) as runner:
        info = runner.load()
        prefix, (first, second) = prompts(
            info.bos_text, info.architecture.startswith("gemma"), args.chars
        )
        # Warm the cache with the prompt, so both paths below time generation only.
        runner.generate(
            first, constraint=None, sampling=Sampling(max_tokens=1), shared_prefix=prefix
        )
        runs: dict[str, list[Generation]] = {"free": [], "grammar": []}
        for rep in range(args.repeats):
            for mode in ("free", "grammar"):
                s = Sampling(seed=rep, max_tokens=args.tokens)
                g = runner.generate(
                    first,
                    constraint=constraint if mode == "grammar" else None,
                    sampling=s,
                    shared_prefix=prefix,
                )
                runs[mode].append(g)
        cpu: dict[str, float] = {}
        for mode, gens in runs.items():
            speeds = [tok_s(g) for g in gens]
            toks = sum(g.generated_tokens for g in gens)
            samp = sum(g.sampling_seconds for g in gens) / max(1, toks) * 1e3
            cpu[mode] = samp
            extra = ""
            if mode == "grammar":
                extra = (
                    f", grammar retries {sum(g.grammar_resamples for g in gens)}/{toks} tokens"
                    f" ({sum(g.grammar_full_masks for g in gens)} full-vocabulary masks)"
                )
            print(
                f"  {mode:8} {statistics.median(speeds):7.1f} tok/s median "
                f"(best {max(speeds):.1f}), sampling {samp:.2f} ms/token CPU{extra}"
            )
        free_cpu, grammar_cpu = cpu["free"], cpu["grammar"]
        free = statistics.median(tok_s(g) for g in runs["free"])
        fast = statistics.median(tok_s(g) for g in runs["grammar"])
        pairs = [
            tok_s(b) / tok_s(a)
            for a, b in zip(runs["free"], runs["grammar"], strict=True)
            if tok_s(a)
        ]
        # Robust to a busy machine: the grammar's extra CPU per token against the fastest
        # unconstrained token time seen.
        extra_s = (grammar_cpu - free_cpu) / 1e3
        best_free = 1.0 / max(tok_s(g) for g in runs["free"])
        print(
            f"  grammar / unconstrained: {best_free / (best_free + extra_s):.3f} estimated from "
            f"sampling CPU ({(grammar_cpu - free_cpu):+.3f} ms/token), "
            f"{fast / free:.3f} (median of runs), "
            f"{statistics.median(pairs):.3f} (median of interleaved pairs)"
        )

        # Prefix reuse: the second transcript evaluates only what is not the shared prefix.
        t1, t2 = runner.tokenize(first), runner.tokenize(second)
        common = next(
            (i for i, (a, b) in enumerate(zip(t1, t2, strict=False)) if a != b),
            min(len(t1), len(t2)),
        )
        g1 = runner.generate(
            first, constraint=constraint, sampling=Sampling(max_tokens=4), shared_prefix=prefix
        )
        g2 = runner.generate(
            second, constraint=constraint, sampling=Sampling(max_tokens=4), shared_prefix=prefix
        )
        own = len(t2) - common
        print(
            f"  prefix reuse: shared prefix {common} tokens; second prompt {g2.prompt_tokens} "
            f"tokens, {own} its own, evaluated {g2.prompt_evaluated} "
            f"({g2.prompt_evaluated / own:.3f}x its own) in {g2.prompt_seconds:.2f} s; "
            f"first prompt again evaluated {g1.prompt_evaluated}"
        )
    if not args.no_naive:
        speed = naive(path, first, constraint.gbnf, args.tokens, threads, n_ctx)
        print(
            f"  naive LlamaGrammar path: {speed:.1f} tok/s "
            f"({speed / free:.3f}x unconstrained, fast path {fast / speed:.1f}x faster)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a GGUF file (default: Gemma 3 270M)")
    parser.add_argument("--tiny", action="store_true", help="also the tiny random-weight llama")
    parser.add_argument("--tokens", type=int, default=256, help="tokens generated per run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per path")
    parser.add_argument("--threads", type=int, default=None, help="default: physical cores")
    parser.add_argument("--chars", type=int, default=6000, help="transcript characters used")
    parser.add_argument("--no-naive", action="store_true", help="skip the slow naive path")
    args = parser.parse_args(argv)

    model = args.model
    if model is None:
        from engine.modelstore.default_model import ensure_default_model

        model = ensure_default_model()
    bench_model(model, "model", args)
    if args.tiny:
        from bench.synthetic_gguf import TINY_LLAMA, write_gguf

        with tempfile.TemporaryDirectory() as tmp:
            bench_model(write_gguf(Path(tmp) / "tiny-llama.gguf", TINY_LLAMA), "tiny", args)
    return 0


if __name__ == "__main__":  # the model worker is a spawned process: keep this guard
    sys.exit(main())
