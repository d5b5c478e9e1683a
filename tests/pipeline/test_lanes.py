"""Independent passes side by side (engine.pipeline.passes.lanes) and the cancel tokens they use.

Scheduling only: the tasks here are plain functions of the lane they are given, so what is
checked is the order of results, who runs what, failure and cancel handling, and that borrowed
lanes always come back. Real passes on a real llama-server's slots:
tests/batch/test_servers_real.py.
"""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest

from engine.errors import Cancelled, GenerationError
from engine.pipeline.passes.lanes import run_group
from engine.progress import CancelToken
from engine.runtime.base import Backend


class Pool:
    """Lends the named lanes (any object stands for a backend: the tasks only name it)."""

    def __init__(self, names: list[str]) -> None:
        self.free = list(names)
        self.given_back: list[Any] = []

    def borrow(self, want: int) -> list[Backend]:
        lent, self.free = self.free[:want], self.free[want:]
        return cast(list[Backend], lent)

    def give_back(self, backends: list[Backend]) -> None:
        self.given_back += backends
        self.free += cast(list[str], backends)


def test_cancel_child_follows_its_parent_but_not_the_other_way() -> None:
    parent = CancelToken()
    child = parent.child()
    child.cancel()
    assert child.cancelled and not parent.cancelled
    other = parent.child()
    parent.cancel()
    assert other.cancelled and other.wait(0)
    assert parent.child().cancelled  # a child of a cancelled token starts cancelled


def test_without_lanes_tasks_run_in_order_on_the_own_backend() -> None:
    ran: list[tuple[int, Any]] = []

    def task(i: int) -> Any:
        return lambda backend, cancel: ran.append((i, backend)) or i * 10

    own = cast(Backend, "own")
    assert run_group([task(i) for i in range(4)], own, None, None) == [0, 10, 20, 30]
    assert ran == [(i, "own") for i in range(4)]


def test_results_keep_task_order_when_lanes_finish_out_of_order() -> None:
    pool = Pool(["a", "b"])
    seen: dict[int, str] = {}
    widths: list[int] = []
    together = threading.Barrier(3, timeout=10)  # proves three ran at the same time

    def task(i: int) -> Any:
        def run(backend: Backend, cancel: CancelToken) -> str:
            if i < 3:
                together.wait()
            time.sleep(0.05 * (5 - i))  # later tasks finish first
            seen[i] = cast(str, backend)
            return f"r{i}"

        return run

    out = run_group(
        [task(i) for i in range(5)], cast(Backend, "own"), pool, None, on_start=widths.append
    )
    assert out == [f"r{i}" for i in range(5)]
    assert widths == [3]
    assert set(seen.values()) == {"own", "a", "b"}
    assert sorted(pool.given_back) == ["a", "b"] and sorted(pool.free) == ["a", "b"]


def test_lanes_are_borrowed_only_as_many_as_there_are_tasks() -> None:
    pool = Pool(["a", "b", "c", "d"])
    assert run_group([lambda b, c: 1, lambda b, c: 2], cast(Backend, "own"), pool, None) == [1, 2]
    assert pool.given_back == ["a"]


def test_a_failure_stops_the_others_and_is_what_is_raised() -> None:
    pool = Pool(["a", "b"])
    started: list[int] = []

    def task(i: int) -> Any:
        def run(backend: Backend, cancel: CancelToken) -> int:
            started.append(i)
            if i == 0:
                time.sleep(0.1)
                raise GenerationError("no valid notes for chunk 1")
            # a long pass that notices the group's cancel, as a server stream does
            for _ in range(200):
                if cancel.cancelled:
                    raise Cancelled()
                time.sleep(0.01)
            return i

        return run

    parent = CancelToken()
    with pytest.raises(GenerationError, match="chunk 1"):
        run_group([task(i) for i in range(8)], cast(Backend, "own"), pool, parent)
    assert len(started) == 3  # the five not started never ran
    assert not parent.cancelled  # the batch goes on
    assert sorted(pool.given_back) == ["a", "b"]


def test_cancel_of_the_batch_stops_the_group() -> None:
    pool = Pool(["a"])
    parent = CancelToken()

    def run(backend: Backend, cancel: CancelToken) -> int:
        parent.cancel()
        cancel.raise_if_cancelled()
        return 1

    with pytest.raises(Cancelled):
        run_group([run, run, run], cast(Backend, "own"), pool, parent)
    assert pool.given_back == ["a"]
