"""The pure parts of the punctuation bench (``bench/eval_punct.py``): windows that score every
token once with context, the sentence-end margin, Q8_0 rows, scoring and the tuned threshold."""

from __future__ import annotations

import numpy as np
import pytest

from bench.eval_punct import (
    best_threshold,
    dequantize_q8_0,
    gap_margins,
    predicted,
    score,
    windows,
)


def test_windows_score_every_token_once_with_context() -> None:
    ws = windows(1000, 512, 128)
    scored = [i for start, end, first in ws for i in range(first, end)]
    assert scored == list(range(1000))
    assert all(end - start <= 512 for start, end, _ in ws)
    assert all(first - start == 128 for start, _, first in ws[1:])
    assert windows(10, 512, 128) == [(0, 10, 0)]
    with pytest.raises(ValueError):
        windows(10, 8, 8)


def test_margin_is_the_log_probability_difference_under_the_full_softmax() -> None:
    rng = np.random.default_rng(0)
    vocab = rng.normal(size=(50, 8)).astype(np.float32)
    hidden = rng.normal(size=(4, 8)).astype(np.float32)
    ends, nxt = [3, 7], np.array([1, 2, 5, 9])
    logits = hidden @ vocab.T
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    want = np.log(np.exp(logp[:, ends]).sum(axis=1)) - logp[np.arange(4), nxt]
    got = gap_margins(hidden, vocab[ends], vocab[nxt])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_q8_0_rows_are_scale_times_weights() -> None:
    scale = np.array([0.5, -2.0], dtype=np.float16)
    q = np.arange(-16, 16, dtype=np.int8)
    row = np.concatenate([np.frombuffer(s.tobytes() + q.tobytes(), np.uint8) for s in scale])
    out = dequantize_q8_0(row[None, :])
    assert out.shape == (1, 64)
    np.testing.assert_array_equal(out[0], np.concatenate([0.5 * q, -2.0 * q]))


def test_score_counts_ends_and_unit_sizes() -> None:
    truth = [False] * 5 + [True] + [False] * 9 + [True]
    pred = [False] * 5 + [True] + [False, True] + [False] * 7 + [True]
    s = score(pred, truth)
    assert (s.precision, s.recall, s.ends) == (2 / 3, 1.0, 3)
    assert s.f1 == pytest.approx(0.8)
    assert s.sized == pytest.approx(2 / 3)  # units of 6, 2 and 9 words


def test_the_threshold_chosen_gives_the_best_f1_and_the_last_word_always_ends() -> None:
    truth = [False, True, False, False, True, False, True]
    margins = np.array([0.1, 3.0, -1.0, 0.5, 2.0, 0.2])
    thr = best_threshold(margins, truth)
    best = score(predicted(margins, thr), truth).f1
    assert best == 1.0
    assert all(score(predicted(margins, t), truth).f1 <= best for t in (-2, 0, 0.3, 1, 4))
    assert predicted(margins, 10.0) == [False] * 6 + [True]
