"""Where fetch tasks run. A backend is anything with the `multiprocessing.Pool`
methods the scheduler uses: `apply_async(fn, args, callback=, error_callback=)`,
`close`, `join` and `terminate`.

- `process` (the default): a `multiprocessing.Pool` of worker processes, each set
  up by `crawler.worker.init_process_worker`.
- `dask`: a Dask cluster, local or joined (`crawler.dask_pool`). Dask is an
  optional extra (`pip install 'crawl[dask]'`) and is imported only for this one.
"""

from __future__ import annotations

import gc
import importlib
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


class ProcessPool(Pool):
    """`multiprocessing.Pool` whose worker-keeping thread wakes only when a worker
    exits or the pool changes state (closed, terminated, no task left).

    The stock pool's thread also wakes whenever a result waits in the result pipe,
    and until the result thread has read it, it spins: about 14 wake-ups per page,
    each polling every worker, which made it the busiest thread of the main
    process. It needs nothing from the results: a worker that exits makes its
    sentinel ready, and close(), terminate() and an empty task cache post to the
    change notifier, which is what `multiprocessing.pool.ThreadPool` waits on too."""

    def _get_sentinels(self) -> list:
        return [self._change_notifier._reader]


def process_pool(settings: RunSettings) -> tuple[Pool, TaskBoard]:
    """A pool of `settings.workers` processes, and the board that says which task
    each one runs.

    Before forking, the objects alive so far are moved out of the garbage
    collector's reach (`gc.freeze`): a collection in a worker would otherwise
    write to every one of them and copy their pages, about 1.5 MB per worker.
    They stay frozen in the main process too, so that its collections do not
    copy the pages back; only a cycle among them that dies later is not freed."""
    context = multiprocessing.get_context(settings.start_method)
    board = TaskBoard(context, settings.workers)
    # What every worker imports, imported once here: forked workers inherit it, and a
    # fork server preloads it, instead of each worker paying for it at start-up.
    preload = ["crawler.worker"] + (["crawler.httpcache"] if settings.fetch.cache_path else [])
    for module in preload:
        importlib.import_module(module)
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(preload)
    gc.collect()
    gc.freeze()
    pool = ProcessPool(
        settings.workers,
        initializer=init_process_worker,
        initargs=(settings.fetch, board),
        context=context,
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
