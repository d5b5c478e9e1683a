"""One size formatter for every face of vidsum (CLI, doctor, planner sentences, TUI)."""

from __future__ import annotations

import pytest

from engine.units import GiB, KiB, MiB, format_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (None, "?"),
        (0, "0 B"),
        (512, "512 B"),
        (1536, "1.50 KiB"),
        (300 * MiB, "300 MiB"),
        (4_370_000_000, "4.07 GiB"),
        (25276514304, "23.5 GiB"),
        (9.999 * GiB, "10.0 GiB"),
        (141 * GiB, "141 GiB"),
        (2048 * GiB, "2.00 TiB"),
        (-3 * KiB, "-3.00 KiB"),
    ],
)
def test_format_bytes(n: float | None, text: str) -> None:
    assert format_bytes(n) == text


def test_approximate_sizes_are_marked() -> None:
    assert format_bytes(4_370_000_000, approx=True) == "~4.07 GiB"


def test_the_cli_and_the_tui_write_a_catalog_size_the_same_way() -> None:
    from engine.cli.models import describe
    from engine.modelstore.catalog import get_entry
    from tui import format as fmt

    entry = get_entry("mistral-7b-instruct-v0.2:Q4_K_M")
    assert entry.size is not None
    assert fmt.size(entry.size) == format_bytes(entry.size) == "4.07 GiB"
    assert describe(entry).endswith(f"({format_bytes(entry.size, approx=True)})")
