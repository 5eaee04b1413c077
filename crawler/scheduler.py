"""The main process's side of a crawl: feed the pool, collect results, write records.

- The URL stream is read lazily and at most `max_in_flight` tasks are submitted
  and unfinished at once, so memory does not grow with the URL list. Each
  distinct URL is submitted once (the run remembers a 96-bit digest of each, in
  a compact table: `crawler.seen`).
- Results arrive in the pool's callback thread. A callback never raises: an
  exception there would kill the thread that delivers every later result.
- Whoever removes a task from `_in_flight` writes its one line: the callback, or
  the watchdog, which writes off a task whose worker died (the task board names it
  at once) or that outlived `watchdog_limit` (anything the board cannot see). A
  result that comes after its task was written off finds nothing and is dropped,
  so no URL is written twice.
- A signal (SIGINT, SIGTERM, SIGHUP) stops the run: nothing new is submitted, the
  workers are ended, and what finished is already in the file.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from crawler.backends import TaskPool
from crawler.report import Reporter, Stats
from crawler.results import Failure, Result
from crawler.seen import SeenUrls
from crawler.taskboard import TaskBoard
from crawler.urlfile import BadLine, Job
from crawler.worker import fetch_url, run_task
from pipelines import records_for
from pipelines.records import error_line
from pipelines.writer import OutputError, Writer

WATCH_EVERY = 0.5


class _Task(NamedTuple):
    job: Job
    submitted: float


@dataclass
class Outcome:
    stats: Stats
    interrupted_by: int | None = None  # the signal number that stopped the run
    output_error: OutputError | None = None


class Scheduler:
    def __init__(
        self,
        pool: TaskPool,
        writer: Writer,
        reporter: Reporter,
        *,
        max_in_flight: int,
        watchdog_limit: float,
        board: TaskBoard | None = None,
        task: Callable[..., Result] = fetch_url,
    ) -> None:
        self.pool = pool
        self.writer = writer
        self.reporter = reporter
        self.max_in_flight = max_in_flight
        self.watchdog_limit = watchdog_limit
        self.board = board
        self.task = task
        self.stats = Stats()
        self.written_off = 0
        self._in_flight: dict[int, _Task] = {}
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._stop_signal: int | None = None
        self._output_error: OutputError | None = None
        self._next_watch = 0.0
        self._counting = threading.Lock()

    # -- the main thread ----------------------------------------------------------
    def run(self, jobs: Iterable[Job | BadLine]) -> Outcome:
        seen = SeenUrls()
        for job in jobs:
            if self._stopping():
                break
            if isinstance(job, BadLine):
                self._bad_line(job)
                continue
            if not seen.add(job.url):
                continue
            if not self._wait(lambda: len(self._in_flight) < self.max_in_flight):
                break
            self._submit(job)
        self._wait(lambda: not self._in_flight)
        return Outcome(self.stats, self._stop_signal, self._output_error)

    def stop(self, signum: int) -> None:
        """Ask the run to stop (from a signal handler: sets a flag, nothing more)."""
        self._stop_signal = signum

    @property
    def clean(self) -> bool:
        """Whether every task ended on its own, so the pool can be joined."""
        return self.written_off == 0 and not self._in_flight

    def _stopping(self) -> bool:
        return self._stop_signal is not None or self._output_error is not None

    def _wait(self, ready: Callable[[], bool]) -> bool:
        """Wait until `ready()`, running the watchdog meanwhile; False if the run
        is stopping instead."""
        while True:
            with self._changed:
                if self._stopping():
                    return False
                if ready():
                    return True
                self._changed.wait(WATCH_EVERY / 2)
            self._watch()

    def _submit(self, job: Job) -> None:
        task_id = next(self._ids)
        with self._changed:
            self._in_flight[task_id] = _Task(job, time.monotonic())
        self.pool.apply_async(
            run_task,
            (self.task, job.url, task_id),
            callback=partial(self._on_result, task_id),
            error_callback=partial(self._on_error, task_id),
        )

    def _bad_line(self, bad: BadLine) -> None:
        reason = f"line {bad.line}: {bad.reason}"
        self._record(bad.text, [error_line(bad.text, reason)], reason, None)

    def _watch(self) -> None:
        now = time.monotonic()
        if now < self._next_watch:
            return
        self._next_watch = now + WATCH_EVERY
        lost = set(self.board.lost_tasks()) if self.board else set()
        with self._changed:
            expired = [
                task_id
                for task_id, task in self._in_flight.items()
                if task_id in lost or now - task.submitted > self.watchdog_limit
            ]
        for task_id in expired:
            reason = "worker lost" if task_id in lost else "worker lost (no answer in time)"
            if self._finish(task_id, Failure("", reason, 1), written_off=True):
                self.written_off += 1

    # -- the pool's callback thread (and the watchdog) ----------------------------
    def _on_result(self, task_id: int, result: Result) -> None:
        self._finish(task_id, result)

    def _on_error(self, task_id: int, error: BaseException) -> None:
        self._finish(task_id, Failure("", f"worker error: {type(error).__name__}", 1))

    def _finish(self, task_id: int, result: Result, written_off: bool = False) -> bool:
        """Write the records of a task, if nobody did yet. Never raises."""
        try:
            with self._changed:
                task = self._in_flight.pop(task_id, None)
            if task is None:
                return False  # written off already; a late answer is dropped
            url, parsers = task.job.url, task.job.parsers
            try:
                result = result._replace(url=url)
                lines, reason = records_for(result, parsers)
            except Exception as error:  # noqa: BLE001 - a pipeline bug costs this page, not the run
                reason = f"pipeline error: {type(error).__name__}"
                lines = [error_line(url, reason)]
            self._record(url, lines, reason, result)
            return True
        except BaseException as error:  # noqa: BLE001 - see the module docstring
            self._output_error = self._output_error or OutputError(f"internal error: {error!r}")
            return False
        finally:
            with self._changed:
                self._changed.notify_all()

    def _record(
        self, url: str, lines: list[str], reason: str | None, result: Result | None
    ) -> None:
        try:
            self.writer.append(lines)
        except OutputError as error:
            self._output_error = self._output_error or error
            return
        with self._counting:  # the callback thread and the main thread both count
            stats = self.stats
            if reason is None:
                stats.ok += 1
            else:
                stats.failed += 1
            if result is not None:
                stats.retried += getattr(result, "attempts", 1) > 1
                stats.bytes += getattr(result, "nbytes", 0)
        # The record is written: a reporter's or a terminal's trouble is not the run's.
        with contextlib.suppress(Exception):
            self.reporter.page(url, reason)
