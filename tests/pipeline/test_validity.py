"""The grammar guarantee: every constrained generation validates, whatever the weights say.

Random-weight models at temperature 1.0 are the adversary here: their next-token distribution
is nearly flat, so without the grammar they would emit noise. 100 generations with different
seeds on a Mistral-shaped (GQA) and a Mixtral-shaped (MoE) model must all parse and validate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.pipeline.checks.validate import parse_summary
from engine.pipeline.prompts.grammar import summary_constraint
from engine.runtime.base import LoadOptions, Sampling
from engine.runtime.llamacpp.runner import LlamaRunner

PROMPT = "<s>[INST] Summarize this talk as JSON: we compared B-trees and LSM trees. [/INST]"
N_CTX = 16384


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a hang-catcher: 50 generations on a loaded machine take long
@pytest.mark.parametrize(("fixture", "count"), [("tiny_llama_path", 50), ("tiny_moe_path", 50)])
def test_constrained_generations_always_validate(
    fixture: str, count: int, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(fixture)
    constraint = summary_constraint()
    failures: list[str] = []
    with LlamaRunner(LoadOptions(model_path=path, n_ctx=N_CTX)) as runner:
        runner.load()
        for seed in range(count):
            gen = runner.generate(
                PROMPT,
                constraint=constraint,
                sampling=Sampling(
                    temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=seed, max_tokens=N_CTX - 64
                ),
            )
            try:
                assert gen.stop_reason != "length", "hit the token limit"
                parse_summary(gen.text)
            except Exception as exc:  # collect all, report together
                failures.append(f"seed {seed}: {exc}: {gen.text[:200]!r}")
    assert not failures, f"{len(failures)}/{count} invalid:\n" + "\n".join(failures[:5])
