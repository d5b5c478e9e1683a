"""How many cores are free right now: the default llama.cpp thread count on a shared machine.

llama.cpp's threads wait for each other at every step of a computation (spin, then sleep), so
one thread that shares its core with another busy process holds all the others up: on a
2-core machine with a busy process beside it the physical-core default ran a summary ~6x slower
than one thread (issue 20). The default is therefore the physical cores that are *idle now*:
the idle share of ``/proc/stat`` over a short sample (Linux), else the 1-minute load average,
at least 1 and at most the physical cores. It is taken at each model load (each batch);
``--threads`` / settings' ``threads`` override it. BENCHMARKS.md has the measurements.

May import: ``engine.hardware.detect`` and the ground floor.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from engine.hardware.detect import physical_cores

SAMPLE_S = 0.15  # long enough to see a busy process, short beside a model load
# A core counts as free when at least this share of it was idle: a browser tab or an editor
# (a few % of a core) leaves the core to llama.cpp, a build or a busy loop does not.
FREE_SHARE = 0.75


def _cpu_times(stat: str, cpus: set[int] | None = None) -> tuple[int, int] | None:
    """(idle, total) jiffies from ``/proc/stat``: of the ``cpuN`` lines of ``cpus`` (the CPUs
    this process may run on: a container or ``taskset`` sees only its own), else the
    aggregate ``cpu`` line."""
    idle = total = 0
    found = False
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu"):
            continue
        if cpus is None and name != "cpu":
            continue
        if cpus is not None and not (name[3:].isdigit() and int(name[3:]) in cpus):
            continue
        values = [int(v) for v in rest.split()]
        # user nice system idle iowait irq softirq steal (guest* are inside user/nice)
        idle += values[3] + (values[4] if len(values) > 4 else 0)
        total += sum(values[:8])
        found = True
    return (idle, total) if found else None


def _allowed_cpus() -> set[int] | None:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def idle_cpus(sample_s: float = SAMPLE_S) -> float | None:
    """CPUs (of those this process may use) idle over ``sample_s`` seconds (``/proc/stat``);
    None where unreadable."""
    path = Path("/proc/stat")
    cpus = _allowed_cpus()
    try:
        before = _cpu_times(path.read_text(encoding="ascii"), cpus)
        time.sleep(sample_s)
        after = _cpu_times(path.read_text(encoding="ascii"), cpus)
    except (OSError, ValueError):
        return None
    if before is None or after is None or after[1] <= before[1]:
        return None
    share = (after[0] - before[0]) / (after[1] - before[1])
    return max(0.0, share) * (len(cpus) if cpus else os.cpu_count() or 1)


def free_cores(idle: float | None = None) -> int:
    """Physical cores free now (``idle``: logical CPUs idle, measured when None), 1 at least."""
    cores = physical_cores()
    allowed = _allowed_cpus()
    logical = max(cores, len(allowed) if allowed else os.cpu_count() or cores)
    if idle is None:
        idle = idle_cpus()
    if idle is None:  # no /proc/stat (macOS): the load average says how many are busy
        with contextlib.suppress(OSError, AttributeError):
            idle = max(0.0, logical - os.getloadavg()[0])
    if idle is None:
        return cores
    # Idle logical CPUs in physical cores (hyper-threads share a core), rounded at FREE_SHARE.
    free = idle * cores / logical
    return max(1, min(cores, int(free + (1 - FREE_SHARE))))


def default_threads() -> int:
    """llama.cpp threads when none are given: the physical cores free now."""
    return free_cores()
