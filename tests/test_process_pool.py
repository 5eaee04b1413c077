"""ProcessPool's worker-keeping thread no longer watches the result pipe: it must
still replace a worker that dies and let the pool close and terminate."""

from __future__ import annotations

import os
import signal
import threading

from crawler.backends import ProcessPool

BOUND = 20.0  # seconds; generous for a loaded 2-core CI


def joins_within(pool: ProcessPool, bound: float = BOUND) -> bool:
    joiner = threading.Thread(target=pool.join, daemon=True)
    joiner.start()
    joiner.join(bound)
    return not joiner.is_alive()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_that_dies_is_replaced() -> None:
    pool = ProcessPool(1)
    try:
        first = pool.apply_async(os.getpid).get(BOUND)
        pool.apply_async(die)  # dies mid-task, as a crashed worker does
        second = pool.apply_async(os.getpid).get(BOUND)  # needs a new worker
        assert second != first
    finally:
        pool.terminate()


def test_close_then_join_returns_once_the_tasks_are_done() -> None:
    pool = ProcessPool(2)
    results = [pool.apply_async(abs, (-n,)) for n in range(50)]
    pool.close()
    assert joins_within(pool)
    assert [result.get(0) for result in results] == list(range(50))


def test_terminate_then_join_returns() -> None:
    pool = ProcessPool(2)
    pool.apply_async(abs, (-1,)).get(BOUND)
    pool.terminate()
    assert joins_within(pool)
