"""The evaluation's key terms and baselines (``bench/baselines.py``) on small texts."""

from __future__ import annotations

import pytest

from bench.baselines import (
    baseline_recalls,
    key_terms,
    lead,
    plain_lexrank,
    random_recall,
    recall,
    stretches,
)


def test_key_terms_are_frequent_here_and_rare_in_english() -> None:
    text = (
        "The kernel schedules threads. People said the kernel was fine. The scheduler "
        "preempts threads when the kernel decides. People like people and said so. "
        "Mutexes guard the scheduler. Mutexes are slow."
    )
    keys = key_terms(text, n=4)
    # "people" and "said" are as frequent but common English: not key terms. Stems: the
    # plural "s" dropped, so "thread" said once more would count with "threads".
    assert set(keys) == {"kernel", "thread", "scheduler", "mutexe"}
    assert key_terms("once upon a time") == []  # nothing said twice


def test_recall_counts_key_terms_said() -> None:
    keys = ["kernel", "thread", "mutexe", "scheduler"]  # stems, as key_terms gives them
    assert recall(["The kernel runs threads."], keys) == 0.5
    assert recall(["The Kernel."], keys) == 0.25  # case does not matter
    assert recall(["kernels"], keys) == 0.25  # the same stem
    assert recall(["kernelized"], keys) == 0.0  # not the same stem
    assert recall([], keys) == 0.0


def test_lead_takes_the_first_of_equal_stretches() -> None:
    assert stretches(10, 3) == [range(0, 3), range(3, 7), range(7, 10)]
    assert lead([str(i) for i in range(10)], 3) == [0, 3, 7]
    assert lead(["a", "b"], 5) == [0, 1]  # fewer units than picks: each once


def test_plain_lexrank_picks_the_central_unit_of_each_stretch() -> None:
    units = [
        "The weather was nice.",
        "Hash tables map keys to buckets.",
        "Keys hash to buckets of the table.",
        "Lunch was served at noon.",
    ]
    assert plain_lexrank(units, 2) == [1, 2]


def test_random_recall_is_the_mean_of_draws() -> None:
    units = ["kernel", "threads", "nothing", "nothing else"]
    keys = ["kernel", "thread"]
    # Two of four units: each key term is in a draw with probability 1/2.
    assert random_recall(units, 2, keys) == pytest.approx(0.5, abs=0.06)
    assert random_recall(units, 4, keys) == 1.0
    got = baseline_recalls(units, 2, keys)
    assert (
        got["lead"] == 0.5 and got["lexrank"] >= 0.0 and set(got) == {"lead", "random", "lexrank"}
    )
