"""The process pool: worker processes, each with a channel of its own to the main process.

The promise: a worker killed at any instant (idle, mid-task, half-way through
reading its task or sending its result back) takes only its own tasks with it,
the main process knows which within half a second, and the run goes on.

- Each worker has one socket pair (a duplex `multiprocessing.Pipe` is one) to the
  main process, and nothing else is shared: no lock, no queue. The stock
  `multiprocessing.Pool` has every worker take its next task from one pipe under
  one lock, which a worker killed while waiting holds for ever (CPython #96062).
- The main process keeps the tasks not yet sent in its own memory, gives each to
  the worker with the most free slots (the lowest-numbered on a tie), sends it down
  that worker's channel, and notes which worker holds which task since when. A
  worker holds at most `threads` tasks, so each task it holds is running. (One
  more queued in each worker, to spare it the round trip, made no measurable
  difference in benchmarks/run.py, at 0 or 50 ms latency.)
- One delivery thread waits (`multiprocessing.connection.wait`) on every channel,
  every worker's sentinel and a wake-up socket at once. It reads whatever bytes a
  channel has into that worker's buffer, so a worker that stops half-way through
  a 5 MB result holds up nobody else, and it runs the callbacks, one at a time, in
  the order results came.
- Each round, the delivery thread decides in this order: the results read; the
  workers gone (sentinel ready, end of file, a broken message): a task they held
  is sent once more to another worker, and gets `TaskLost("worker lost")` when
  its worker dies a second time, so a page that kills every worker it meets
  costs two workers, not the run; a task running past `task_limit` has its worker
  killed and gets `TaskLost("timed out (worker ended after N s)")`, that worker's
  other tasks going back as if it had died; replacements for the workers gone;
  the free slots filled; then the callbacks (the slots first, so that workers
  fetch while the main process parses).
- Workers (`crawler.pools.process_worker`) ignore SIGINT and SIGHUP and exit
  within a second of the main process's death, however it died. With `threads` 1
  a worker runs its task on its main thread, where a timer signal can interrupt a
  blocking read; with more, each task runs in one of the worker's threads.
- `terminate` kills the workers (SIGKILL: it also ends a stopped or stuck one) and
  waits for them a bounded time; no callback runs after it started.

Works under `fork`, `spawn` and `forkserver`. Under `fork` a new worker is a copy
of the main process, with every file it has open: it closes the other workers'
channels and the wake-up socket first thing, so that only the main process holds
them.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import pickle
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.context import BaseContext
from typing import Any

from crawler.pools.base import WORKER_LOST, BackendError, TaskLost, timed_out
from crawler.pools.process_worker import ERROR, HEADER, PROTOCOL, RESULT, TASK, worker_main

LOSSES_ALLOWED = 1  # a task whose worker dies runs once more; the second death loses it
TICK = 0.25  # the longest the delivery thread waits: it checks the hard limits this often
READ_SIZE = 256 * 1024
RETRY_START = 1.0  # seconds between attempts to start a worker after one failed
GIVE_UP_START = 10.0  # with no worker alive, the queued tasks are lost after this long
STOP_WAIT = 1.0  # how long terminate and join wait for a worker to exit before killing
_RUNNING, _CLOSED, _TERMINATED = "running", "closed", "terminated"


class _Task:
    __slots__ = ("callback", "error_callback", "frame", "id", "losses", "started")

    def __init__(self, task_id: int, frame: bytes, callback, error_callback) -> None:
        self.id = task_id
        self.frame = frame
        self.callback = callback
        self.error_callback = error_callback
        self.losses = 0
        self.started = 0.0  # when it was sent to its worker, which runs it at once


class _Worker:
    __slots__ = ("buffer", "channel", "process", "running", "sentinel")

    def __init__(self, process: multiprocessing.process.BaseProcess, channel: socket.socket):
        self.process = process
        self.channel = channel
        self.sentinel = process.sentinel
        self.running: dict[int, _Task] = {}  # in the order sent
        self.buffer = bytearray()  # bytes of a result not yet whole


class ProcessPool:
    """`workers` processes of `threads` fetching threads each; `initializer(*initargs)`
    runs in each worker before its first task. `task_limit` (seconds, None for
    none) is the hard limit of one task, counted from when it starts running."""

    reports_lost_tasks = True

    def __init__(
        self,
        workers: int,
        *,
        threads: int = 1,
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
        task_limit: float | None = None,
        context: BaseContext | None = None,
    ) -> None:
        self._size = max(1, workers)
        self.threads = max(1, threads)
        self._initializer = initializer
        self._initargs = initargs
        self._task_limit = task_limit
        self._context = context or multiprocessing.get_context()
        self._fork = self._context.get_start_method() == "fork"
        self._lock = threading.Lock()  # the pool's state, between callers and the thread
        self._calling = threading.RLock()  # held while a callback runs
        self._delivering = True
        self._state = _RUNNING
        self._ids = itertools.count(1)
        self._pending: collections.deque[_Task] = collections.deque()
        self._refused: list[tuple[_Task, int, Any]] = []  # tasks that could not be pickled
        self._workers: list[_Worker | None] = [None] * self._size
        self._corpses: list[multiprocessing.process.BaseProcess] = []
        self._start_failed: float | None = None  # since when no worker could be started
        self._next_start = 0.0
        self._scratch = bytearray(READ_SIZE)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        try:
            for index in range(self._size):
                self._workers[index] = self._start_worker(index)
        except OSError as error:
            self._kill_all()
            raise BackendError(f"cannot start worker processes: {error}") from None
        self._thread = threading.Thread(target=self._deliver, name="crawl-pool", daemon=True)
        self._thread.start()

    # -- the pool's methods, from any thread of the main process ---------------------------
    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple = (),
        kwds: dict | None = None,
        callback: Callable[[Any], None] | None = None,
        error_callback: Callable[[BaseException], None] | None = None,
    ) -> None:
        try:
            payload = pickle.dumps((func, args, kwds or {}), PROTOCOL)
        except Exception as error:  # noqa: BLE001 - said through error_callback, like a result
            payload, refused = b"", error
        else:
            refused = None
        with self._lock:
            if self._state != _RUNNING:
                raise ValueError("pool is not running")
            task_id = next(self._ids)
            task = _Task(task_id, HEADER.pack(len(payload), task_id, TASK) + payload, callback,
                         error_callback)  # fmt: skip
            if refused is not None:
                self._refused.append((task, ERROR, refused))
            else:
                self._pending.append(task)
                self._send_pending(time.monotonic())
        if refused is not None:
            self._wake()  # its error_callback runs on the delivery thread, as every callback

    def close(self) -> None:
        """No more tasks; those accepted still run and call back."""
        with self._lock:
            if self._state == _RUNNING:
                self._state = _CLOSED
        self._wake()

    def join(self) -> None:
        """After `close`: wait until every task has called back, then let the
        workers go (each is killed if it does not exit within STOP_WAIT)."""
        if self._state == _RUNNING:
            raise ValueError("pool is still running")
        self._thread.join()
        self._stop_workers(kill=False)

    def terminate(self) -> None:
        """Stop now: nothing queued is sent, no callback runs after this started, and
        the workers are killed. Bounded, whatever state the workers are in."""
        with self._lock:
            self._state = _TERMINATED
            self._pending.clear()
        with self._calling:
            self._delivering = False
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(STOP_WAIT)
        self._stop_workers(kill=True)

    # -- starting and stopping workers -------------------------------------------------
    def _start_worker(self, index: int) -> _Worker:
        ours, theirs = socket.socketpair()
        try:
            # A forked worker inherits every file of this process: it closes these.
            inherited = (ours, self._wake_r, self._wake_w) if self._fork else ()
            if self._fork:
                inherited += tuple(w.channel for w in self._workers if w is not None)
            process = self._context.Process(
                target=worker_main,
                args=(theirs, self.threads, self._initializer, self._initargs, inherited),
                name=f"crawl-worker-{index + 1}",
                daemon=True,
            )
            process.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return _Worker(process, ours)

    def _stop_workers(self, kill: bool) -> None:
        with self._lock:
            workers = [w for w in self._workers if w is not None]
            self._workers = [None] * self._size
            processes = [w.process for w in workers] + self._corpses
            self._corpses = []
        for worker in workers:
            worker.channel.close()  # end of file: an idle worker exits on its own
        if kill:
            for process in processes:
                _kill(process)
        give_up = time.monotonic() + STOP_WAIT
        for process in processes:
            process.join(max(0.0, give_up - time.monotonic()))
            if process.exitcode is None:
                _kill(process)
                process.join(0.1)
        for end in (self._wake_r, self._wake_w):
            end.close()

    def _kill_all(self) -> None:
        for worker in self._workers:
            if worker is not None:
                _kill(worker.process)
                worker.process.join(STOP_WAIT)
                worker.channel.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full: a wake-up is pending anyway; closed: over
            self._wake_w.send(b"\0")

    # -- the delivery thread -----------------------------------------------------------
    def _deliver(self) -> None:
        """The delivery thread. Should it ever fail, every task it holds is lost (and
        said so), rather than waited for by a scheduler that has no watchdog here."""
        try:
            self._deliver_rounds()
        except BaseException:
            logging.getLogger(__name__).exception("the pool's delivery thread failed")
            with self._lock:
                self._state = _TERMINATED
                tasks = list(self._pending) + [task for task, _, _ in self._refused]
                self._pending.clear()
                self._refused.clear()
                for worker in self._workers:
                    if worker is not None:
                        tasks += worker.running.values()
                        worker.running.clear()
            self._call([(task, ERROR, TaskLost(WORKER_LOST)) for task in tasks])

    def _deliver_rounds(self) -> None:
        """Read results, bury dead workers, enforce the hard limit, start replacements,
        fill free slots, run callbacks; until terminated, or closed with nothing left."""
        while True:
            with self._lock:
                if self._state == _TERMINATED:
                    return
                workers = [w for w in self._workers if w is not None]
                if self._state == _CLOSED and self._idle(workers):
                    return
            waitables: list[Any] = [self._wake_r]
            for worker in workers:
                waitables += (worker.channel, worker.sentinel)
            ready = set(multiprocessing.connection.wait(waitables, TICK))
            calls: list[tuple[_Task, int, Any]] = []
            with self._lock:
                if self._state == _TERMINATED:
                    return
                now = time.monotonic()
                if self._wake_r in ready:
                    self._drain_wake()
                calls += self._refused
                self._refused.clear()
                for index, worker in enumerate(self._workers):
                    if worker is None:
                        continue
                    whole = True
                    if worker.channel in ready:
                        whole = self._read(worker, calls)
                    if not whole or worker.sentinel in ready:
                        self._bury(index, calls)
                self._enforce_limit(calls, now)
                self._replace(calls, now)
                self._send_pending(now)
            self._call(calls)

    def _idle(self, workers: list[_Worker]) -> bool:
        """Nothing left to send, to run or to call back."""
        return not (self._pending or self._refused or any(worker.running for worker in workers))

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    def _read(self, worker: _Worker, calls: list) -> bool:
        """Take the whole results out of what `worker`'s channel has (it is ready to
        read: this does not block); False if the channel ended or failed."""
        try:
            count = worker.channel.recv_into(self._scratch, READ_SIZE)
        except OSError:
            return False
        if count == 0:
            return False
        chunk = memoryview(self._scratch)[:count]
        if worker.buffer:
            worker.buffer += chunk
            data: bytearray | memoryview = worker.buffer
        else:
            data = chunk
        offset, size = 0, len(data)
        while size - offset >= HEADER.size:
            length, task_id, kind = HEADER.unpack_from(data, offset)
            end = offset + HEADER.size + length
            if end > size:
                break
            task = worker.running.pop(task_id, None)
            if task is not None:
                calls.append((task, kind, bytes(data[offset + HEADER.size : end])))
            offset = end
        if data is worker.buffer:
            del worker.buffer[:offset]
        elif offset < size:
            worker.buffer = bytearray(data[offset:])
        return True

    def _bury(self, index: int, calls: list, overdue: tuple[_Task, ...] = ()) -> None:
        """Worker `index` is gone, or is ended because the `overdue` tasks ran past
        the hard limit: what it finished is taken, what it held is sent again or lost."""
        worker = self._workers[index]
        assert worker is not None
        while _readable(worker.channel) and self._read(worker, calls):
            pass  # results it sent before it died still count
        self._workers[index] = None
        _kill(worker.process)
        self._corpses.append(worker.process)
        worker.channel.close()
        again = []
        for task in worker.running.values():
            if task in overdue:
                calls.append((task, ERROR, timed_out(self._task_limit or 0)))
                continue
            task.losses += 1
            if task.losses > LOSSES_ALLOWED:
                calls.append((task, ERROR, TaskLost(WORKER_LOST)))
            else:
                again.append(task)
        self._pending.extendleft(reversed(again))  # first in the queue, in their order

    def _enforce_limit(self, calls: list, now: float) -> None:
        if self._task_limit is None:
            return
        for index, worker in enumerate(self._workers):
            if worker is None:
                continue
            overdue = tuple(
                task for task in worker.running.values() if now - task.started > self._task_limit
            )
            if overdue:
                self._bury(index, calls, overdue)

    def _replace(self, calls: list, now: float) -> None:
        """Start a worker in each empty place, unless the pool is winding down; with
        none alive and none starting for GIVE_UP_START, the queued tasks are lost."""
        self._corpses = [process for process in self._corpses if _reaped(process)]
        wanted = self._state == _RUNNING or bool(self._pending)
        if not wanted or now < self._next_start:
            return
        for index, worker in enumerate(self._workers):
            if worker is not None:
                continue
            try:
                self._workers[index] = self._start_worker(index)
                self._start_failed = None
            except OSError:
                self._start_failed = self._start_failed or now
                self._next_start = now + RETRY_START
                break
        alive = any(worker is not None for worker in self._workers)
        if not alive and self._start_failed and now - self._start_failed > GIVE_UP_START:
            while self._pending:
                calls.append((self._pending.popleft(), ERROR, TaskLost(WORKER_LOST)))

    def _send_pending(self, now: float) -> None:
        """Fill the free slots, the emptiest worker first."""
        while self._pending:
            best, free = None, 0
            for worker in self._workers:
                if worker is not None and self.threads - len(worker.running) > free:
                    best, free = worker, self.threads - len(worker.running)
            if best is None:
                return
            task = self._pending.popleft()
            try:
                best.channel.sendall(task.frame)
            except OSError:  # the worker is gone: the delivery thread will bury it
                self._pending.appendleft(task)
                with contextlib.suppress(OSError):
                    best.channel.shutdown(socket.SHUT_RDWR)
                return
            task.started = now
            best.running[task.id] = task

    def _call(self, calls: list[tuple[_Task, int, Any]]) -> None:
        for task, kind, payload in calls:
            try:
                value = pickle.loads(payload) if isinstance(payload, bytes) else payload
            except Exception as error:  # noqa: BLE001 - a result that cannot be rebuilt here
                kind, value = ERROR, error
            handler = task.callback if kind == RESULT else task.error_callback
            if handler is None:
                continue
            with self._calling:
                if not self._delivering:
                    return
                try:
                    handler(value)
                except Exception:  # like the Pool: a raising callback loses one result
                    logging.getLogger(__name__).exception("callback failed")


def _readable(channel: socket.socket) -> bool:
    return bool(multiprocessing.connection.wait([channel], 0))


def _kill(process: multiprocessing.process.BaseProcess) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):  # gone, or not started
        if process.exitcode is None:
            process.kill()


def _reaped(process: multiprocessing.process.BaseProcess) -> bool:
    """False once the process has exited and been waited for (join(0) reaps it)."""
    process.join(0)
    return process.exitcode is None
