"""The default thread count on a busy machine (issue 20): the same summary with 1 and 2 threads
and the default, on the machine as it is ("idle") and with a CPU hog beside it.

    python bench/contention.py [--transcript PATH] [--threads 1 2] [--passive 2] [--reps 1]

Each run is one ``summarize`` of the same seed transcript (bundled Gemma 3 270M, seed 0,
temperature 0, one attempt, ``--force``) into a fresh library, in this process as the CLI runs
it. The hog is one ``while True: pass`` process per CPU, started and stopped by this script.
Runs are interleaved (each repetition runs every thread setting once, in turn), so a change of
the machine's load hits every setting alike. The table gives seconds and the ratio to the best
setting of the same situation, with the 1-minute load average before each situation; the
thread count the default chose is what the runner resolved at load time.

Timings on a shared machine are noisy: compare the numbers of one run with each other.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED_RUN = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "seed-run"
DEFAULT_TRANSCRIPT = SEED_RUN / "transcripts" / "rust.txt"


@contextmanager
def cpu_hog(n: int) -> Iterator[None]:
    """``n`` busy-looping processes for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)  # let the scheduler see them as busy
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


Setting = tuple[int | None, bool]  # (threads, None: the default; OMP_WAIT_POLICY=passive)


def one_run(
    transcript: Path, setting: Setting, style: str, chosen: list[int], cap: float | None = None
) -> float:
    """Seconds for one summarize (``force``: summarized again every time); a run still going
    after ``cap`` seconds is cancelled and counted as ``inf`` (shown as "> cap")."""
    import threading

    from engine.api import Engine, SummarizeOptions
    from engine.errors import Cancelled
    from engine.progress import CancelToken

    threads, passive = setting
    # The worker is a fresh interpreter: it reads OpenMP's wait policy from this environment
    # when llama.cpp (built with OpenMP) loads libgomp.
    if passive:
        os.environ["OMP_WAIT_POLICY"] = "passive"
    else:
        os.environ.pop("OMP_WAIT_POLICY", None)
    engine = Engine()
    try:
        options = SummarizeOptions(
            n_threads=threads,
            seed=0,
            temperature=0.0,
            force=True,
            style=style,  # type: ignore[arg-type]
            attempts=1,
        )
        before = len(chosen)
        cancel = CancelToken()
        timer = threading.Timer(cap, cancel.cancel) if cap else None
        if timer is not None:
            timer.start()
        started = time.perf_counter()
        try:
            results = list(engine.summarize([transcript], options=options, cancel=cancel))
            seconds = time.perf_counter() - started
        except Cancelled:
            results, seconds = [], float("inf")
        finally:
            if timer is not None:
                timer.cancel()
    finally:
        engine.close()
    if any(r.error for r in results):
        raise SystemExit(f"the run failed: {results[0].error}")
    if threads is not None:
        chosen[before:] = []  # only the default's choices are reported
    return seconds


def situation(
    name: str,
    transcript: Path,
    settings: list[Setting],
    reps: int,
    style: str,
    cap_ratio: float = 3.0,
    cap_s: float = 60.0,
) -> list[tuple[str, float, str]]:
    """Every setting ``reps`` times, interleaved; a run slower than ``cap_ratio`` times the
    fastest so far (at least ``cap_s``) is stopped there: its ratio is then "more than"."""
    import engine.runtime.llamacpp.runner as runner_module

    resolve = runner_module.default_threads
    chosen: list[int] = []

    def recording() -> int:
        chosen.append(resolve())
        return chosen[-1]

    runner_module.default_threads = recording  # type: ignore[assignment]
    times: dict[Setting, list[float]] = {s: [] for s in settings}
    load = os.getloadavg()[0]
    try:
        for _ in range(reps):
            for s in settings:
                done = [t for ts in times.values() for t in ts if t != float("inf")]
                cap = max(cap_s, cap_ratio * min(done)) if done else None
                times[s].append(one_run(transcript, s, style, chosen, cap))
                print(f"  {name}: {s} {times[s][-1]:.1f} s (cap {cap})", flush=True)
    finally:
        runner_module.default_threads = resolve  # type: ignore[assignment]
    rows = []
    for s in settings:
        label = f"default (chose {', '.join(map(str, chosen))})" if s[0] is None else str(s[0])
        if s[1]:
            label += ", OMP_WAIT_POLICY=passive"
        runs = ", ".join(f"{t:.1f}" if t != float("inf") else "stopped" for t in times[s])
        rows.append((label, statistics.median(times[s]), runs))
    print(f"\n{name}: 1-min load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    best = min(r[1] for r in rows)
    print("| threads | s (median) | runs | vs best |")
    print("|---|---|---|---|")
    for label, med, runs in rows:
        if med == float("inf"):
            print(f"| {label} | – | {runs} | > {cap_ratio:.0f}x |")
        else:
            print(f"| {label} | {med:.1f} | {runs} | {med / best:.2f}x |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--transcript", type=Path, default=DEFAULT_TRANSCRIPT)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--style", choices=["quotes", "abstractive"], default="quotes")
    ap.add_argument("--hog", type=int, default=os.cpu_count() or 1, help="busy processes")
    ap.add_argument("--no-idle", action="store_true", help="only the CPU-hog situation")
    ap.add_argument("--warmup", action="store_true", help="one untimed run first")
    ap.add_argument("--cap", type=float, default=3.0, help="stop a run past this x the best")
    ap.add_argument(
        "--passive", type=int, nargs="*", default=[], help="thread counts also run passive"
    )
    args = ap.parse_args()
    # One scratch library for the whole run (the bundled model is prepared once).
    home = tempfile.mkdtemp(prefix="vidsum-contention-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["VIDSUM_HOME"] = home
    # The first thread count runs first, uncapped; then the default, then the others.
    settings: list[Setting] = [
        (args.threads[0], False),
        (None, False),
        *((t, False) for t in args.threads[1:]),
        *((t, True) for t in args.passive),
    ]
    from engine.hardware import physical_cores

    print(
        f"{args.transcript.name}, {args.style}, {physical_cores()} physical cores, "
        f"{os.cpu_count()} CPUs, commit {_commit()}"
    )
    from engine.modelstore.manager import resolve_model

    resolve_model()  # the bundled model is assembled here, not in the first timed run
    if args.warmup:
        one_run(args.transcript, (1, False), args.style, [])
    if not args.no_idle:
        situation("as it is", args.transcript, settings, args.reps, args.style, args.cap)
    with cpu_hog(args.hog):
        situation(
            f"with {args.hog} busy-loop processes",
            args.transcript,
            settings,
            args.reps,
            args.style,
            args.cap,
        )


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
