"""The words of progress: pass and attempt lines shared by the CLI, the log and the TUI."""

from __future__ import annotations

from engine.batch.store import passes_words
from engine.pipeline.checks.quality import Flag, retry_reason
from engine.progress import attempt_line, eta_words, pass_line


def test_pass_line_of_a_multi_pass_job() -> None:
    assert (
        pass_line(7, 21, where="00:32:10–00:41:55", tok_per_s=41.23, eta_s=750)
        == "pass 7 of 21 · 00:32:10–00:41:55 · 41.2 tok/s · ETA 12:30"
    )
    assert pass_line(1, 21, where="00:00:00–00:09:12") == "pass 1 of 21 · 00:00:00–00:09:12"
    assert (
        pass_line(3, 9, where="part 2 of 5", attempt=2, attempts=2, reason="previous answer x")
        == "pass 3 of 9 · part 2 of 5 · attempt 2 of 2 (previous answer x)"
    )


def test_pass_line_of_a_one_pass_job_says_only_retries() -> None:
    assert pass_line(1, 1, where="00:00:00–00:05:00", tok_per_s=40.0) == ""
    assert (
        pass_line(1, 1, attempt=2, attempts=3, reason="previous answer copied an example")
        == "attempt 2 of 3 (previous answer copied an example)"
    )


def test_eta_and_attempt_words() -> None:
    assert eta_words(59.6) == "1:00" and eta_words(3725) == "1h02m"
    assert attempt_line(3, 3) == "attempt 3 of 3"


def test_retry_reason_names_the_worst_flag() -> None:
    flags = [Flag("repeated_bullets", "x"), Flag("copied_example", "y")]
    assert retry_reason(flags) == "previous answer copied an example"
    assert retry_reason([Flag("something_new", "z")]) == (
        "previous answer was flagged (something new)"
    )


def test_result_line_counts_passes_and_attempts() -> None:
    assert passes_words(1, 1) == "1 pass"
    assert passes_words(0, 0) == "no model pass"
    assert passes_words(1, 3) == "1 pass, 3 attempts"
    assert passes_words(21, 23) == "21 passes, 23 attempts"


def test_every_flag_code_has_retry_words() -> None:
    """A retry line names its reason in words, for every flag the quality checks raise."""
    from engine.pipeline.checks.quality import RETRY_WORDS, SEVERITY

    assert set(SEVERITY) <= set(RETRY_WORDS), set(SEVERITY) - set(RETRY_WORDS)
