"""The main process's side of a crawl: feed the pool, collect results, write records.

- The URL stream is read lazily and at most `max_in_flight` tasks are submitted
  and unfinished at once, so memory does not grow with the URL list. Each
  distinct URL is submitted once (the run remembers a 96-bit digest of each, in
  a compact table: `crawler.seen`).
- Politeness (`crawler.politeness`): URLs read wait in per-host queues and go
  out as each host's bound and delay allow, hosts taking turns. Memory is bounded
  twice: at most `lookahead` jobs are queued in all, and at most a tenth of that
  for one host; a host's jobs past its share are set aside on disk
  (`crawler.spill`) and read back once the URL file is done. So a host with a
  million URLs neither fills memory nor hides the hosts listed after it.
- robots.txt (`crawler.robots`): the first URL of a host holds that host and
  sends its `/robots.txt` to the pool as a task (before any queued page); the
  callback parses it here, in the main process, and releases the host. A URL
  robots.txt refuses gets its `error:` line without a request.
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
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from crawler.backends import TaskPool
from crawler.model import BadLine, Failure, Job, Page, Result
from crawler.politeness import HostQueues
from crawler.report import Reporter, Stats
from crawler.robots import ROBOTS_MAX_BYTES, Robots, interpret, robots_url
from crawler.run_report import error_kind
from crawler.seen import SeenUrls
from crawler.spill import Spill
from crawler.taskboard import TaskBoard
from crawler.urls import host_key
from crawler.worker import fetch_url, run_task
from pipelines import records_for
from pipelines.records import error_line
from pipelines.writer import OutputError, Writer

WATCH_EVERY = 0.5


class _Task(NamedTuple):
    job: Job
    submitted: float
    host: str = ""
    robots: bool = False  # the task fetches the host's robots.txt, not a listed URL


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
        hosts: HostQueues[Job] | None = None,
        robots_agent: str | None = None,
        lookahead: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        workers: int | None = None,
    ) -> None:
        """`hosts` holds the per-host bounds (none by default); `robots_agent` is the
        User-Agent matched against robots.txt, None to ignore robots.txt; `workers`
        (default `max_in_flight`) tells when some of them sit idle."""
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
        self.hosts: HostQueues[Job] = hosts or HostQueues(per_host=max_in_flight)
        self.robots_agent = robots_agent
        self.lookahead = max(1, lookahead)
        self.host_share = max(1, self.lookahead // 10)
        self.clock = clock
        self.workers = workers or max_in_flight
        self._robots: dict[str, Robots] = {}
        self._robots_wanted: deque[str] = deque()
        self._generation = 0  # counts finished tasks, so that no wake-up is missed
        self._last_host = ("", "")

    # -- the main thread ----------------------------------------------------------
    def run(self, jobs: Iterable[Job | BadLine]) -> Outcome:
        seen = SeenUrls()
        spill = Spill()
        source: Iterator[Job | BadLine] = iter(jobs)
        replaying = exhausted = False
        job: Job | BadLine | None = None  # read, not yet taken
        try:
            while not self._stopping():
                took = False
                generation = self._generation
                self._watch()  # at most every WATCH_EVERY, even while reading apace
                if not exhausted and self.hosts.queued < self.lookahead:
                    if job is None:
                        job = next(source, None)
                    if job is None and not replaying and spill.count:
                        source, replaying = spill.replay(), True
                        continue
                    if job is None:
                        exhausted = True
                    elif self._take(job, seen, None if replaying else spill):
                        job, took = None, True
                sent = self._dispatch()
                with self._changed:
                    if exhausted and not self.hosts.queued and not self._in_flight:
                        break
                if not (took or sent):
                    self._idle(generation)
        finally:
            spill.close()
        self._wait(lambda: not self._in_flight)
        return Outcome(self.stats, self._stop_signal, self._output_error)

    def _take(self, job: Job | BadLine, seen: SeenUrls, spill: Spill | None) -> bool:
        """Queue a job under its host (a bad line is answered at once). A host past its
        share sets the job aside in `spill`; with no spill (reading it back) the job
        waits: False means not taken yet."""
        if isinstance(job, BadLine):
            self._bad_line(job)
            return True
        if spill is not None and job.url in seen:  # a replayed job was deduplicated already
            return True
        if self._last_host[0] != job.url:  # a job that waits is looked at again and again
            self._last_host = (job.url, host_key(job.url))
        host = self._last_host[1]
        with self._changed:
            if self.hosts.queued_for(host) >= self.host_share:
                if spill is None:
                    return False
            else:
                if self.robots_agent is not None and not self.hosts.is_known(host):
                    self.hosts.hold(host)
                    self._robots_wanted.append(host)
                self.hosts.add(host, job, self.clock())
                if spill is not None:
                    seen.add(job.url)
                return True
        if spill.add(job):
            seen.add(job.url)
            return True
        return False

    def _dispatch(self) -> bool:
        """Submit what politeness allows while there is room in flight; robots.txt
        fetches go first. True if anything was sent or answered."""
        progressed = False
        while len(self._in_flight) < self.max_in_flight and not self._stopping():
            if self._robots_wanted:
                host = self._robots_wanted.popleft()
                self._submit(Job(0, robots_url(host), ()), host, robots=True)
                progressed = True
                continue
            now = self.clock()
            with self._changed:
                picked = self.hosts.pop_ready(now)
                if picked is not None:
                    host, job = picked
                    robots = self._robots.get(host)
                    refusal = robots.refusal(job.url, self.robots_agent or "") if robots else None
                    if refusal is None:
                        self.hosts.started(host, now)
                    else:
                        self.hosts.skipped(host, now)
            if picked is None:
                return progressed
            progressed = True
            if refusal is None:
                self._submit(job, host)
            else:
                self._record(job.url, [error_line(job.url, refusal)], refusal, None)
        return progressed

    def _idle(self, generation: int) -> None:
        """Wait for a result, a host's delay or the watchdog's turn. Time spent here
        with fewer tasks in flight than workers while URLs are queued (and no
        robots.txt is on its way) is time the per-host limits held workers back."""
        with self._changed:
            if self._stopping() or self._generation != generation:
                return  # something finished since the loop looked: look again first
            start = self.clock()
            timeout = WATCH_EVERY / 2
            ready_at = self.hosts.next_ready_at()
            if ready_at is not None:
                timeout = min(timeout, max(0.0, ready_at - start))
            held = (
                self.hosts.queued > 0
                and len(self._in_flight) < self.workers
                and not self._robots_wanted
                and not any(task.robots for task in self._in_flight.values())
            )
            self._changed.wait(timeout)
            if held:
                self.stats.held_seconds += self.clock() - start
        self._watch()

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

    def _submit(self, job: Job, host: str = "", robots: bool = False) -> None:
        task_id = next(self._ids)
        with self._changed:
            self._in_flight[task_id] = _Task(job, time.monotonic(), host, robots)
        args = (job.url, task_id, ROBOTS_MAX_BYTES) if robots else (job.url, task_id)
        self.pool.apply_async(
            run_task,
            (self.task, *args),
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
            if task.robots:
                self._robots_known(task.host, result)
                return True
            if task.host:
                with self._changed:
                    self.hosts.done(task.host, self.clock(), getattr(result, "throttled", False))
            url, parsers = task.job.url, task.job.parsers
            try:
                result = result._replace(url=url)
                lines, reason = records_for(result, parsers)
            except Exception as error:  # noqa: BLE001 - a pipeline bug costs this page, not the run
                reason = f"pipeline error: {type(error).__name__}"
                lines = [error_line(url, reason)]
                if not isinstance(result, (Page, Failure)):
                    result = None  # not what a task returns: nothing to count from it
            self._record(url, lines, reason, result)
            return True
        except BaseException as error:  # noqa: BLE001 - see the module docstring
            self._output_error = self._output_error or OutputError(f"internal error: {error!r}")
            return False
        finally:
            with self._changed:
                self._generation += 1
                self._changed.notify_all()

    def _robots_known(self, host: str, result: Result) -> None:
        """A host's robots.txt came back: decide here, then let its URLs go."""
        robots = interpret(result)
        delay = robots.crawl_delay(self.robots_agent or "")
        with self._changed:
            self._robots[host] = robots
            self.hosts.release(host, self.clock(), delay)

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
                stats.errors[error_kind(reason)] += 1
            if result is not None:
                stats.retried += getattr(result, "attempts", 1) > 1
                if getattr(result, "cached", False):
                    stats.unchanged += 1
                    stats.saved += result.nbytes
                else:
                    stats.bytes += getattr(result, "nbytes", 0)
        # The record is written: a reporter's or a terminal's trouble is not the run's.
        with contextlib.suppress(Exception):
            self.reporter.page(url, reason)
