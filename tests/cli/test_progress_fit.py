"""The CLI's progress line fits the terminal: one ETA, a bar that keeps its width, nothing cut
(issue 20, finding 5). Rendered at fixed widths through the real ProgressBar and tqdm."""

from __future__ import annotations

import io
import re

import pytest

from engine.cli.progress_bar import ProgressBar, bar_width, render
from engine.progress import Progress, pass_line

# The line of the field report: pass 2 of 6, the job's ETA, the prompt stage at 18 %.
PASS = pass_line(2, 6, tok_per_s=0.9, eta_s=27 * 60 + 8)  # pass 2 of 6 · 0.9 tok/s · ETA 27:08
PROMPT = Progress(
    "prompt", 1024, 5543, rate=40.1, unit="tok", message=PASS, item="a-long-talk-name.txt"
)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _lines(events: list[Progress], cols: int) -> list[str]:
    """What the bar drew: each redraw is a carriage return and the line (tqdm pads with
    spaces to wipe a longer previous line; the padding is not text)."""
    out = _Terminal()
    bar = ProgressBar(out, ncols=cols)
    for ev in events:
        bar(ev)
    bar.close()
    drawn = [part.rstrip(" ") for part in re.split(r"[\r\n]", out.getvalue())]
    return [line for line in drawn if line.strip() and "\x1b" not in line]


def _bar_of(line: str) -> str:
    m = re.search(r"\|([^|]*)\|", line)
    assert m, line
    return m.group(1)


@pytest.mark.parametrize("cols", [80, 120])
def test_the_field_report_line_fits_with_one_eta_and_a_real_bar(cols: int) -> None:
    lines = _lines([PROMPT], cols)
    assert lines
    for line in lines:
        assert len(line) < cols, line
        assert line.count("ETA") == 1, line  # the job's; tqdm's own is gone
        assert "27:08" in line
        assert len(_bar_of(line)) == bar_width(cols) >= 10, line
        assert "reading prompt" in line and " 18%" in line


def test_at_120_columns_nothing_of_the_report_line_is_shortened() -> None:
    line = render(PROMPT, 120)
    assert PASS in line and "a-long-talk-name.txt: " in line and "1024/5543" in line


def test_at_80_columns_the_description_gives_way_not_the_bar() -> None:
    line = render(PROMPT, 80)
    assert len(line) < 80
    assert "1024/5543" not in line  # the counts go first (the bar and percentage say it)
    assert "pass 2 of 6 · ETA 27:08 · reading prompt" in line  # the speed went next
    assert "…" in line  # and the file name was cut
    assert len(_bar_of(line)) == bar_width(80)


def test_a_time_range_and_speed_give_way_before_the_eta() -> None:
    msg = pass_line(7, 21, where="00:32:10–00:41:55", tok_per_s=41.2, eta_s=750)
    ev = Progress("prompt", 10, 100, rate=5.0, unit="tok", message=msg, item="talk.vtt")
    assert msg in render(ev, 120)
    line = render(ev, 80)
    assert "pass 7 of 21" in line and "ETA 12:30" in line and len(line) < 80


def test_a_stage_without_a_pass_line_shows_its_own_single_eta() -> None:
    ev = Progress("prompt", 500, 2000, rate=100.0, unit="tok", item="rust.txt")
    line = render(ev, 80)
    assert line.count("ETA") == 1 and "ETA 0:15" in line and "100.0 tok/s" in line


def test_generation_has_no_total_and_no_bar() -> None:
    ev = Progress("generate", 321, None, rate=12.5, unit="tok", message=PASS, item="rust.txt")
    line = render(ev, 80)
    assert len(line) < 80 and "|" not in line and "321 tok" in line
    assert line.count("ETA") == 1


@pytest.mark.parametrize("cols", [40, 60, 80, 120, 200])
def test_no_width_cuts_the_line(cols: int) -> None:
    long_item = "a very long transcript file name that goes on and on.youtube.en.vtt"
    for ev in (
        Progress("prompt", 3, 7, rate=2.0, unit="tok", message=PASS, item=long_item),
        Progress("tokenize", 5_000_000, 50_000_000, rate=9e5, unit="chars", item=long_item),
        Progress("download", 2**30, 4 * 2**30, rate=2**24, unit="B", item=long_item),
        Progress("read", 0, 50_000_000, unit="B", item=long_item),
        Progress("load", 0.5, 1.0, item="gemma-3-270m-q4_k_m.gguf"),
    ):
        line = render(ev, cols)
        assert len(line) < cols, (cols, line)
        assert line.count("ETA") <= 1


def test_a_big_file_being_read_gets_a_line_and_a_small_one_none() -> None:
    big = _lines([Progress("read", 0, 50_000_000, unit="B", item="big.txt")], 80)
    assert big == ["big.txt: reading 47.7 MiB"]
    assert _lines([Progress("read", 0, 4000, unit="B", item="rust.txt")], 80) == []
