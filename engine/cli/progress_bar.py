"""The CLI's progress display: a tqdm bar on stderr (or one line per stage in a log) driven by
engine ``Progress`` events. Shared by every command that reports progress.

May import: ``engine.progress`` (and tqdm).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from engine.progress import Progress

_STAGE_WORDS = {
    "load": "loading model",
    "prompt": "reading prompt",
    "generate": "writing summary",
    "download": "downloading",
    "verify": "verifying",
}


class ProgressBar:
    """A tqdm bar on stderr driven by engine Progress events (one bar per stage)."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        # Not a terminal (a log file, CI): one line per stage instead of a redrawn bar.
        self.interactive = stream.isatty()
        self._bar: Any = None
        self._key: tuple[str, str | None, str] | None = None

    def __call__(self, ev: Progress) -> None:
        if not self.enabled and ev.stage != "notice":
            return
        from tqdm import tqdm

        if ev.stage == "notice":
            self._close()
            print(ev.message, file=self.stream)
            return
        if ev.stage == "download" and ev.message:
            # A drop, a retry, a resume: a line of its own, in a log as on a terminal.
            self._close()
            print(f"  {ev.item or ''}: {ev.message}", file=self.stream)
            return
        if ev.stage in ("read", "store", "done"):
            if ev.message and ev.stage != "read":
                self._close()
                print(f"  {ev.item or ''}: {ev.message}", file=self.stream)
            return
        # The message of a pass (engine.progress.pass_line: "pass 7 of 21 · 00:32:10–00:41:55 ·
        # 41.2 tok/s · ETA 12:30", "attempt 2 of 3 (previous answer copied an example)") goes
        # in front of the stage words; a new pass or attempt starts a new bar / log line.
        passes = ev.stage in ("prompt", "generate")
        key = (ev.stage, ev.item, ev.message if passes else "")
        desc = _STAGE_WORDS.get(ev.stage, ev.stage)
        if passes and ev.message:
            desc = f"{ev.message} · {desc}"
        elif ev.stage == "load" and ev.message and (not ev.item or ev.item in ev.message):
            # A sentence of its own ("Checking server gpu1", "Checking that llama.cpp can load
            # x.gguf"): no model is loading yet, so "loading model" would be wrong.
            desc = ev.message
        # The item once: not "  : ..." without one, nor twice when the message names it.
        prefix = f"{ev.item}: " if ev.item and ev.item not in desc else ""
        if not self.interactive:
            if key != self._key:
                self._key = key
                print(f"  {prefix}{desc}...", file=self.stream)
            return
        if key != self._key:
            self._close()
            self._key = key
            self._bar = tqdm(
                total=ev.total,
                desc=f"{prefix}{desc}",
                unit=ev.unit or "it",
                unit_scale=ev.unit == "B",
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
                mininterval=0.2,
            )
        bar = self._bar
        if ev.total is not None and bar.total != ev.total:
            bar.total = ev.total
        bar.n = ev.done
        if ev.rate:
            bar.set_postfix_str(f"{ev.rate:.1f} {ev.unit or 'it'}/s", refresh=False)
        bar.refresh()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._key = None

    def close(self) -> None:
        self._close()
