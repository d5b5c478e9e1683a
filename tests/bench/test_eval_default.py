"""The "bullets opening alone" column of ``bench/eval_default.py``: the engine's rule, the
independent connective check, and the introduction's mark."""

from __future__ import annotations

from tests.conftest import require_shared


def test_opening_alone_counts_both_checks_and_marks_the_introduction() -> None:
    require_shared()  # eval_default lists the shared inputs when imported
    from bench.eval_default import opening_alone

    bullets = [
        "A hash table keeps values in buckets.",
        "But the table chains colliding keys.",  # both checks: leans
        "It also resizes when it fills up.",  # the engine's rule only: points back
        "Not not at all, lookups stay fast.",  # the engine's rule only: a false start
        "Does consistent hashing move fewer keys?",  # the engine's rule only: a question
    ]
    assert opening_alone("Hashing picks a bucket for each key.", bullets) == "1/5 (4/5) · intro ✓"
    assert opening_alone("So, hashing picks a bucket.", bullets[:1]) == "1/1 (1/1) · intro ✗"
