"""The default thread count follows the cores that are free now (issue 20, finding 1): a model
loaded beside a busy loop per CPU gets one thread, not the physical cores."""

from __future__ import annotations

import os
from pathlib import Path

from bench.contention import cpu_hog as _busy_loops
from engine.hardware import free_cores, idle_cpus, physical_cores
from engine.hardware.busy import _cpu_times
from engine.runtime.base import LoadOptions
from engine.runtime.llamacpp.runner import LlamaRunner


def test_proc_stat_lines_give_idle_and_total_jiffies() -> None:
    stat = (
        "cpu  100 5 50 800 20 1 2 3 7 0\n"
        "cpu0 50 2 25 400 10 0 1 1 0 0\n"
        "cpu1 50 3 25 400 10 1 1 2 7 0\n"
        "intr 1 2 3\n"
    )
    assert _cpu_times(stat) == (820, 981)  # idle + iowait; user..steal (guest is in user)
    assert _cpu_times(stat, {1}) == (410, 492)  # only the CPUs this process may use
    assert _cpu_times(stat, {0, 1}) == (820, 981)
    assert _cpu_times("intr 1 2 3\n") is None


def test_free_cores_rounds_idle_cpus_to_physical_cores() -> None:
    cores, logical = physical_cores(), len(os.sched_getaffinity(0))
    assert free_cores(idle=float(logical)) == cores  # an idle machine: every core
    assert free_cores(idle=0.0) == 1  # a saturated one: still one thread
    if cores >= 2:
        # One core's worth busy: that core is not offered to llama.cpp.
        assert free_cores(idle=(cores - 1) * logical / cores) == cores - 1
        # A core 90% idle (a browser tab, an editor) still counts as free.
        assert free_cores(idle=(cores - 0.1) * logical / cores) == cores


def test_idle_cpus_sees_a_busy_loop_per_cpu() -> None:
    logical = os.cpu_count() or 1
    with _busy_loops(logical):
        idle = idle_cpus(0.3)
    assert idle is not None and idle < 0.75
    assert free_cores(idle) == 1


def test_a_model_loaded_beside_busy_loops_gets_one_thread(tiny_llama_path: Path) -> None:
    with _busy_loops(os.cpu_count() or 1), LlamaRunner(LoadOptions(tiny_llama_path, 256)) as r:
        assert r.load().n_threads == 1


def test_threads_given_are_kept_however_busy(tiny_llama_path: Path) -> None:
    with (
        _busy_loops(os.cpu_count() or 1),
        LlamaRunner(LoadOptions(tiny_llama_path, 256, n_threads=2)) as r,
    ):
        assert r.load().n_threads == 2
