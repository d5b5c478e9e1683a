"""The one way vidsum writes a size: binary units, named as such (``4.07 GiB``, ``512 MiB``).

Every size a user sees — ``models list``, ``doctor``, the fit planner's sentences, download
messages, the TUI — goes through ``format_bytes``, so the same file never reads ``4.37 GB`` in
one place and ``4.1 GB`` in another.
"""

from __future__ import annotations

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40

_UNITS = (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB))


def format_bytes(n: float | None, *, approx: bool = False) -> str:
    """``n`` bytes in the largest binary unit that keeps it >= 1, to three significant digits
    (``4.07 GiB``, ``23.5 GiB``, ``141 GiB``, ``300 MiB``, ``512 B``); ``?`` when unknown.
    ``approx`` marks a size that is only known roughly (``~4.07 GiB``)."""
    if n is None:
        return "?"
    mark = "~" if approx else ""
    value = float(n)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, scale in _UNITS:
        if value >= scale:
            x = value / scale
            # round first, so 9.999 GiB reads "10.0 GiB", not "10.00 GiB"
            digits = 2 if round(x, 2) < 10 else 1 if round(x, 1) < 100 else 0
            return f"{mark}{sign}{x:.{digits}f} {unit}"
    return f"{mark}{sign}{value:.0f} B"
