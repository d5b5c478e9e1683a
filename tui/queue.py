"""The summarize queue as plain data: items, their states, and how engine events move them.

Kept free of Textual so the state rules (what a cancel does, what an error does) are tested
directly. The screen owns one ``Queue`` and redraws the items it changes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.progress import Progress
from tui import format as fmt

State = Literal["queued", "running", "done", "skipped", "failed", "cancelled"]
FINAL: frozenset[str] = frozenset({"done", "skipped", "failed", "cancelled"})
# What a queued file waits for. The rule: files added while a run is active join it (they run
# when its files are done, on the same choice of model or servers); files added while nothing
# runs wait for s. A retried file (r) starts at once, or joins the run that is active.
Wait = Literal["", "run", "start"]
QUEUED_WORDS: dict[str, str] = {
    "": "queued",  # one of the running batch's own files
    "run": "queued · joins this run",
    "start": "queued · s starts it",
}
RETRYABLE: frozenset[str] = frozenset({"failed", "cancelled"})
TRANSCRIPT_SUFFIXES = (".txt", ".srt", ".vtt", ".json")

STAGE_LABEL = {
    "verify": "checking model",  # first use of a model file: its sha256 is computed once
    "load": "loading model",
    "tokenize": "counting tokens",
    "prompt": "prompt",
    "generate": "writing",
    "store": "saving",
}


@dataclass
class QueueItem:
    key: int
    path: Path
    state: State = "queued"
    stage: str = ""
    done: float = 0
    total: float | None = None
    rate: float | None = None
    unit: str = ""
    eta: float | None = None
    # the engine's pass line: "pass 7 of 21 · 00:32:10–00:41:55 · 41.2 tok/s · ETA 12:30",
    # "attempt 2 of 3 (previous answer copied an example)"; "" for a plain one-pass job
    detail: str = ""
    entry_id: int | None = None
    title: str | None = None
    error: str | None = None
    cancel_requested: bool = False
    # Stored, but failed the quality check (not about its video): the reason.
    quality_failed: str | None = None
    # The inference server it runs on (``extra["endpoint"]``); "" on this machine.
    endpoint: str = ""
    wait: Wait = "start"
    # The engine's estimate before any model work: "~1,400 tokens, ~6 passes, about 0:40 …".
    estimate: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.done / self.total) if self.total else None

    def reset(self) -> None:
        """Back to the queue for another try (r): what the last try said is forgotten."""
        self.state, self.stage, self.detail, self.endpoint = "queued", "", "", ""
        self.done, self.total, self.rate, self.eta = 0, None, None, None
        self.entry_id, self.title, self.error, self.quality_failed = None, None, None, None
        self.cancel_requested = False

    def apply(self, ev: Progress) -> None:
        # Any event may name the server (even "done": a fast file's events can all be
        # superseded by its last one before the screen sees them).
        endpoint = ev.extra.get("endpoint")
        if endpoint:
            self.endpoint = str(endpoint)
        if ev.stage == "estimate":
            if ev.item == self.name:  # the batch's own line names no file
                self.estimate = ev.message
            return
        if ev.stage not in STAGE_LABEL:
            return
        self.state = "running"
        self.stage = ev.stage
        self.done, self.total, self.rate, self.unit = ev.done, ev.total, ev.rate, ev.unit
        self.eta = ev.eta
        self.detail = ev.message if ev.stage in ("prompt", "generate") else ""
        if self.endpoint and self.detail == f"on {self.endpoint}":
            self.detail = ""  # the scheduler's start event: the endpoint is shown anyway

    def status(self) -> str:
        """The state in words, as the queue shows it (the gauge is drawn separately)."""
        if self.state == "queued":
            if self.estimate:
                return f"{QUEUED_WORDS[self.wait]} · {self.estimate}"
            return QUEUED_WORDS[self.wait]
        if self.state == "running":
            if self.cancel_requested:
                return "cancelling…"
            label = STAGE_LABEL.get(self.stage, "starting")
            if self.stage in ("prompt", "verify", "tokenize") and self.fraction is not None:
                label += f" {self.fraction:.0%}"
            elif self.stage == "generate":
                label += f" {self.done:,.0f} tok"
            parts = [label]
            if self.endpoint:
                parts.append(f"on {self.endpoint}")
            if self.detail:  # the job's own pass, speed and ETA
                parts.append(self.detail)
            elif self.estimate and self.stage in ("load", "tokenize"):
                parts.append(self.estimate)  # until the passes give a measured ETA
            else:
                if self.rate:
                    parts.append(fmt.rate(self.rate, self.unit or "tok"))
                if self.stage == "prompt" and self.eta is not None:
                    parts.append(fmt.eta(self.eta))
            return " · ".join(parts)
        if self.state in ("done", "skipped") and self.quality_failed:
            return f"failed the quality check → #{self.entry_id}"
        if self.state == "done":
            return f"done → #{self.entry_id}" + (f" (on {self.endpoint})" if self.endpoint else "")
        if self.state == "skipped":
            return f"already in the library → #{self.entry_id}"
        if self.state == "failed":
            return f"failed: {self.error}"
        return "cancelled"


@dataclass
class Queue:
    items: list[QueueItem] = field(default_factory=list)
    _keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, path: Path) -> QueueItem | None:
        """Queue a file; None when the same file is already waiting or running."""
        path = path.resolve()
        if any(i.path == path and not i.final for i in self.items):
            return None
        item = QueueItem(next(self._keys), path)
        self.items.append(item)
        return item

    def get(self, key: int) -> QueueItem | None:
        return next((i for i in self.items if i.key == key), None)

    def waiting(self) -> list[QueueItem]:
        return [i for i in self.items if i.state == "queued" and not i.cancel_requested]

    def clear_finished(self) -> list[QueueItem]:
        gone = [i for i in self.items if i.final]
        self.items = [i for i in self.items if not i.final]
        return gone


def expand(path: Path) -> list[Path]:
    """A file, or the transcript files directly inside a directory (sorted)."""
    path = path.expanduser()
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TRANSCRIPT_SUFFIXES
        )
    return [path]


@dataclass
class Batch:
    """The items handed to one ``Engine.summarize`` call, in order."""

    items: list[QueueItem]
    cancel_all: bool = False
    servers: tuple[str, ...] = ()  # the server profiles it runs on; () for this machine

    def current(self) -> QueueItem | None:
        return next((i for i in self.items if not i.final), None)

    def target(self, ev: Progress) -> QueueItem | None:
        """Which item an engine event is about: the named one (none when that one is settled
        already, e.g. cancelled while it waited), else the one in progress (on servers several
        run at once, so an event that names no file is about none of them)."""
        if self.servers and ev.item in self.servers:
            return None  # "Checking server s1": about the server, not a file
        named = [i for i in self.items if ev.item and i.name == ev.item]
        if named:
            return next((i for i in named if not i.final), None)
        return None if self.servers else self.current()

    def result_item(self, file: Path) -> QueueItem | None:
        resolved = Path(file).resolve()
        return next((i for i in self.items if i.path == resolved and not i.final), None)

    def finish(self, error: str | None = None) -> list[QueueItem]:
        """The batch ended (or was cancelled / failed): settle every unfinished item.

        Items cancelled by the user end cancelled; after a batch-wide error they fail with it;
        the others go back to the queue for the next batch.
        """
        unsettled = [i for i in self.items if not i.final]
        for item in unsettled:
            if item.cancel_requested or self.cancel_all:
                item.state = "cancelled"
            elif error is not None:
                item.state, item.error = "failed", error
            else:
                item.state = "queued"
            item.stage, item.rate, item.eta, item.detail = "", None, None, ""
            item.endpoint = ""
        return unsettled
