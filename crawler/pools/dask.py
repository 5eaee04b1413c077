"""The `dask` backend: fetch tasks on a Dask cluster, behind the Pool's methods.

`DaskPool` gives a `distributed.Client` the `apply_async(fn, args, callback=,
error_callback=)`, `close`, `join` and `terminate` of `crawler.pools.base.TaskPool`,
so the scheduler, the pipelines and the writer are the same for every backend.

- Tasks travel in batches. A Dask task costs the scheduler, the client's event
  loop and the worker a few milliseconds whatever it does, about what a small
  page's fetch costs: one Dask task a fetch made a local cluster four times
  slower than the process pool. So `apply_async` puts its call in a buffer, and
  the buffer goes as Dask tasks (`run_batch`, which runs the calls one after
  the other on one worker thread and returns their outcomes as one list) when,
  in this order: it holds `batch` calls, the pool is closed, a batch came back
  (its thread is free), or the oldest call has waited `IDLE_LINGER` seconds
  while a cluster thread has room for a batch (the time the main process takes
  to add the rest of its burst of calls), `LINGER` seconds otherwise. Each thread
  is given `QUEUED` batches at once, one running and the next waiting on the
  worker, so that it goes on without waiting a trip to this process. A buffer
  sent while threads are idle is shared out between them. The main process
  keeps enough tasks in flight for two full batches a thread
  (`RunSettings.max_in_flight`).
- Results come back to this process a batch at a time: one collector thread
  takes finished futures from an `as_completed(with_results=True)` and calls
  each call's callback in the batch's order, as the Pool's result thread does. A
  future is dropped as soon as its callbacks ran, so Dask releases its result and
  memory stays flat.
- Batches are submitted with `pure=False`: the same URL in another run, or twice
  in one cluster's lifetime, is fetched again, never served from Dask's cache.
- A worker that dies takes its batch with it; Dask runs the whole batch again on
  another worker (up to the scheduler's `allowed-failures`, then it errs with
  `KilledWorker`, and each of its calls gets `TaskLost`: `error:<URL> worker
  lost`). The results of a batch come back whole or not at all, so a call that had
  finished before the death is run again and still calls back once.
- `terminate` stops delivering before it cancels anything, so a run that is
  interrupted writes no line for the tasks it abandons.
- Each worker gets crawl's settings when it joins (`CrawlWorkerSetup`, the
  counterpart of the process pool's initializer); each of its threads makes its
  own transport. A local cluster has `--threads` threads per worker.
- There is no per-task hard limit: ending a Dask worker is not this pool's to do.
  The fetch deadlines bound a task, and the main process's watchdog writes off
  anything past `watchdog_limit` (`reports_lost_tasks` is false), which counts the
  calls queued ahead in a batch.
- A local cluster's workers start as the process pool's do (`--start-method`,
  else the platform's default: forked on Linux up to Python 3.13), with what a
  worker imports for its first fetch already imported.
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
import importlib
import io
import itertools
import logging
import multiprocessing
import pickle
import tempfile
import threading
import time
import types
import uuid
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
from crawler.settings import DASK_BATCH, LOCAL_DASHBOARD, FetchSettings, RunSettings

CODE_PLUGIN = "crawl-code"  # fixed names: a later run replaces, never piles up
SETUP_PLUGIN = "crawl-worker-setup"
COLLECT_EVERY = 0.1  # how often the collector looks at a closing flag while idle
LINGER = 0.02  # the longest a call waits in the buffer for others to share its batch
IDLE_LINGER = 0.002  # the same while a cluster thread has room for another batch
QUEUED = 2  # batches a cluster thread is given at once: one running, the next waiting
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
    """A TaskPool whose tasks run on a Dask cluster, `batch` calls to a Dask task at
    most. `threads` is the number of tasks the cluster runs at once when the run
    starts."""

    reports_lost_tasks = False  # a task can hang on a worker nobody asks about

    def __init__(
        self,
        client: Client,
        cluster: LocalCluster | None = None,
        dashboard: bool = False,
        batch: int = DASK_BATCH,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.dashboard = dashboard
        self.threads = sum(client.nthreads().values())
        self.batch = max(1, batch)
        self._completed = as_completed(loop=client.loop, with_results=True, raise_errors=False)
        # The pool's state (the buffer, the calls not yet answered, the batches out),
        # held briefly by the caller, the collector and the flusher alike.
        self._lock = threading.Lock()
        self._flushable = threading.Condition(self._lock)
        self._calling = threading.RLock()  # held while a callback runs, and to stop delivering
        self._handlers: dict[int, _Handlers] = {}  # calls not yet answered, by id
        self._buffer: list[tuple[int, Callable, tuple, dict]] = []  # calls not yet sent
        self._buffered_since = 0.0
        self._batches: dict[str, list[int]] = {}  # the calls of each batch out, by its key
        self._ids = itertools.count(1)
        self._delivering = True
        self._closed = False
        self._collector = threading.Thread(
            target=self._collect, name="crawl-dask-results", daemon=True
        )
        self._collector.start()
        self._flusher = threading.Thread(target=self._linger, name="crawl-dask-send", daemon=True)
        self._flusher.start()

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
        with self._lock:
            if self._closed:
                raise ValueError("pool is closed")
            call_id = next(self._ids)
            self._handlers[call_id] = (callback or _ignore, error_callback)
            if not self._buffer:
                self._buffered_since = time.monotonic()
            self._buffer.append((call_id, func, args, kwds or {}))
            if len(self._buffer) >= self.batch:
                refused = self._send()
            else:
                refused = None
                self._flushable.notify()
        if refused:
            self._refuse(*refused)

    def close(self) -> None:
        """No more tasks; those submitted still finish (the buffer goes now)."""
        with self._lock:
            self._closed = True
            refused = self._send()
            self._flushable.notify()
        if refused:
            self._refuse(*refused)

    def join(self) -> None:
        """Wait for the submitted tasks' callbacks, then let the cluster go."""
        while self._collector.is_alive() and self._handlers:
            self._collector.join(COLLECT_EVERY)
        self._shut(cancel=False)

    def terminate(self) -> None:
        """Stop at once: no callback runs after this starts; unfinished tasks are
        cancelled and a cluster this pool started is shut down."""
        with self._lock:
            self._closed = True
        self._shut(cancel=True)

    # -- internals ------------------------------------------------------------------
    def _idle_threads(self) -> int:
        """Cluster threads with no batch of this pool (the caller holds the lock)."""
        return max(0, self.threads - len(self._batches))

    def _send(self) -> tuple[list[int], BaseException] | None:
        """Submit the buffer (the caller holds the lock): shared out evenly between
        the idle threads, if any, so that they start at once, else as one batch. A
        cluster that refuses it: the calls and the error, to be answered outside
        the lock."""
        if not self._buffer:
            return None
        calls, self._buffer = self._buffer, []
        parts = max(1, min(self._idle_threads(), len(calls)))
        size = -(-len(calls) // parts)
        refused: list[int] = []
        error: BaseException | None = None
        for start in range(0, len(calls), size):
            chunk = calls[start : start + size]
            ids = [call[0] for call in chunk]
            if error is None:
                try:
                    future = self.client.submit(
                        run_batch, [call[1:] for call in chunk], pure=False, key=_batch_key()
                    )
                except Exception as failure:  # noqa: BLE001 - a cluster gone for good: the tasks' lines say so
                    error = failure
            if error is not None:
                refused.extend(ids)
                continue
            self._batches[future.key] = ids
            self._completed.add(future)
        return (refused, error) if error is not None else None

    def _refuse(self, ids: list[int], error: BaseException) -> None:
        with self._lock:
            handlers = [self._handlers.pop(call_id, None) for call_id in ids]
        self._answer([(handler, False, error) for handler in handlers if handler])

    def _linger(self) -> None:
        """The flusher thread: a buffer goes as it is once it waited IDLE_LINGER
        while a cluster thread has room for it (time for the main process to add
        the rest of its burst of calls; the batch then waits on the worker, so the
        thread goes on without a trip to this process), or LINGER otherwise."""
        with self._lock:
            while self._delivering:
                if not self._buffer:
                    self._flushable.wait(COLLECT_EVERY)
                    continue
                linger = IDLE_LINGER if len(self._batches) < QUEUED * self.threads else LINGER
                due = self._buffered_since + linger - time.monotonic()
                if due > 0:
                    self._flushable.wait(due)
                    continue
                refused = self._send()
                if refused:
                    self._lock.release()
                    try:
                        self._refuse(*refused)
                    finally:
                        self._lock.acquire()

    def _shut(self, cancel: bool) -> None:
        with self._calling, self._lock:
            self._delivering = False
            self._handlers.clear()
            self._buffer.clear()
            self._flushable.notify()
        for thread in (self._collector, self._flusher):
            if thread is not threading.current_thread():
                thread.join(CLOSE_TIMEOUT)
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
        """The result thread: callbacks in the order batches finish. Never raises."""
        completed = self._completed
        while self._delivering:
            with completed.thread_condition:
                if not completed.has_ready():
                    completed.thread_condition.wait(COLLECT_EVERY)
            for future, result in completed.next_batch(block=False):
                self._deliver(future, result)
                future.release()

    def _deliver(self, future: distributed.Future, result: Any) -> None:
        """Answer each call of a finished batch; first, with the batch's thread now
        free, send what waits in the buffer."""
        with self._lock:
            ids = self._batches.pop(future.key, [])
            handlers = [self._handlers.pop(call_id, None) for call_id in ids]
            refused = self._send()
        if refused:
            self._refuse(*refused)
        if future.status == "finished" and isinstance(result, list) and len(result) == len(ids):
            pairs = zip(handlers, result, strict=True)
            outcomes = [(handler, ok, value) for handler, (ok, value) in pairs]
        else:
            if future.status == "cancelled":
                error: BaseException = ClusterLost(str(result))
            elif future.status == "finished":
                error = RuntimeError(f"a batch of {len(ids)} came back as {type(result).__name__}")
            else:
                error = _exception_of(result)
            outcomes = [(handler, False, error) for handler in handlers]
        self._answer([outcome for outcome in outcomes if outcome[0] is not None])

    def _answer(self, outcomes: list[tuple[_Handlers, bool, Any]]) -> None:
        """Run the callbacks, one at a time, unless the pool stopped delivering."""
        with self._calling:
            for (callback, error_callback), ok, value in outcomes:
                if not self._delivering:
                    return
                try:
                    if ok:
                        callback(value)
                    elif error_callback is not None:
                        error_callback(value)
                except Exception:  # like the Pool: a raising callback loses one result
                    logging.getLogger(__name__).exception("callback failed")


_Handlers = tuple[Callable[[Any], None], Callable[[BaseException], None] | None]


def run_batch(calls: list[tuple[Callable, tuple, dict]]) -> list[tuple[bool, Any]]:
    """On a worker: run each call in turn; each one's outcome, in order, as
    `(True, what it returned)` or `(False, what it raised)`. An exception that
    cannot travel back is sent as a RuntimeError naming it: one call's odd error
    must not lose the batch's other results."""
    outcomes: list[tuple[bool, Any]] = []
    for func, args, kwds in calls:
        try:
            outcomes.append((True, func(*args, **kwds)))
        except Exception as error:  # noqa: BLE001 - handed back, as apply_async's error
            try:
                pickle.dumps(error)
            except Exception:  # noqa: BLE001
                error = RuntimeError(f"{type(error).__name__}: {error}")
            outcomes.append((False, error))
    return outcomes


def _batch_key() -> str:
    return f"crawl-batch-{uuid.uuid4().hex}"


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
            method = _start_method(settings)
            _preload_worker_modules(settings.fetch)
            with dask.config.set({"distributed.worker.multiprocessing-method": method}):
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


def _start_method(settings: RunSettings) -> str:
    """How the local cluster starts its worker processes: `--start-method`, else the
    platform's default, as the process pool does. Where that is `fork`, a worker
    starts in a fraction of a second with everything this process imported; a fork
    server (Dask's) first imports Dask and its optional packages, about a second
    more; `spawn` imports everything in each worker."""
    return settings.start_method or multiprocessing.get_start_method()


def _preload_worker_modules(settings: FetchSettings) -> None:
    """Import here what a worker imports for its first fetch, so that forked workers
    start with it rather than each importing it (the process pool does the same)."""
    from crawler.fetching.worker import modules_to_preload

    for module in modules_to_preload(settings):
        importlib.import_module(module)


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
