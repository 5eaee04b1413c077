"""Where fetch tasks run. A backend is anything with the `multiprocessing.Pool`
methods the scheduler uses: `apply_async(fn, args, callback=, error_callback=)`,
`close`, `join` and `terminate`.

- `process` (the default): a `multiprocessing.Pool` of worker processes, each set
  up by `crawler.worker.init_process_worker`.
- `dask`: a Dask cluster, local or joined (`crawler.dask_pool`). Dask is an
  optional extra (`pip install 'crawl[dask]'`) and is imported only for this one.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.pool import Pool
from typing import Any, Protocol

from crawler.settings import RunSettings
from crawler.taskboard import TaskBoard
from crawler.worker import init_process_worker

DASK_MISSING = "crawl: --backend dask needs Dask: pip install 'crawl[dask]'"


class BackendError(Exception):
    """The workers cannot be started or reached, or cannot run crawl's tasks."""


class TaskPool(Protocol):
    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple = (),
        kwds: dict = ...,
        callback: Callable[[Any], None] | None = None,
        error_callback: Callable[[BaseException], None] | None = None,
    ) -> Any: ...

    def close(self) -> None: ...

    def join(self) -> None: ...

    def terminate(self) -> None: ...


def process_pool(settings: RunSettings) -> tuple[Pool, TaskBoard]:
    """A pool of `settings.workers` processes, and the board that says which task
    each one runs."""
    context = multiprocessing.get_context(settings.start_method)
    board = TaskBoard(context, settings.workers)
    pool = context.Pool(
        settings.workers, initializer=init_process_worker, initargs=(settings.fetch, board)
    )
    return pool, board


def dask_installed() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def make_pool(settings: RunSettings) -> tuple[TaskPool, TaskBoard | None]:
    """The pool `settings.backend` names, and its task board if it has one (only
    the process pool does; elsewhere the watchdog's time limit finds lost tasks).
    Raises BackendError if a cluster cannot be used."""
    if settings.backend == "dask":
        from crawler.dask_pool import dask_pool

        return dask_pool(settings), None
    return process_pool(settings)
