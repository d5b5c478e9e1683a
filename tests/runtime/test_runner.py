"""LlamaRunner against real llama.cpp: model info, grammar, determinism, prefix reuse, cancel."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import Cancelled, ConfigError, ModelError
from engine.hardware import physical_cores
from engine.progress import CancelToken, Progress
from engine.runtime.base import Constraint, Generation, LoadOptions, Sampling
from engine.runtime.llamacpp.runner import DecodeOptions, LlamaRunner

# A small JSON-ish grammar and a regex that accepts exactly its language.
PERSON_GBNF = r"""root ::= "{\"name\":\"" name "\",\"age\":" age ",\"tags\":[" tags "]}"
tags ::= tag ("," tag){0,2}
name ::= [A-Za-z] [a-z ]{0,14} [a-z]
age ::= [1-9] [0-9]?
tag ::= "\"" [a-z]{1,8} "\""
"""
PERSON_RE = re.compile(
    r'\{"name":"[A-Za-z][a-z ]{0,14}[a-z]","age":[1-9][0-9]?,'
    r'"tags":\["[a-z]{1,8}"(,"[a-z]{1,8}"){0,2}\]\}'
)
PERSON = Constraint("person", PERSON_GBNF)
GEMMA_INSTR = "<bos>You write one JSON record per request.\n\n"
GEMMA_PERSON = GEMMA_INSTR + "Here is a JSON record describing one person, with three tags:\n"
TINY_PERSON = "<s>[INST] Describe a person as JSON. [/INST]"


def gbnf_only(text: str) -> Constraint:
    return Constraint("test", text)


FILLER = (
    "The compiler lowers the syntax tree into an intermediate form, then runs passes for "
    "constant folding, inlining and dead code elimination before emitting machine code. "
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has freed its memory, so it counts as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def gemma(gemma_path: Path) -> Iterator[LlamaRunner]:
    # One thread: llama.cpp's threads spin at barriers, which collapses on a shared, busy CI
    # machine (measured 5x slower with two threads there).
    with LlamaRunner(LoadOptions(gemma_path, n_ctx=4096, n_threads=1)) as runner:
        runner.load()
        yield runner


@pytest.fixture(scope="module")
def tiny(tiny_llama_path: Path) -> Iterator[LlamaRunner]:
    # One thread: a tiny model gains nothing from two, and a busy machine hurts thread sync.
    with LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=2048, n_threads=1)) as runner:
        runner.load()
        yield runner


# --- load / info ------------------------------------------------------------------------------


def test_gemma_model_info(gemma: LlamaRunner, gemma_path: Path) -> None:
    info = gemma.info
    assert info.path == gemma_path
    assert info.architecture == "gemma3"
    assert info.n_ctx == 4096  # what was asked, not the model default
    assert info.n_ctx_train == 32768
    assert info.n_vocab == 262144
    assert info.n_layer == 18 and info.n_embd == 640
    assert info.bos_text == "<bos>" and info.eos_text == "<eos>"
    assert info.bos == 2 and info.eos == 1
    assert info.expert_count == 0
    assert "Q4_K" in info.description
    assert info.n_gpu_layers == 0  # default: CPU, whatever the build
    assert info.n_threads == 1


def test_tiny_models_info(tiny: LlamaRunner, tiny_moe_path: Path) -> None:
    assert tiny.info.architecture == "llama"
    assert tiny.info.expert_count == 0
    assert tiny.info.chat_template and "[INST]" in tiny.info.chat_template
    with LlamaRunner(LoadOptions(tiny_moe_path, n_ctx=512, n_threads=1)) as moe:
        info = moe.load()
        assert info.expert_count == 4
        assert info.n_threads == 1


def test_load_is_idempotent_and_reports_progress(tiny_llama_path: Path) -> None:
    events: list[Progress] = []
    with LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=512)) as runner:
        first = runner.load(progress=events.append)
        # The default: the physical cores free now (engine.hardware.busy), at least one.
        assert 1 <= first.n_threads <= physical_cores()
        pid = runner.pid
        assert runner.load() is first and runner.pid == pid
    assert events and all(e.stage == "load" for e in events)
    assert events[-1].fraction == 1.0


def test_tokenize_and_count(tiny: LlamaRunner, gemma: LlamaRunner) -> None:
    assert gemma.tokenize("<bos>Hello world") == [2, 9259, 1902]
    assert gemma.tokenize("<bos>Hi", special=False)[0] != 2  # "<bos>" as plain text
    assert gemma.tokenize("Hi", add_bos=True)[0] == 2
    texts = ["", "one", FILLER, "<s>[INST] x [/INST]"]
    assert tiny.count_tokens(texts) == [len(tiny.tokenize(t)) for t in texts]
    assert tiny.tokenize("<s>x")[0] == tiny.info.bos


# --- generation -------------------------------------------------------------------------------


def check_person(gen: Generation) -> None:
    assert PERSON_RE.fullmatch(gen.text), gen.text
    data = json.loads(gen.text)
    assert set(data) == {"name", "age", "tags"}
    assert gen.stop_reason == "stop"


def test_grammar_holds_across_seeds_gemma(gemma: LlamaRunner) -> None:
    for seed in range(6):
        gen = gemma.generate(
            GEMMA_PERSON, constraint=PERSON, sampling=Sampling(temperature=1.0, seed=seed)
        )
        check_person(gen)
        assert gen.generated_tokens > 5


def test_grammar_holds_across_seeds_tiny(tiny: LlamaRunner) -> None:
    # Random weights: the grammar alone makes the output valid.
    texts = set()
    for seed in range(20):
        gen = tiny.generate(
            TINY_PERSON, constraint=PERSON, sampling=Sampling(temperature=1.0, seed=seed)
        )
        check_person(gen)
        texts.add(gen.text)
    assert len(texts) > 10  # seeds matter


def test_output_is_the_text_the_grammar_checked(tiny: LlamaRunner) -> None:
    """Random weights pick byte tokens and control tokens freely. The grammar decodes bytes
    leniently (an overlong form counts as one character) and sees control tokens as their text;
    the output must be that same text: valid UTF-8 (no U+FFFD) and within the grammar's bounds.
    """
    gbnf = r"""root ::= "\"" c (c | " "){0,118} c "\""
c ::= [^"\\\x00-\x20\x7f-\xa0]
"""
    string = re.compile(
        r'"[^"\\\x00-\x20\x7f-\xa0][^"\\\x00-\x1f\x7f-\xa0]{0,118}[^"\\\x00-\x20\x7f-\xa0]"'
    )
    for seed in range(25):
        gen = tiny.generate(
            TINY_PERSON,
            constraint=gbnf_only(gbnf),
            sampling=Sampling(temperature=1.5, top_k=0, seed=seed),
        )
        assert "\ufffd" not in gen.text, gen.text
        assert string.fullmatch(gen.text), gen.text


def test_control_tokens_keep_their_text(tiny: LlamaRunner) -> None:
    # "[INST]" is one control token in this vocabulary, and the grammar accepts it as the text
    # "[INST]"; dropping it from the output (llama.cpp's default rendering) loses that text.
    texts = {
        tiny.generate(
            TINY_PERSON, constraint=gbnf_only('root ::= "[INST]" [a-z]'), sampling=Sampling(seed=s)
        ).text
        for s in range(12)
    }
    assert all(re.fullmatch(r"\[INST\][a-z]", t) for t in texts), texts


def test_greedy_with_grammar(tiny: LlamaRunner) -> None:
    gen = tiny.generate(TINY_PERSON, constraint=PERSON, sampling=Sampling(temperature=0.0))
    check_person(gen)


@pytest.mark.parametrize("model", ["tiny", "gemma"])
def test_fast_forward_feeds_forced_text(model: str, request: pytest.FixtureRequest) -> None:
    """Text the grammar fixes (``{"name":"``, ``","age":``, ``,"tags":[``) is fed in without
    sampling, and the output is still exactly the grammar's language."""
    runner: LlamaRunner = request.getfixturevalue(model)
    prompt = TINY_PERSON if model == "tiny" else GEMMA_PERSON
    for seed in range(3):
        s = Sampling(temperature=1.0, seed=seed, max_tokens=200)
        on = runner.generate(prompt, constraint=PERSON, sampling=s)
        off = runner.generate(
            prompt, constraint=PERSON, sampling=s, decoding=DecodeOptions(fast_forward=False)
        )
        check_person(on)
        check_person(off)
        assert off.forced_tokens == 0
        # At least the opening '{"name":"' less its held-back last token, and never all.
        assert 0 < on.forced_tokens < on.generated_tokens, on
        # The same run again gives the same text: fast-forward is deterministic.
        assert runner.generate(prompt, constraint=PERSON, sampling=s).text == on.text


def test_fast_forward_needs_a_grammar(tiny: LlamaRunner) -> None:
    gen = tiny.generate(TINY_PERSON, constraint=None, sampling=Sampling(max_tokens=20))
    assert gen.forced_tokens == 0
    # A grammar that is all forced: all but the held-back last token is fed in (the model may
    # write the rest in more than one token).
    gen = tiny.generate(
        TINY_PERSON,
        constraint=gbnf_only('root ::= "{\\"ok\\":true}"'),
        sampling=Sampling(max_tokens=50),
    )
    assert gen.text == '{"ok":true}' and gen.stop_reason == "stop"
    assert gen.forced_tokens >= 1 and gen.generated_tokens - gen.forced_tokens <= 3, gen


def test_drafts_are_checked_against_the_grammar(gemma: LlamaRunner) -> None:
    """Prompt-lookup drafts: a model copying its example gets several tokens per decode, and
    every output is still exactly the grammar's language."""
    prompt = (
        GEMMA_INSTR + 'Example: {"name":"Ada Lovelace","age":36,"tags":["math","poet"]}\n'
        "Another record in the same form:\n"
    )
    gens = [
        gemma.generate(
            prompt,
            constraint=PERSON,
            sampling=Sampling(temperature=1.0, seed=k, max_tokens=120),
        )
        for k in range(4)
    ]
    for g in gens:
        check_person(g)
        assert 0 <= g.draft_accepted <= g.draft_tokens
    assert sum(g.draft_accepted for g in gens) > 0
    assert any(g.draft_accepted < g.draft_tokens for g in gens)  # some drafts were wrong


def test_drafts_change_nothing_but_the_steps(tiny_llama_path: Path) -> None:
    """The same text with and without drafts, and so is the next call that reuses the KV
    cache: rejected draft tokens leave the cache (the tiny model loops, so drafts hold)."""
    prompt = "<s>" + FILLER * 3
    runs: dict[bool, list[tuple[str, str, int]]] = {}
    for draft in (False, True):
        runs[draft] = []
        with LlamaRunner(
            LoadOptions(tiny_llama_path, n_ctx=2048, n_threads=1), DecodeOptions(draft=draft)
        ) as r:
            for temperature in (0.0, 1.0):
                s = Sampling(temperature=temperature, max_tokens=300)
                g = r.generate(prompt, constraint=None, sampling=s)
                then = r.generate(prompt + g.text + " and", constraint=None, sampling=s)
                assert then.prompt_evaluated < len(r.tokenize(prompt + g.text))  # reused
                runs[draft].append((g.text, then.text, g.draft_accepted))
    assert [(a, b) for a, b, _ in runs[True]] == [(a, b) for a, b, _ in runs[False]]
    assert runs[True][0][2] > 50 and runs[False][0][2] == 0


def test_draft_off_decodes_token_by_token(tiny: LlamaRunner) -> None:
    gen = tiny.generate(
        TINY_PERSON,
        constraint=PERSON,
        sampling=Sampling(max_tokens=200),
        decoding=DecodeOptions(draft=False),
    )
    check_person(gen)
    assert gen.draft_tokens == gen.draft_accepted == 0


def test_same_seed_same_output(gemma_path: Path) -> None:
    """Same seed, same text; another seed, another text; a fresh runner, the same text.
    (Its own runner: a shared one may hold a prompt prefix evaluated in other batches, and
    llama.cpp's kernels are not batch-invariant; the pipeline passes shared_prefix for that.)"""
    sampling = Sampling(temperature=1.0, seed=1234, max_tokens=40)
    with LlamaRunner(LoadOptions(gemma_path, n_ctx=4096, n_threads=1)) as runner:
        a = runner.generate(GEMMA_PERSON, constraint=None, sampling=sampling)
        b = runner.generate(GEMMA_PERSON, constraint=None, sampling=sampling)
        c = runner.generate(
            GEMMA_PERSON,
            constraint=None,
            sampling=Sampling(temperature=1.0, seed=99, max_tokens=40),
        )
    assert a.text == b.text
    assert a.text != c.text
    with LlamaRunner(LoadOptions(gemma_path, n_ctx=4096, n_threads=1)) as fresh:
        assert fresh.generate(GEMMA_PERSON, constraint=None, sampling=sampling).text == a.text


def test_stop_reasons(tiny: LlamaRunner) -> None:
    gen = tiny.generate(TINY_PERSON, constraint=None, sampling=Sampling(max_tokens=7))
    assert (gen.stop_reason, gen.generated_tokens) == ("length", 7)
    # The grammar cut short by max_tokens is "length" too (the caller must not parse it).
    gen = tiny.generate(TINY_PERSON, constraint=PERSON, sampling=Sampling(max_tokens=3))
    assert (gen.stop_reason, gen.generated_tokens) == ("length", 3)
    # A grammar with exactly one sentence ends on its own, on "grammar complete".
    gen = tiny.generate(
        TINY_PERSON, constraint=gbnf_only('root ::= "ok"'), sampling=Sampling(temperature=1.0)
    )
    assert (gen.text, gen.stop_reason) == ("ok", "stop")


def test_progress_events(tiny: LlamaRunner) -> None:
    events: list[Progress] = []
    prompt = "<s>" + FILLER * 20
    gen = tiny.generate(
        prompt, constraint=None, sampling=Sampling(max_tokens=50), progress=events.append
    )
    stages = [e.stage for e in events]
    assert "prompt" in stages and "generate" in stages
    assert stages.index("generate") > max(i for i, s in enumerate(stages) if s == "prompt")
    last_prompt = [e for e in events if e.stage == "prompt"][-1]
    assert last_prompt.done == last_prompt.total == gen.prompt_evaluated
    last = events[-1]
    assert last.stage == "generate" and last.done == gen.generated_tokens and last.unit == "tok"
    # Throttled: a burst of 50 fast tokens is a handful of events, not one per token.
    assert sum(s == "generate" for s in stages) < 25


def test_bad_grammar_and_long_prompt(tiny: LlamaRunner) -> None:
    with pytest.raises(ConfigError, match="grammar"):
        tiny.generate(TINY_PERSON, constraint=gbnf_only("root ::= ("), sampling=Sampling())
    with pytest.raises(ModelError, match="2048-token context"):
        tiny.generate("<s>" + FILLER * 200, constraint=None, sampling=Sampling())
    # Still usable afterwards.
    assert tiny.generate(TINY_PERSON, constraint=gbnf_only('root ::= "ok"')).text == "ok"


# --- prefix reuse -----------------------------------------------------------------------------


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def test_prefix_reuse_evaluates_only_new_tokens(gemma: LlamaRunner, gemma_path: Path) -> None:
    shared = "<bos>Instructions: summarize the transcript.\n\n" + FILLER * 20
    first = shared + "Transcript: the borrow checker rejects aliasing mutable references.\n"
    second = shared + "Transcript: a garbage collector traces reachable objects from roots.\n"
    sampling = Sampling(temperature=1.0, seed=3, max_tokens=12)
    g1 = gemma.generate(first, constraint=None, sampling=sampling, shared_prefix=shared)
    g2 = gemma.generate(second, constraint=None, sampling=sampling, shared_prefix=shared)
    t1, t2 = gemma.tokenize(first), gemma.tokenize(second)
    new_tokens = len(t2) - common_prefix(t1, t2)
    assert g2.prompt_tokens == len(t2) > 500
    assert g2.prompt_evaluated <= 1.05 * new_tokens + 3, (g2.prompt_evaluated, new_tokens)
    # The same prompt again (a retry): only the last token is evaluated, for its logits.
    g3 = gemma.generate(second, constraint=None, sampling=sampling, shared_prefix=shared)
    assert g3.prompt_evaluated == 1
    assert g3.text == g2.text
    # Without a hint the longest common prefix is reused all the same.
    g4 = gemma.generate(first, constraint=None, sampling=sampling)
    assert g4.prompt_evaluated <= 1.05 * new_tokens + 1
    assert g1.prompt_evaluated <= g1.prompt_tokens
    # Reused or not, the result is the one a fresh runner gives.
    with LlamaRunner(LoadOptions(gemma_path, n_ctx=4096, n_threads=1)) as fresh:
        assert (
            fresh.generate(second, constraint=None, sampling=sampling, shared_prefix=shared).text
            == g2.text
        )


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_during_long_prompt(gemma: LlamaRunner, gemma_path: Path) -> None:
    long_prompt = GEMMA_INSTR + FILLER * 110  # ~3000 tokens: seconds of prompt processing
    n_tokens = len(gemma.tokenize(long_prompt))
    assert n_tokens > 2500
    cancel = CancelToken()
    seen: list[Progress] = []
    cancelled_at: list[float] = []

    def on_progress(p: Progress) -> None:
        seen.append(p)
        if p.stage == "prompt" and not cancelled_at:
            # Cancel shortly after prompt processing starts, from another thread, as a UI would.
            def later() -> None:
                time.sleep(0.3)
                cancelled_at.append(time.monotonic())
                cancel.cancel()

            threading.Thread(target=later, daemon=True).start()

    # Put the shared instructions in the KV cache first, so the check below does not depend on
    # how far the cancelled prompt got on a loaded machine.
    gemma.generate(
        GEMMA_PERSON,
        constraint=PERSON,
        sampling=Sampling(max_tokens=1),
        shared_prefix=GEMMA_INSTR,
    )
    with pytest.raises(Cancelled):
        gemma.generate(
            long_prompt,
            constraint=None,
            shared_prefix=GEMMA_INSTR,
            progress=on_progress,
            cancel=cancel,
        )
    latency = time.monotonic() - cancelled_at[0]
    assert latency < 5.0, f"cancel took {latency:.2f} s"
    prompt_done = max(p.done for p in seen if p.stage == "prompt")
    assert prompt_done < n_tokens, "the whole prompt was evaluated before the cancel took effect"
    assert not any(p.stage == "generate" for p in seen)

    # Usable afterwards, with the same output as a fresh runner.
    sampling = Sampling(temperature=1.0, seed=7)
    after = gemma.generate(
        GEMMA_PERSON, constraint=PERSON, sampling=sampling, shared_prefix=GEMMA_INSTR
    )
    assert after.prompt_evaluated < after.prompt_tokens  # the instructions came from the cache
    with LlamaRunner(LoadOptions(gemma_path, n_ctx=4096, n_threads=1)) as fresh:
        again = fresh.generate(
            GEMMA_PERSON, constraint=PERSON, sampling=sampling, shared_prefix=GEMMA_INSTR
        )
    assert again.text == after.text
    check_person(after)


def test_cancel_before_start(tiny: LlamaRunner) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        tiny.generate(TINY_PERSON, constraint=None, cancel=cancel)
    assert tiny.generate(TINY_PERSON, constraint=gbnf_only('root ::= "ok"')).text == "ok"


# --- close ------------------------------------------------------------------------------------


def test_close_ends_the_worker(tiny_llama_path: Path) -> None:
    runner = LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=512))
    runner.load()
    pid = runner.pid
    assert pid is not None and alive(pid)
    runner.close()
    assert not alive(pid)
    assert runner.pid is None
    runner.close()  # idempotent
    with pytest.raises(ModelError):
        runner.info  # noqa: B018
    # A closed runner loads again on demand.
    assert runner.generate(TINY_PERSON, constraint=gbnf_only('root ::= "ok"')).text == "ok"
    runner.close()


def test_context_manager_and_del(tiny_llama_path: Path) -> None:
    with LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=512)) as runner:
        runner.load()
        pid = runner.pid
    assert pid is not None and not alive(pid)
    runner = LlamaRunner(LoadOptions(tiny_llama_path, n_ctx=512))
    runner.load()
    pid = runner.pid
    del runner  # dropped without close(): the worker must not linger
    import gc

    gc.collect()
    deadline = time.monotonic() + 5
    while pid is not None and alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid is not None and not alive(pid)
