"""A pool for tests: tasks answered in this process, at once or when the test says.

    pool = FakePool()                       # runs func(*args) at once, calls back
    pool = FakePool(answer=lambda task: Page(...))   # or answers without running it
    pool = FakePool(hold=True)              # keeps tasks until the test steps them:
    pool.release()                          #   the oldest held task is answered
    pool.lose(reason="worker lost")         #   or lost, as a pool reports a dead worker

An answer that is an exception goes to the task's `error_callback`, anything else
to its `callback`. `threaded=True` answers each task from a thread of its own
after a short pause, so that tasks pile up as in a real pool. `submitted` lists
every task, `outstanding` counts those not answered yet (`most_outstanding`, the
most at once), `calls` the pool methods called (`close`, `join`, `terminate`). No
callback runs after `terminate`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crawler.pools.base import WORKER_LOST, TaskLost

PILE_UP = 0.002  # seconds a threaded answer waits


@dataclass
class FakeTask:
    func: Callable[..., Any]
    args: tuple
    kwds: dict = field(default_factory=dict)
    callback: Callable[[Any], None] | None = None
    error_callback: Callable[[BaseException], None] | None = None

    def run(self) -> Any:
        """What the task's function returns or raises (raised: returned as is)."""
        try:
            return self.func(*self.args, **self.kwds)
        except Exception as error:  # noqa: BLE001 - the pool hands it to error_callback
            return error


class FakePool:
    def __init__(
        self,
        answer: Callable[[FakeTask], Any] | None = None,
        *,
        hold: bool = False,
        threaded: bool = False,
        reports_lost_tasks: bool = True,
    ) -> None:
        self.answer = answer or FakeTask.run
        self.hold = hold
        self.threaded = threaded
        self.reports_lost_tasks = reports_lost_tasks
        self.submitted: list[FakeTask] = []
        self.held: list[FakeTask] = []
        self.calls: list[str] = []
        self.outstanding = 0
        self.most_outstanding = 0
        self._lock = threading.Lock()
        self._closed = False
        self._terminated = False

    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple = (),
        kwds: dict | None = None,
        callback: Callable[[Any], None] | None = None,
        error_callback: Callable[[BaseException], None] | None = None,
    ) -> None:
        if self._closed:
            raise ValueError("pool is not running")
        task = FakeTask(func, args, kwds or {}, callback, error_callback)
        with self._lock:
            self.submitted.append(task)
            self.outstanding += 1
            self.most_outstanding = max(self.most_outstanding, self.outstanding)
        if self.hold:
            with self._lock:
                self.held.append(task)
        elif self.threaded:
            threading.Thread(target=self._answer_later, args=(task,), daemon=True).start()
        else:
            self.deliver(task, self.answer(task))

    def release(self, task: FakeTask | None = None) -> None:
        """Answer a held task (the oldest by default) as `answer` says."""
        task = self._take(task)
        self.deliver(task, self.answer(task))

    def lose(self, task: FakeTask | None = None, reason: str = WORKER_LOST) -> None:
        """Report a held task (the oldest by default) lost, as a pool whose worker died."""
        self.deliver(self._take(task), TaskLost(reason))

    def deliver(self, task: FakeTask, outcome: Any) -> None:
        """Call `task` back with `outcome` (an exception: its error_callback)."""
        with self._lock:
            self.outstanding -= 1
            if self._terminated:
                return
        if isinstance(outcome, BaseException):
            if task.error_callback is not None:
                task.error_callback(outcome)
        elif task.callback is not None:
            task.callback(outcome)

    def close(self) -> None:
        self.calls.append("close")
        self._closed = True

    def join(self) -> None:
        self.calls.append("join")

    def terminate(self) -> None:
        self.calls.append("terminate")
        self._closed = self._terminated = True

    def _take(self, task: FakeTask | None) -> FakeTask:
        with self._lock:
            task = task or self.held[0]
            self.held.remove(task)
            return task

    def _answer_later(self, task: FakeTask) -> None:
        time.sleep(PILE_UP)  # a stand-in for a worker's time, not a synchronisation
        self.deliver(task, self.answer(task))
