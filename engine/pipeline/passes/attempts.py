"""One model pass with retries: generate until the answer parses and passes its checks.

``PassRunner`` owns what every multi-pass job shares: the loaded model, sampling, progress and
cancellation, the retry policy (another seed per attempt), the pass records and the
generation totals that feed the progress line's speed and time left. Imports the runtime's
value types, the quality flags and the progress types; nothing of prompts or transcripts.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from engine.errors import GenerationError
from engine.pipeline.checks.quality import Flag, badness, retry_reason
from engine.pipeline.passes.results import PassKind, PassRecord
from engine.progress import CancelToken, Progress, ProgressCallback, check, emit, pass_line
from engine.runtime.base import Backend, Constraint, Generation, Sampling

log = logging.getLogger(__name__)

T = TypeVar("T")

# Tries of one pass before it fails (every mode: long-form, quotes).
MAX_ATTEMPTS = 3


class _Rejected(Exception):
    """An attempt's answer that cannot be used: why (for the error) and the retry's reason."""

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(error)
        self.error = error
        self.reason = reason


def _parse_answer(
    gen: Generation, max_tokens: int, parse: Callable[[str], T], grammar_server: str = ""
) -> T:
    if gen.stop_reason == "length":
        raise _Rejected(
            f"the answer filled the {max_tokens} tokens left in the context before it was complete",
            "previous answer ran out of room",
        )
    try:
        return parse(gen.text)
    except GenerationError as exc:
        error = str(exc)
        if grammar_server and not _is_json(gen.text):
            # Every vidsum grammar allows JSON only: a finished answer that is not JSON means
            # the server dropped the grammar (after passing the canary).
            error = f"server {grammar_server} ignored the grammar ({error})"
        raise _Rejected(error, "previous answer did not parse") from None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@dataclass
class _Tally:
    """What the attempts of one pass add up to."""

    attempts: int = 0
    seconds: float = 0.0
    evaluated: int = 0
    generated: int = 0

    def add(self, gen: Generation) -> None:
        self.seconds += gen.prompt_seconds + gen.generation_seconds
        self.evaluated += gen.prompt_evaluated
        self.generated += gen.generated_tokens


class PassRunner:
    """Runs the passes of one job on ``runner``'s loaded model and keeps their records."""

    def __init__(
        self,
        runner: Backend,
        sampling: Sampling,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        max_attempts: int,
        source: str,
    ) -> None:
        self.runner = runner
        self.sampling = sampling
        self.progress = progress
        self.cancel = cancel
        self.max_attempts = max_attempts
        self.source = source  # names the input in errors
        self.n_ctx = runner.info.n_ctx
        self.passes: list[PassRecord] = []
        self.generations: list[Generation] = []
        self.pass_no = 0
        self.planned = 1  # passes planned in all (grows when merges turn out to be needed)
        self.width = 1  # passes running side by side (engine.pipeline.passes.lanes), for the ETA
        # Passes of a group may run in several threads (engine.pipeline.passes.lanes): the counters
        # and lists above change under this lock.
        self._lock = threading.Lock()

    def where(self) -> str:
        return self.source

    def _tag(self, message: str, extra: dict[str, float | int | str]) -> ProgressCallback | None:
        """Events of one attempt, with its pass line (``engine.progress.pass_line``) as the
        message and its numbers in ``extra``."""
        if self.progress is None:
            return None
        outer = self.progress

        def forward(ev: Progress) -> None:
            if not ev.message:
                ev = replace(ev, message=message, extra={**ev.extra, **extra})
            outer(ev)

        return forward

    def tok_per_s(self) -> float | None:
        """Generation speed so far (every pass and attempt)."""
        seconds = sum(g.generation_seconds for g in self.generations)
        return sum(g.generated_tokens for g in self.generations) / seconds if seconds > 0 else None

    def eta(self) -> float | None:
        """Seconds left: the mean time of the passes done, times the passes still planned."""
        if not self.passes:
            return None
        mean = sum(p.seconds for p in self.passes) / len(self.passes)
        return mean * max(0, self.planned - len(self.passes)) / max(1, self.width)

    def _attempt_progress(
        self, pass_no: int, label: str, where: str, attempt: int, tries: int, reason: str | None
    ) -> ProgressCallback | None:
        line = pass_line(
            pass_no,
            self.planned,
            where=where,
            attempt=attempt,
            attempts=tries,
            reason=reason,
            tok_per_s=self.tok_per_s(),
            eta_s=self.eta(),
        )
        extra: dict[str, float | int | str] = {
            "pass": pass_no,
            "passes": self.planned,
            "attempt": attempt,
            "attempts": tries,
            "label": label,
        }
        if reason:
            extra["reason"] = reason
        return self._tag(line, extra)

    def _attempt(
        self,
        runner: Backend,
        cancel: CancelToken | None,
        prompt: str,
        n_prompt: int,
        constraint: Constraint,
        attempt: int,
        shared_prefix: str | None,
        progress: ProgressCallback | None,
    ) -> Generation:
        """One generation with the attempt's seed and the room left in the context."""
        s = replace(
            self.sampling, seed=self.sampling.seed + attempt, max_tokens=self.n_ctx - n_prompt
        )
        # The instructions (and examples) are evaluated in their own batches, so a pass gives
        # the same answer whatever the KV cache held before it (see LlamaRunner.generate).
        gen = runner.generate(
            prompt,
            constraint=constraint,
            sampling=s,
            shared_prefix=shared_prefix,
            progress=progress,
            cancel=cancel,
        )
        with self._lock:
            self.generations.append(gen)
        return gen

    def run_pass(
        self,
        kind: PassKind,
        part: int | None,
        label: str,
        prompt: str,
        n_prompt: int,
        constraint: Constraint,
        parse: Callable[[str], T],
        accept: Callable[[T], list[Flag]] | None = None,
        shared_prefix: str | None = None,
        where: str = "",
        *,
        runner: Backend | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[T, list[Flag], PassRecord]:
        """Generate until the answer parses (and, with ``accept``, is unflagged), on ``runner``
        (default: the job's) and stopping on ``cancel`` (default: the job's).

        Returns the kept answer, its flags and the pass's record, which the caller keeps
        (``generate`` appends it; a group of passes keeps its records in the group's order).
        An answer that never parses is a GenerationError; a flagged one is kept only when every
        attempt is flagged. One loop on purpose (a little over 60 lines): the best answer, the
        last error and the next attempt's reason are state that every branch of it reads and
        writes.
        """
        runner = runner or self.runner
        cancel = cancel or self.cancel
        with self._lock:
            self.pass_no += 1
            pass_no = self.pass_no
        # Notes are intermediate: one retry, then the least flagged is kept (and counted in
        # the summary's flags). Only the summary itself gets every attempt.
        tries = self.max_attempts if kind in ("one-pass", "final") else min(2, self.max_attempts)
        best: tuple[int, T, list[Flag]] | None = None
        last_error = ""
        tally = _Tally()
        reason: str | None = None  # what was wrong with the previous attempt's answer
        for attempt in range(tries):
            check(cancel)
            tally.attempts += 1
            progress = self._attempt_progress(pass_no, label, where, tally.attempts, tries, reason)
            emit(progress, Progress("prompt", 0, n_prompt, unit="tok"))
            gen = self._attempt(
                runner, cancel, prompt, n_prompt, constraint, attempt, shared_prefix, progress
            )
            tally.add(gen)
            try:
                value = _parse_answer(gen, self.n_ctx - n_prompt, parse, runner.info.grammar_server)
            except _Rejected as rejected:
                last_error, reason = rejected.error, rejected.reason
                log.info("%s, attempt %d: %s", label, attempt + 1, last_error)
                continue
            log.debug("%s, attempt %d: %s", label, attempt + 1, gen.text)
            flags = accept(value) if accept else []
            if flags:
                log.info(
                    "%s, attempt %d: flagged %s", label, attempt + 1, "; ".join(map(str, flags))
                )
            if best is None or badness(flags) < best[0]:
                best = (badness(flags), value, flags)
            if not flags:
                break
            reason = retry_reason(flags)
        record = PassRecord(
            kind, part, n_prompt, tally.evaluated, tally.generated, tally.seconds, tally.attempts
        )
        if best is None:
            with self._lock:
                self.passes.append(record)  # the failed pass still counts in the records
            raise GenerationError(
                f"{self.where()}: no valid answer for {label} after {tally.attempts} attempts: "
                f"{last_error}"
            )
        return best[1], best[2], record

    def generate(
        self,
        kind: PassKind,
        part: int | None,
        label: str,
        prompt: str,
        n_prompt: int,
        constraint: Constraint,
        parse: Callable[[str], T],
        accept: Callable[[T], list[Flag]] | None = None,
        shared_prefix: str | None = None,
        where: str = "",
    ) -> tuple[T, list[Flag], float]:
        """``run_pass`` on the job's model, its record kept: the answer, its flags and the
        seconds the pass took."""
        value, flags, record = self.run_pass(
            kind, part, label, prompt, n_prompt, constraint, parse, accept, shared_prefix, where
        )
        with self._lock:
            self.passes.append(record)
        return value, flags, record.seconds
