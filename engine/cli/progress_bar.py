"""The CLI's progress display: a bar on stderr (or one line per stage in a log) driven by
engine ``Progress`` events. Shared by every command that reports progress.

The line is composed here, to the terminal's width, and tqdm only draws it (redraw, throttle,
clear): ``rust.txt: pass 2 of 6 · ETA 27:08 · reading prompt  18%|███▋        | 1024/5543``.
The bar keeps its width and there is one ETA (the job's, from the pass line, else the
stage's); when the line is too long, the description is shortened, never the bar.

May import: ``engine.progress`` (and tqdm).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from engine.progress import Progress, eta_words

_STAGE_WORDS = {
    "read": "reading",
    "load": "loading model",
    "tokenize": "counting tokens",
    "prompt": "reading prompt",
    "generate": "writing summary",
    "download": "downloading",
    "verify": "verifying",
}
_BLOCKS = " ▏▎▍▌▋▊▉█"
BIG_READ = 2**20  # files from this size get a "reading" line (a 50 MB one takes seconds)


def bar_width(cols: int) -> int:
    """The bar's width at ``cols`` columns: a fifth of the line, 10 to 30 characters."""
    return max(10, min(30, cols // 5))


def _bar(fraction: float, width: int) -> str:
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_BLOCKS[part] if part else "")).ljust(width)


def _amount(n: float, unit: str) -> str:
    """``1024``, ``48.2M``, ``1.5 GiB``: short enough for a progress line."""
    if unit == "B":
        for binary, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if n >= binary:
                return f"{n / binary:.1f} {suffix}"
        return f"{n:.0f} B"
    for floor, size, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e5, 1e3, "k")):
        if n >= floor:
            return f"{n / size:.1f}{suffix}"
    return f"{n:.0f}"


def _shorten(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…" if width > 0 else ""


def _candidates(
    item: str | None, message: str, words: str, counts: str, tail: str
) -> Iterator[tuple[str, str]]:
    """(description, right part) from the fullest to the shortest. What gives way, in turn:
    the counts, the file name (cut to 24, then 14), the middle pieces of the pass line (time
    range, speed: its first and last, ``pass 2 of 6`` and ``ETA 27:08``, stay longest), a
    stage's own speed and ETA, and last the pass line."""
    pieces = message.split(" · ") if message else []
    msgs = (
        [
            " · ".join([*pieces[:1], *pieces[1:-1][:k], *pieces[-1:]])
            for k in range(max(0, len(pieces) - 2), -1, -1)
        ]
        if len(pieces) > 1
        else pieces[:]
    )
    msgs = [*dict.fromkeys(msgs), ""]
    names = [*dict.fromkeys(_shorten(item, n) + ": " for n in (40, 24, 14))] if item else [""]

    def desc(name: str, msg: str) -> str:
        return f"{name}{msg} · {words}" if msg else f"{name}{words}"

    yield desc(names[0], msgs[0]), counts + tail
    for name in names:
        yield desc(name, msgs[0]), tail
    for msg in msgs[1:]:
        for name in names:
            yield desc(name, msg), tail
    for msg in msgs:
        for name in names:
            yield desc(name, msg), ""


def _words(ev: Progress) -> str:
    """The stage in words; a load event's own sentence ("Checking server gpu1", "Checking
    that llama.cpp can load x.gguf") where it has one: no model is loading yet."""
    if ev.stage == "load" and ev.message and (not ev.item or ev.item in ev.message):
        return ev.message
    return _STAGE_WORDS.get(ev.stage, ev.stage)


def render(ev: Progress, cols: int) -> str:
    """One progress line for ``ev`` in fewer than ``cols`` columns (the last column is left
    free: a terminal that wraps there would scroll)."""
    words = _words(ev)
    message = ev.message if ev.stage in ("prompt", "generate") else ""
    unit = ev.unit or "it"
    extras = []
    if ev.rate and "/s" not in message:
        if ev.unit == "B":
            extras.append(f"{_amount(ev.rate, 'B')}/s")
        else:
            rate = _amount(ev.rate, ev.unit) if ev.rate >= 1e5 else f"{ev.rate:.1f}"
            extras.append(f"{rate} {unit}/s")
    if ev.eta is not None and "ETA" not in message:
        extras.append(f"ETA {eta_words(ev.eta)}")
    tail = "".join(f" · {x}" for x in extras)
    if ev.stage == "read":  # no progress inside a read: its size instead of a bar
        mid, counts = "", f" {_amount(ev.total or 0, 'B')}"
    elif ev.fraction is not None:
        width = bar_width(cols)
        mid = f" {ev.fraction * 100:3.0f}%|{_bar(ev.fraction, width)}|"
        counts = f" {_amount(ev.done, ev.unit)}/{_amount(ev.total or 0, ev.unit)}"
    else:
        named = "" if ev.unit == "B" else f" {unit}"
        mid, counts = "", f" {_amount(ev.done, ev.unit)}{named}" if ev.done else ""
    room = cols - 1 - len(mid)
    desc = ""
    item = ev.item if ev.item and ev.item not in words else None  # the item once
    for desc, right in _candidates(item, message, words, counts, tail):
        if len(desc) + len(right) <= room:
            return desc + mid + right
    return _shorten(desc, max(1, room)) + mid  # a terminal narrower than any sensible line


def _columns() -> int:
    return shutil.get_terminal_size((80, 24)).columns  # honours COLUMNS


class ProgressBar:
    """A bar on stderr driven by engine Progress events (one bar per stage). ``ncols`` fixes
    the width (tests); by default the terminal's, read at every event (a resize follows)."""

    def __init__(
        self, stream: TextIO = sys.stderr, enabled: bool = True, ncols: int | None = None
    ) -> None:
        self.stream = stream
        self.enabled = enabled
        self.ncols = ncols
        # Not a terminal (a log file, CI): one line per stage instead of a redrawn bar.
        self.interactive = stream.isatty()
        self._bar: Any = None
        self._key: tuple[str, str | None, str] | None = None

    def __call__(self, ev: Progress) -> None:
        if ev.stage == "estimate":
            # The batch's estimate (the per-file ones are for the TUI's queue): a big one is
            # said even with --quiet, as it may be asked about next.
            if ev.item is None and (self.enabled or ev.extra.get("big")):
                self._close()
                print(ev.message, file=self.stream)
            return
        if not self.enabled and ev.stage != "notice":
            return
        if ev.stage == "notice":
            self._close()
            print(ev.message, file=self.stream)
            return
        if ev.stage == "download" and ev.message:
            # A drop, a retry, a resume: a line of its own, in a log as on a terminal.
            self._close()
            print(f"  {ev.item or ''}: {ev.message}", file=self.stream)
            return
        if ev.stage == "read" and (ev.total or 0) < BIG_READ:
            return  # small files are read in a blink: no line for them
        if ev.stage in ("store", "done"):
            if ev.message:
                self._close()
                print(f"  {ev.item or ''}: {ev.message}", file=self.stream)
            return
        # The message of a pass (engine.progress.pass_line: "pass 7 of 21 · 00:32:10–00:41:55 ·
        # 41.2 tok/s · ETA 12:30", "attempt 2 of 3 (previous answer copied an example)") goes
        # in front of the stage words; a new pass or attempt starts a new bar / log line.
        passes = ev.stage in ("prompt", "generate")
        key = (ev.stage, ev.item, ev.message if passes else "")
        if not self.interactive:
            if key != self._key:
                self._key = key
                desc = _words(ev)
                if passes and ev.message:
                    desc = f"{ev.message} · {desc}"
                # The item once: not "  : ..." without one, nor twice when the message names it.
                prefix = f"{ev.item}: " if ev.item and ev.item not in desc else ""
                print(f"  {prefix}{desc}...", file=self.stream)
            return
        if key != self._key:
            from tqdm import tqdm

            self._close()
            self._key = key
            # tqdm only draws: the whole line is the description (see render).
            self._bar = tqdm(
                file=self.stream, leave=False, bar_format="{desc}", mininterval=0.2, total=None
            )
        self._bar.set_description_str(render(ev, self.ncols or _columns()), refresh=False)
        self._bar.refresh()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._key = None

    def close(self) -> None:
        self._close()
