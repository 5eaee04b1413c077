"""What every pool of fetch workers offers, and the errors a pool reports.

A pool runs `fn(*args)` somewhere else and calls back in the main process, from
one thread: `callback(result)` with what `fn` returned, or `error_callback(error)`
with what it raised, or with `TaskLost` when the pool lost the task itself. The
shape is `multiprocessing.Pool`'s, the design card's:

- `apply_async(fn, args, callback=, error_callback=)` queues one task;
- `close()`: no more tasks; `join()` then waits for every callback and lets the
  workers go; `terminate()` stops at once, and no callback runs after it started.

A pool whose `reports_lost_tasks` is true answers every task it accepted, one way
or the other, within its hard limit: the main process has nothing to watch for.
One that cannot know (on Dask, a task may hang on a worker nobody asks about) is
watched by the scheduler's watchdog instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

WORKER_LOST = "worker lost"


class BackendError(Exception):
    """The workers cannot be started or reached, or cannot run crawl's tasks."""


class TaskLost(Exception):
    """The pool lost a task: its worker died (twice, on the process pool), or the
    task ran past its hard limit and its worker was ended. `str()` is the reason
    as db.txt writes it: `worker lost`, `timed out (worker ended after N s)`."""

    def __init__(self, reason: str = WORKER_LOST) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def timed_out(limit: float) -> TaskLost:
    """The loss of a task whose worker was ended at the hard limit."""
    return TaskLost(f"timed out (worker ended after {limit:g} s)")


class TaskPool(Protocol):
    @property
    def reports_lost_tasks(self) -> bool: ...

    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple = (),
        kwds: dict | None = None,
        callback: Callable[[Any], None] | None = None,
        error_callback: Callable[[BaseException], None] | None = None,
    ) -> None: ...

    def close(self) -> None: ...

    def join(self) -> None: ...

    def terminate(self) -> None: ...
