"""One time formatter: a section that starts at 504.6 s reads 00:08:24 in the Markdown export,
the CLI's library list and the TUI (they once showed 00:08:24 and 00:08:25 side by side)."""

from __future__ import annotations

import pytest

from engine.api import Engine
from engine.cli.main import main
from engine.library.export import entry_to_markdown
from engine.timefmt import format_span, format_timestamp, format_timestamp_ms
from tests.factories import make_entry, make_transcript_info
from tui import format as tui_format

TIMES = [(0.0, 504.6), (504.6, 1009.9), (1009.9, 1500.2), (1500.2, 2000.7), (2000.7, 2504.6)]


def test_the_formatter_rounds_down_and_refuses_what_is_not_a_time() -> None:
    assert format_timestamp(504.99) == "00:08:24"
    assert format_timestamp(5047) == "01:24:07"
    assert format_timestamp_ms(504.6) == "00:08:24.600"
    assert format_span(0, 504.6) == "00:00:00–00:08:24"
    assert format_span(None, 3.0) == ""
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            format_timestamp(bad)


def test_export_cli_and_tui_write_the_same_times(
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = Engine()
    try:
        entry_id = engine.library.add(
            make_entry(1, times=TIMES, transcript=make_transcript_info(1, duration=2504.6))
        )
        markdown = entry_to_markdown(engine.library.get(entry_id))
    finally:
        engine.close()
    assert "(00:08:24–00:16:49)" in markdown  # section 2's span
    assert "- Length: 00:41:44" in markdown
    assert main(["library", "list"]) == 0
    listed = capsys.readouterr().out
    assert "00:41:44" in listed
    assert tui_format.hms(504.6) == "00:08:24"
    assert tui_format.time_range(504.6, 1009.9) == "00:08:24–00:16:49"
    assert tui_format.hms(2504.6) == "00:41:44"
    for text in (markdown, listed):
        assert "00:08:25" not in text and "00:41:45" not in text
