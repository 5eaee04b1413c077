"""The `dask` backend: fetch tasks on a Dask cluster, behind the Pool's methods.

`DaskPool` gives a `distributed.Client` the `apply_async(fn, args, callback=,
error_callback=)`, `close`, `join` and `terminate` of `crawler.pools.base.TaskPool`,
so the scheduler, the pipelines and the writer are the same for every backend.

- Results come back to this process: one collector thread takes finished futures
  from an `as_completed(with_results=True)` (results are gathered by the client's
  event loop, not one at a time) and calls the callbacks, as the Pool's result
  thread does. A future is dropped as soon as its callback ran, so Dask releases
  its result and memory stays flat.
- Tasks are submitted with `pure=False`: the same URL in another run, or twice in
  one cluster's lifetime, is fetched again, never served from Dask's cache.
- A worker that dies takes its task with it; Dask runs it again on another worker
  (up to the scheduler's `allowed-failures`, then the task errs with `KilledWorker`,
  reported as `TaskLost`: `error:<URL> worker lost`). Either way the callback runs
  once per task.
- `terminate` stops delivering before it cancels anything, so a run that is
  interrupted writes no line for the tasks it abandons.
- Each worker gets crawl's settings when it joins (`CrawlWorkerSetup`, the
  counterpart of the process pool's initializer); each of its threads makes its
  own transport. A local cluster has `--threads` threads per worker.
- There is no per-task hard limit: ending a Dask worker is not this pool's to do.
  The fetch deadlines bound a task, and the main process's watchdog writes off
  anything past `watchdog_limit` (`reports_lost_tasks` is false).
- The local cluster speaks TLS with throwaway certificates (`_local_cluster`). A
  joined cluster's link is Dask's own configuration: `tls://` with its certificate
  files; a `tcp://` one off this machine is refused for a run with secrets before
  anything starts (`crawler.pools.cluster_security`, called by the command line).
- On a cluster joined with `--scheduler`, crawl uploads its own code (the
  `crawler` and `pipelines` packages, zipped) to the scheduler and the workers
  before anything runs, so they need only crawl's dependencies (requests,
  urllib3, tenacity, charset-normalizer), not crawl itself, and always run the
  client's version of it.

Importing this module imports `distributed`: only `crawler.pools.make_pool` does,
and only for `--backend dask`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import multiprocessing
import tempfile
import threading
import types
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import distributed
from distributed import Client, KilledWorker, LocalCluster, as_completed
from distributed.diagnostics.plugin import SchedulerUploadFile, UploadFile, WorkerPlugin

import crawler
import pipelines
from crawler.pools.base import BackendError, TaskLost
from crawler.settings import LOCAL_DASHBOARD, FetchSettings, RunSettings

CODE_PLUGIN = "crawl-code"  # fixed names: a later run replaces, never piles up
SETUP_PLUGIN = "crawl-worker-setup"
COLLECT_EVERY = 0.1  # how often the collector looks at a closing flag while idle
CLOSE_TIMEOUT = 5.0
KILL_TIMEOUT = 0.5  # a worker asked to stop is killed after 80% of this


class ClusterLost(Exception):
    """A task's future was cancelled, not by this run: the client lost its
    scheduler. Named so, the task's line reads `worker error: ClusterLost`."""


class CrawlWorkerSetup(WorkerPlugin):
    """Runs on each worker when it joins: its settings and its one Session."""

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings

    def setup(self, worker: Any) -> None:
        from crawler.fetching.worker import init_worker

        init_worker(self.settings)


class DaskPool:
    """A TaskPool whose tasks run on a Dask cluster. `threads` is the number of
    tasks the cluster runs at once when the run starts."""

    reports_lost_tasks = False  # a task can hang on a worker nobody asks about

    def __init__(
        self, client: Client, cluster: LocalCluster | None = None, dashboard: bool = False
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.dashboard = dashboard
        self.threads = sum(client.nthreads().values())
        self._completed = as_completed(loop=client.loop, with_results=True, raise_errors=False)
        self._handlers: dict[str, tuple[Callable, Callable | None]] = {}
        self._lock = threading.Lock()  # held while a callback runs, and to stop delivering
        self._delivering = True
        self._closed = False
        self._collector = threading.Thread(
            target=self._collect, name="crawl-dask-results", daemon=True
        )
        self._collector.start()

    @property
    def dashboard_link(self) -> str | None:
        """The local cluster's dashboard, if `--dashboard` asked for one."""
        return self.cluster.dashboard_link if self.dashboard and self.cluster else None

    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple = (),
        kwds: dict | None = None,
        callback: Callable[[Any], None] | None = None,
        error_callback: Callable[[BaseException], None] | None = None,
    ) -> None:
        if self._closed:
            raise ValueError("pool is closed")
        try:
            future = self.client.submit(func, *args, **(kwds or {}), pure=False)
        except Exception as error:  # noqa: BLE001 - a cluster gone for good: the task's line says so
            if error_callback is not None:
                error_callback(error)
            return
        with self._lock:
            self._handlers[future.key] = (callback or _ignore, error_callback)
        self._completed.add(future)

    def close(self) -> None:
        """No more tasks; those submitted still finish."""
        self._closed = True

    def join(self) -> None:
        """Wait for the submitted tasks' callbacks, then let the cluster go."""
        while self._collector.is_alive() and self._handlers:
            self._collector.join(COLLECT_EVERY)
        self._shut(cancel=False)

    def terminate(self) -> None:
        """Stop at once: no callback runs after this starts; unfinished tasks are
        cancelled and a cluster this pool started is shut down."""
        self._closed = True
        self._shut(cancel=True)

    # -- internals ------------------------------------------------------------------
    def _shut(self, cancel: bool) -> None:
        with self._lock:
            self._delivering = False
            self._handlers.clear()
        self._collector.join(CLOSE_TIMEOUT)
        if cancel:
            pending = list(self._completed.futures)
            if pending:
                with contextlib.suppress(Exception):  # a lost cluster has nothing to cancel
                    self.client.cancel(pending, force=True)
            self._completed.futures.clear()
            if self.cluster is not None:
                _kill_workers(self.cluster)
        _close_quietly(self.client, self.cluster)

    def _collect(self) -> None:
        """The result thread: callbacks in the order tasks finish. Never raises."""
        completed = self._completed
        while self._delivering:
            with completed.thread_condition:
                if not completed.has_ready():
                    completed.thread_condition.wait(COLLECT_EVERY)
            for future, result in completed.next_batch(block=False):
                self._deliver(future, result)
                future.release()

    def _deliver(self, future: distributed.Future, result: Any) -> None:
        with self._lock:
            handlers = self._handlers.pop(future.key, None)
            if handlers is None or not self._delivering:
                return
            callback, error_callback = handlers
            try:
                if future.status == "finished":
                    callback(result)
                elif error_callback is not None and future.status == "cancelled":
                    error_callback(ClusterLost(str(result)))
                elif error_callback is not None:
                    error_callback(_exception_of(result))
            except Exception:  # like the Pool: a raising callback loses one result
                logging.getLogger(__name__).exception("callback failed")


def _ignore(result: Any) -> None:
    pass


def _exception_of(result: Any) -> BaseException:
    """The exception in an errored future's result, `(type, value, traceback)`."""
    error = result
    if isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], BaseException):
        error = result[1]
    if not isinstance(error, BaseException):
        return RuntimeError(repr(result))
    if isinstance(error, KilledWorker):  # Dask gave up on it: its workers kept dying
        return TaskLost()
    return error


def _kill_workers(cluster: LocalCluster) -> None:
    """End a local cluster's workers now. A plain close lets each finish its running
    task first (a fetch may take a minute); these tasks were abandoned."""

    async def kill_all() -> None:
        nannies = list(cluster.workers.values())
        await asyncio.gather(
            *(nanny.close(timeout=KILL_TIMEOUT) for nanny in nannies), return_exceptions=True
        )

    with contextlib.suppress(Exception):
        cluster.sync(kill_all)


def _close_quietly(client: Client | None, cluster: LocalCluster | None) -> None:
    for closeable in (client, cluster):
        if closeable is None:
            continue
        with contextlib.suppress(Exception):  # shutting down: nothing left to save
            closeable.close(timeout=CLOSE_TIMEOUT)


# -- starting a cluster, or joining one -----------------------------------------------


def dask_pool(settings: RunSettings) -> DaskPool:
    """A local cluster of `settings.workers` processes of `settings.threads` threads
    on 127.0.0.1, or the cluster at `settings.scheduler`; its workers set up to fetch."""
    # Dask's warnings (a worker lost, a task re-run) are handled here, and said once
    # per URL by the report if they cost a page: its own lines would only repeat it.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = None
    try:
        if settings.scheduler:
            client = Client(settings.scheduler, set_as_default=False)
        else:
            with dask.config.set({"distributed.worker.multiprocessing-method": _start_method()}):
                cluster = _local_cluster(settings)
            client = Client(cluster, set_as_default=False)
    except Exception as error:  # noqa: BLE001 - Dask says "cannot start" in many types
        if cluster is not None:
            _close_quietly(None, cluster)
        if settings.scheduler:
            raise BackendError(
                f"cannot reach the Dask scheduler at {settings.scheduler}: {error}"
            ) from None
        raise BackendError(f"cannot start a local Dask cluster: {error}") from None
    try:
        if settings.scheduler:
            upload_code(client)
        client.register_plugin(CrawlWorkerSetup(settings.fetch), name=SETUP_PLUGIN)
    except Exception as error:  # noqa: BLE001 - any worker-side failure ends the run here
        _close_quietly(client, cluster)
        raise BackendError(
            f"Dask workers cannot run crawl ({type(error).__name__}: {error}); "
            "they need requests, urllib3, tenacity and charset-normalizer installed"
        ) from None
    return DaskPool(client, cluster, settings.dashboard)


def _start_method() -> str:
    """forkserver where there is one: the server imports Dask once and forks each
    worker from it, so eight workers start in seconds, not one import each (spawn)."""
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def _local_cluster(settings: RunSettings) -> LocalCluster:
    """Workers on 127.0.0.1 that speak TLS with throwaway certificates, made for
    this cluster alone: another user of the machine can neither connect to it
    (and run code as you) nor read the tasks' headers and cookies on the way."""
    from distributed.security import Security

    return LocalCluster(
        n_workers=settings.workers,
        threads_per_worker=settings.threads,
        processes=True,
        host="127.0.0.1",
        protocol="tls://",
        security=Security.temporary(),
        dashboard_address=LOCAL_DASHBOARD if settings.dashboard else None,
        # A worker whose scheduler went first (Ctrl-C reaches the whole process group)
        # logs its failed heartbeat as an ERROR with a traceback; what a lost worker
        # costs is said by the report, so the workers' own logs say nothing below this.
        silence_logs=logging.CRITICAL,
    )


def code_archive() -> bytes:
    """The `crawler` and `pipelines` packages as a zip (sources only), as they are
    in this process, for workers to import."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in (crawler, pipelines):
            root = Path(package.__file__).parent
            for path in sorted(root.rglob("*.py")):
                info = zipfile.ZipInfo(str(path.relative_to(root.parent)), (1980, 1, 1, 0, 0, 0))
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _forget_crawl_modules() -> int:
    """Drop the crawl modules a process imported and the uploads on its path, so
    the next import reads the upload that follows. Run on the scheduler and the
    workers: a long-lived one may have served another crawl version, and reloading
    a package would leave its submodules as they were."""
    import os
    import sys

    sys.path[:] = [
        entry
        for entry in sys.path
        if not (os.path.basename(entry).startswith("crawl-") and entry.endswith(".zip"))
    ]
    names = [name for name in sys.modules if name.split(".")[0] in ("crawler", "pipelines")]
    for name in names:
        del sys.modules[name]
    return len(names)


def upload_code(client: Client) -> None:
    """Put this crawl's code at the front of the scheduler's and every worker's
    path, now and for workers that join later. The file is named by its content,
    so runs of the same code share it and a different version is a different file."""
    data = code_archive()
    name = f"crawl-{hashlib.sha256(data).hexdigest()[:12]}.zip"
    # Sent by value (crawl may not be importable there yet), so it must not be a
    # module-level function of crawl: a copy of it is.
    forget = types.FunctionType(_forget_crawl_modules.__code__, {"__builtins__": __builtins__})
    client.run_on_scheduler(forget)
    client.run(forget)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        # The scheduler unpickles each task (it names `crawler.fetching.worker.fetch_url`), so
        # it needs the code as much as the workers do.
        client.register_plugin(SchedulerUploadFile(str(path)), name=CODE_PLUGIN)
        client.register_plugin(UploadFile(str(path)), name=CODE_PLUGIN)
