"""Where fetch tasks run: one pool object, whatever the backend.

- `process` (the default): `crawler.pools.process.ProcessPool`, `--workers`
  processes of `--threads` threads, each worker set up by `crawler.fetching.worker.init_worker`.
- `dask`: a Dask cluster, local or joined (`crawler.pools.dask`). Dask is an
  optional extra (`pip install 'crawl[dask]'`) and is imported only for this one.

The interface and its errors are in `crawler.pools.base`; `crawler.pools.fake`
is a pool for tests.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing

from crawler.pools.base import BackendError, TaskLost, TaskPool
from crawler.pools.process import ProcessPool
from crawler.settings import RunSettings

__all__ = ["DASK_MISSING", "BackendError", "TaskLost", "TaskPool", "dask_installed", "make_pool"]

DASK_MISSING = "crawl: --backend dask needs Dask: pip install 'crawl[dask]'"


def dask_installed() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def make_pool(settings: RunSettings) -> TaskPool:
    """The pool `settings.backend` names, started. Raises BackendError if its
    workers cannot be started or a cluster cannot be used."""
    if settings.backend == "dask":
        from crawler.pools.dask import dask_pool

        return dask_pool(settings)
    return process_pool(settings)


def process_pool(settings: RunSettings) -> ProcessPool:
    """`settings.workers` processes of `settings.threads` fetching threads each,
    whose tasks the main process ends at `settings.fetch.task_limit()`.

    Before forking, the objects alive so far are moved out of the garbage
    collector's reach (`gc.freeze`): a collection in a worker would otherwise
    write to every one of them and copy their pages, about 1.5 MB per worker.
    They stay frozen in the main process too, so that its collections do not
    copy the pages back; only a cycle among them that dies later is not freed."""
    context = multiprocessing.get_context(settings.start_method)
    # What every worker imports, imported once here: forked workers inherit it, and a
    # fork server preloads it, instead of each worker paying for it at start-up.
    from crawler.fetching.worker import init_worker, modules_to_preload

    preload = modules_to_preload(settings.fetch)
    for module in preload:
        importlib.import_module(module)
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(preload)
    gc.collect()
    gc.freeze()
    return ProcessPool(
        settings.workers,
        threads=settings.threads,
        initializer=init_worker,
        initargs=(settings.fetch,),
        task_limit=settings.fetch.task_limit(),
        context=context,
    )
