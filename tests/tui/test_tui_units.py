"""The TUI's plain-Python parts: paging, queue rules, formatting, completion, exports."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import get_args

import pytest

from engine.api import Engine, Order
from engine.progress import Progress
from tests.tui.fake_data import segments_for
from tests.tui.fake_engine import FakeEngine
from tui import format as fmt
from tui.export import export_path
from tui.paging import RowPager
from tui.queue import Batch, Queue, expand
from tui.screens.library import ORDER_COLUMN, ORDER_LABELS
from tui.screens.transcript import section_rows, timed_lines, untimed_lines
from tui.widgets.path_input import complete_path


def test_fake_engine_mirrors_the_facade() -> None:
    """UI tests are only worth something if the fake has the real facade's methods."""
    real = {
        n: f for n, f in inspect.getmembers(Engine, inspect.isfunction) if not n.startswith("_")
    }
    fake = {
        n: f for n, f in inspect.getmembers(FakeEngine, inspect.isfunction) if not n.startswith("_")
    }
    missing = set(real) - set(fake)
    assert not missing, f"FakeEngine lacks {missing}"
    for name, func in real.items():
        want = [p.name for p in inspect.signature(func).parameters.values()]
        have = [p.name for p in inspect.signature(fake[name]).parameters.values()]
        assert have == want, f"{name}: {have} != {want}"


def test_every_sort_order_is_one_the_engine_knows() -> None:
    assert set(ORDER_LABELS) <= set(get_args(Order))
    assert set(ORDER_COLUMN) == set(ORDER_LABELS)


def test_pager_fetches_each_page_once_and_drops_stale_answers() -> None:
    pager: RowPager[int] = RowPager(page_size=10, max_pages=2)
    gen = pager.reset(total=35)
    assert pager.get(12) is None
    assert pager.want(12) == 1
    assert pager.want(15) is None  # already pending
    assert pager.store(gen, 1, list(range(10, 20)))
    assert pager.get(12) == 12
    new = pager.reset(total=5)
    assert not pager.store(gen, 0, [0, 1, 2])  # an answer for the old query
    assert pager.get(0) is None and pager.want(0) == 0
    assert pager.store(new, 0, [0, 1, 2, 3, 4])
    assert pager.want(7) is None  # out of range


def test_pager_keeps_a_bounded_number_of_pages() -> None:
    pager: RowPager[int] = RowPager(page_size=10, max_pages=2)
    gen = pager.reset(total=100)
    for page in (0, 1, 2):
        pager.store(gen, page, list(range(page * 10, page * 10 + 10)))
    assert pager.loaded_pages == [1, 2]
    assert pager.want(3) == 0  # page 0 was evicted: wanted again


def test_queue_refuses_duplicates_while_waiting(tmp_path: Path) -> None:
    q = Queue()
    assert q.add(tmp_path / "a.srt") is not None
    assert q.add(tmp_path / "a.srt") is None
    q.items[0].state = "done"
    assert q.add(tmp_path / "a.srt") is not None  # again once the first is finished


def test_batch_routes_events_and_settles_items(tmp_path: Path) -> None:
    q = Queue()
    a, b, c = (q.add(tmp_path / n) for n in ("a.srt", "b.srt", "c.srt"))
    assert a and b and c
    batch = Batch([a, b, c])
    assert batch.target(Progress("prompt", 10, 100, item="b.srt")) is b
    assert batch.target(Progress("load", 0, 1)) is a  # unnamed: the one in progress
    a.apply(Progress("prompt", 50, 100, rate=800, unit="tok"))
    assert a.state == "running" and "50%" in a.status() and "800 tok/s" in a.status()
    a.state = "done"
    b.cancel_requested = True
    settled = batch.finish()
    assert settled == [b, c]
    assert b.state == "cancelled" and c.state == "queued"


def test_queue_row_shows_the_pass_and_the_retry(tmp_path: Path) -> None:
    """The engine's pass line (engine.progress.pass_line) is what the queue row says."""
    from engine.progress import pass_line

    q = Queue()
    a = q.add(tmp_path / "lecture.srt")
    assert a
    line = pass_line(7, 21, where="00:32:10–00:41:55", tok_per_s=41.2, eta_s=750)
    a.apply(Progress("prompt", 50, 100, rate=800, unit="tok", message=line))
    assert a.status() == "prompt 50% · pass 7 of 21 · 00:32:10–00:41:55 · 41.2 tok/s · ETA 12:30"
    retry = pass_line(1, 1, attempt=2, attempts=3, reason="previous answer copied an example")
    a.apply(Progress("generate", 120, None, rate=40, unit="tok", message=retry))
    assert a.status() == ("writing 120 tok · attempt 2 of 3 (previous answer copied an example)")
    a.apply(Progress("generate", 130, None, rate=40, unit="tok"))  # a plain one-pass job
    assert a.status() == "writing 130 tok · 40.0 tok/s"
    Batch([a]).finish()
    assert a.detail == ""


def test_batch_error_fails_every_unfinished_item(tmp_path: Path) -> None:
    q = Queue()
    a = q.add(tmp_path / "a.srt")
    assert a
    Batch([a]).finish("No model is installed.")
    assert a.state == "failed" and a.status() == "failed: No model is installed."


def test_expand_lists_transcripts_in_a_folder(tmp_path: Path) -> None:
    for name in ("b.vtt", "a.srt", "notes.pdf", "c.info.json"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in expand(tmp_path)] == ["a.srt", "b.vtt", "c.info.json"]


def test_path_completion(tmp_path: Path) -> None:
    (tmp_path / "talks").mkdir()
    (tmp_path / "talks" / "rust-ownership.srt").write_text("x")
    (tmp_path / "talks" / "slides.pdf").write_text("x")
    assert complete_path("ta", tmp_path) == "talks/"
    assert complete_path("talks/r", tmp_path) == "talks/rust-ownership.srt"
    assert complete_path("talks/s", tmp_path) is None  # not a transcript
    assert complete_path(str(tmp_path / "talks" / "ru"), tmp_path) == str(
        tmp_path / "talks" / "rust-ownership.srt"
    )
    assert complete_path("nowhere/x", tmp_path) is None


def test_formatting() -> None:
    assert fmt.hms(505) == "00:08:25"
    assert fmt.time_range(505, 2024) == "00:08:25–00:33:44"
    assert fmt.time_range(None, None) == ""
    assert fmt.duration(5520) == "1h 32m" and fmt.duration(50) == "50s"
    assert fmt.size(4.07 * 1024**3) == "4.07 GiB"
    assert fmt.size(4.07 * 1024**3, approx=True) == "~4.07 GiB"
    assert fmt.rate(12.5 * 1024**2, "B") == "12.5 MiB/s"
    assert fmt.eta(83) == "ETA 1:23"
    assert fmt.short_field("Artificial Intelligence (AI) and Machine Learning") == "AI/ML"
    # Any three labels fit the library's 20-character topics cell.
    longest = sorted((len(v) for v in fmt.SHORT_FIELD.values()), reverse=True)[:3]
    assert sum(longest) + 2 * len(", ") <= 20


def test_export_path(tmp_path: Path) -> None:
    path = export_path(tmp_path, 7, "B-Trees: Why Every Index?", "md")
    assert path == tmp_path / "b-trees-why-every-index-7.md"


@pytest.mark.parametrize(
    ("index", "start", "end", "rows"), [(0, 0, 100, (0, 0)), (1, 100, 200, (1, 1))]
)
def test_section_rows_with_timings(
    index: int, start: float, end: float, rows: tuple[int, int]
) -> None:
    view = timed_lines(segments_for("One. Two. Three. Four. Five.", 500))
    assert section_rows(view, index, start, end, 5) == rows


def test_section_rows_without_timings_are_proportional() -> None:
    view = untimed_lines("word " * 400, "approximate")
    first, last = section_rows(view, 2, None, None, 5)
    n = len(view.lines)
    assert first == n * 2 // 5 and last == n * 3 // 5 - 1
