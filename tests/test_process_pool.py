"""The process pool on its own (crawler.pools.process), in-process with task functions
from this module: each worker's own channel, what happens to a task whose worker
dies at each moment, the hard limit, threads, and stopping that never blocks.

Task functions note each attempt in a folder (a file per attempt), so that a test
can wait on a condition, never on a pause, and count how often a task ran."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from crawler.pools.base import TaskLost
from crawler.pools.process import ProcessPool
from tests.stress_util import gone, wait_for

BOUND = 30.0  # seconds: no wait here may take longer; generous for a loaded 2-core CI
METHODS = ["fork", "spawn", "forkserver"]


# -- task functions (module level: every start method can import them) -------------------
def square(value: int) -> int:
    return value * value


def on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def attempt(folder: str, name: str) -> int:
    """Note one attempt at task `name`; how many there were so far."""
    path = Path(folder)
    mine = path / f"{name}-{len(list(path.glob(name + '-*'))) + 1}-{os.getpid()}"
    mine.touch()
    return len(list(path.glob(name + "-*")))


def die(folder: str, name: str) -> None:
    attempt(folder, name)
    os.kill(os.getpid(), signal.SIGKILL)


def die_once(folder: str, name: str) -> int:
    """Kill this worker at the first attempt; the pid of the second."""
    if attempt(folder, name) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def wait_then_pid(folder: str, name: str, seconds: float) -> int:
    attempt(folder, name)
    time.sleep(seconds)
    return os.getpid()


def wait_for_go(folder: str, name: str) -> int:
    """Wait (bounded) until the test creates the file `go` in `folder`."""
    attempt(folder, name)
    give_up = time.monotonic() + BOUND
    while not (Path(folder) / "go").exists() and time.monotonic() < give_up:
        time.sleep(0.01)
    return os.getpid()


def big_result(folder: str, name: str, size: int) -> bytes:
    attempt(folder, name)
    return b"x" * size


def meet(folder: str, name: str, everyone: int) -> bool:
    """Arrive, then wait (bounded) until `everyone` tasks have arrived: True only if
    they were all running at once."""
    attempt(folder, name)
    give_up = time.monotonic() + BOUND / 2
    while len(list(Path(folder).glob("meet*"))) < everyone:
        if time.monotonic() > give_up:
            return False
        time.sleep(0.01)
    return True


def fail(value: int) -> None:
    raise ValueError(value)


class CannotBeRebuilt(Exception):
    def __init__(self, first: str, second: int) -> None:
        super().__init__(first)
        self.second = second


def raise_unrebuildable() -> None:
    raise CannotBeRebuilt("pickles, but cannot be unpickled", 2)


def unpicklable_result() -> object:
    return threading.Lock()


# -- helpers -----------------------------------------------------------------------------
class Answers:
    """Callbacks of a pool, collected: `results` and `errors` by name."""

    def __init__(self) -> None:
        self.results: dict[str, object] = {}
        self.errors: dict[str, BaseException] = {}
        self.threads: set[int] = set()
        self.times: dict[str, float] = {}
        self._changed = threading.Condition()

    def submit(self, pool: ProcessPool, name: str, func: Callable, *args: object) -> None:
        pool.apply_async(
            func,
            args,
            callback=lambda value: self._note(self.results, name, value),
            error_callback=lambda error: self._note(self.errors, name, error),
        )

    def _note(self, into: dict, name: str, value: object) -> None:
        with self._changed:
            assert name not in self.results and name not in self.errors, f"{name} answered twice"
            into[name] = value
            self.threads.add(threading.get_ident())
            self.times[name] = time.monotonic()
            self._changed.notify_all()

    def wait(self, count: int, within: float = BOUND) -> None:
        with self._changed:
            done = self._changed.wait_for(
                lambda: len(self.results) + len(self.errors) >= count, within
            )
        assert done, f"{len(self.results) + len(self.errors)} of {count} answers in {within} s"


def workers_of(pool: ProcessPool) -> list[psutil.Process]:
    """The pool's live worker processes (children of this process named crawl-worker-N)."""
    return [
        psutil.Process(child.pid)
        for child in multiprocessing.active_children()
        if child.name.startswith("crawl-worker-")
    ]


def attempts(folder: Path, name: str) -> list[int]:
    """The pid of each attempt at task `name`, in order."""
    found = sorted(folder.glob(name + "-*"), key=lambda path: int(path.name.split("-")[-2]))
    return [int(path.name.split("-")[-1]) for path in found]


@pytest.fixture
def pools():
    """Pools made through this are terminated at the end, whatever the test did."""
    made: list[ProcessPool] = []

    def make(workers: int = 2, method: str = "fork", **options) -> ProcessPool:
        pool = ProcessPool(workers, context=multiprocessing.get_context(method), **options)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.terminate()


# -- the shape -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_every_task_calls_back_once_from_one_thread(pools, method: str) -> None:
    pool = pools(2, method)
    answers = Answers()
    for n in range(200):
        answers.submit(pool, f"t{n}", square, n)
    answers.submit(pool, "fails", fail, 7)
    answers.wait(201)
    assert answers.results == {f"t{n}": n * n for n in range(200)}
    assert type(answers.errors["fails"]) is ValueError
    assert len(answers.threads) == 1 and threading.get_ident() not in answers.threads
    pool.close()
    pool.join()
    assert not workers_of(pool)


def test_what_cannot_cross_back_costs_its_task_only(pools) -> None:
    pool = pools(1)
    answers = Answers()
    answers.submit(pool, "unrebuildable", raise_unrebuildable)
    answers.submit(pool, "unpicklable", unpicklable_result)
    answers.submit(pool, "fine", square, 3)
    answers.submit(pool, "unsendable", square, threading.Lock())  # cannot even be sent
    answers.wait(4)
    assert answers.results == {"fine": 9}
    assert isinstance(answers.errors["unsendable"], TypeError)
    assert len(answers.threads) == 1 and threading.get_ident() not in answers.threads
    assert isinstance(answers.errors["unrebuildable"], TypeError)  # raised by unpickling here
    assert isinstance(answers.errors["unpicklable"], (TypeError, pickle.PicklingError))


def test_close_then_join_waits_for_the_tasks_and_lets_the_workers_go(pools, tmp_path: Path) -> None:
    pool = pools(2)
    answers = Answers()
    for n in range(4):
        answers.submit(pool, f"slow{n}", wait_then_pid, str(tmp_path), f"slow{n}", 0.2)
    workers = workers_of(pool)
    pool.close()
    with pytest.raises(ValueError):
        pool.apply_async(square, (1,))
    pool.join()
    assert len(answers.results) == 4
    assert all(gone(worker) for worker in workers)


# -- a worker that dies ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_task_whose_worker_dies_runs_once_more_and_then_is_lost(
    pools, tmp_path: Path, method: str
) -> None:
    pool = pools(2, method)
    answers = Answers()
    answers.submit(pool, "killer", die, str(tmp_path), "killer")
    answers.submit(pool, "unlucky", die_once, str(tmp_path), "unlucky")
    for n in range(20):
        answers.submit(pool, f"t{n}", square, n)
    answers.wait(22)
    assert str(answers.errors["killer"]) == "worker lost"
    assert isinstance(answers.errors["killer"], TaskLost)
    assert len(attempts(tmp_path, "killer")) == 2  # two workers, not the run
    assert answers.results["unlucky"] == attempts(tmp_path, "unlucky")[1]
    assert len(answers.errors) == 1 and len(answers.results) == 21
    assert wait_for(lambda: len(workers_of(pool)) == 2, BOUND), "the dead are replaced"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_killed_idle_worker_stops_nothing(pools, method: str) -> None:
    """The stock Pool's wedge (CPython #96062): an idle worker killed while it waits
    for a task. Here it holds nothing, so nothing waits for it."""
    pool = pools(2, method)
    answers = Answers()
    answers.submit(pool, "first", square, 1)
    answers.wait(1)
    first = workers_of(pool)
    for worker in first:
        worker.kill()
    for n in range(50):
        answers.submit(pool, f"t{n}", square, n)
    answers.wait(51)
    assert len(answers.results) == 51 and not answers.errors
    assert wait_for(lambda: len(workers_of(pool)) == 2, BOUND)
    assert not {worker.pid for worker in first} & {worker.pid for worker in workers_of(pool)}


def test_a_dead_worker_is_noticed_within_half_a_second(pools, tmp_path: Path) -> None:
    pool = pools(1)
    answers = Answers()
    answers.submit(pool, "long", wait_then_pid, str(tmp_path), "long", 60.0)
    for expected in (1, 2):  # kill it where it runs, twice
        assert wait_for(lambda n=expected: len(attempts(tmp_path, "long")) == n, BOUND)
        killed = time.monotonic()
        psutil.Process(attempts(tmp_path, "long")[-1]).kill()
    answers.wait(1)
    assert str(answers.errors["long"]) == "worker lost"
    took = answers.times["long"] - killed
    assert took < 1.5, f"noticed {took:.2f} s after the kill (0.5 s promised; margin for CI)"


def test_a_worker_killed_half_way_through_sending_its_result(pools, tmp_path: Path) -> None:
    """The delivery thread is held in a callback, so a 20 MB result fills the
    worker's channel and its worker waits, half-way through sending; it is killed
    there. The torn result is dropped, the task runs again, and comes back whole."""
    pool = pools(2)
    answers = Answers()
    hold = threading.Event()
    pool.apply_async(square, (2,), callback=lambda value: hold.wait(BOUND))
    size = 20 * 1024 * 1024
    answers.submit(pool, "big", big_result, str(tmp_path), "big", size)
    assert wait_for(lambda: attempts(tmp_path, "big"), BOUND)
    sender = psutil.Process(attempts(tmp_path, "big")[0])
    assert wait_for(lambda: blocked(sender), BOUND), "the worker never waited on its channel"
    sender.kill()
    hold.set()
    answers.wait(1)
    assert answers.results["big"] == b"x" * size
    assert len(attempts(tmp_path, "big")) == 2


def blocked(process: psutil.Process) -> bool:
    """Whether `process` sleeps without using CPU: after its task returned, only
    its send can make it wait."""
    before = process.cpu_times()
    if process.status() != psutil.STATUS_SLEEPING:
        return False
    time.sleep(0.2)  # part of the condition: no CPU used over this span
    return process.status() == psutil.STATUS_SLEEPING and process.cpu_times() == before


# -- the hard limit ------------------------------------------------------------------------------
def test_a_task_past_its_hard_limit_ends_its_worker_and_the_others_run_again(
    pools, tmp_path: Path
) -> None:
    pool = pools(1, threads=2, task_limit=3.0)
    answers = Answers()
    answers.submit(pool, "stuck", wait_then_pid, str(tmp_path), "stuck", 60.0)
    assert wait_for(lambda: attempts(tmp_path, "stuck"), BOUND)
    answers.submit(pool, "beside", wait_for_go, str(tmp_path), "beside")
    assert wait_for(lambda: attempts(tmp_path, "beside"), BOUND)  # running beside it
    answers.wait(1)
    assert str(answers.errors["stuck"]) == "timed out (worker ended after 3 s)"
    # Its neighbour was cut off with the worker and runs again on the replacement.
    assert wait_for(lambda: len(attempts(tmp_path, "beside")) == 2, BOUND)
    (tmp_path / "go").touch()
    answers.wait(2)
    beside = attempts(tmp_path, "beside")
    assert answers.results["beside"] == beside[1] != beside[0]
    assert len(attempts(tmp_path, "stuck")) == 1  # ended, not run again


# -- threads -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_times_threads_tasks_run_at_once(pools, tmp_path: Path, method: str) -> None:
    pool = pools(2, method, threads=3)
    answers = Answers()
    for n in range(6):
        answers.submit(pool, f"meet{n}", meet, str(tmp_path), f"meet{n}", 6)
    answers.wait(6)
    assert answers.results == {f"meet{n}": True for n in range(6)}
    pids = {pid for name in answers.results for pid in attempts(tmp_path, name)}
    assert len(pids) == 2  # three in each worker


def test_one_thread_runs_the_task_on_the_workers_main_thread(pools) -> None:
    """Where a timer signal can interrupt a blocking read (the attempt deadline)."""
    pool = pools(1)
    answers = Answers()
    answers.submit(pool, "where", on_main_thread)
    answers.wait(1)
    assert answers.results["where"] is True


# -- stopping ------------------------------------------------------------------------------------
def test_terminate_never_blocks_on_a_dead_or_stopped_worker(pools) -> None:
    pool = pools(3)
    answers = Answers()
    for n in range(3):
        answers.submit(pool, f"t{n}", square, n)
    answers.wait(3)
    dead, stopped, idle = workers_of(pool)
    dead.kill()
    stopped.suspend()  # SIGSTOP: deaf to everything but SIGKILL
    started = time.monotonic()
    pool.terminate()
    assert time.monotonic() - started < 5.0
    assert all(gone(worker) for worker in (dead, stopped, idle))


def test_no_callback_after_terminate(pools, tmp_path: Path) -> None:
    pool = pools(1)
    answers = Answers()
    answers.submit(pool, "cut", wait_then_pid, str(tmp_path), "cut", 60.0)
    assert wait_for(lambda: attempts(tmp_path, "cut"), BOUND)
    pool.terminate()
    assert not answers.results and not answers.errors
    with pytest.raises(ValueError):
        pool.apply_async(square, (1,))


def test_workers_ignore_sigint(pools) -> None:
    """Ctrl-C reaches the whole process group: the main process decides what it means."""
    pool = pools(1)
    answers = Answers()
    answers.submit(pool, "first", square, 1)
    answers.wait(1)
    (worker,) = workers_of(pool)
    worker.send_signal(signal.SIGINT)
    answers.submit(pool, "second", square, 2)
    answers.wait(2)
    assert worker.is_running() and not gone(worker)
