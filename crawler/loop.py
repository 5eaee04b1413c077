"""The dispatch loop: the main process's side of a crawl. It feeds the pool from
the frontier and hands each result to `crawler.results`, which writes its lines.

- What to fetch next is the frontier's (`crawler.frontier`): dedupe, per-host
  queues and politeness, the spill to disk, the robots gate. The loop reads the
  URL file lazily, only while the frontier has room, and keeps at most
  `max_in_flight` tasks submitted and unfinished, so memory does not grow with
  the URL list or with what is found.
- Results arrive in the pool's callback thread; what a finished page leads to
  (records, links, sitemaps, cookies, and the journal's order) is
  `crawler.results`'. The main thread is woken once the frontier has freed
  the task's host, before the page's lines are made, so that the next fetch
  does not wait for the parsers. A callback never raises: an exception there
  would kill the thread that delivers every later result.
- Whoever removes a task from `_in_flight` hands on its result, so its one line is
  written once: the callback, or the watchdog. A pool that loses a task says so
  through the error callback (`crawler.pools.TaskLost`, whose text is the line's
  reason); where a pool cannot know (Dask), the watchdog writes off a task that
  outlived `watchdog_limit` (None: no watchdog). A result that comes after its
  task was written off finds nothing and is dropped, so no URL is written twice.
- A signal (SIGINT, SIGTERM, SIGHUP) stops the run: nothing new is submitted, the
  workers are ended, and what finished is already in the file.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from crawler.fetching.credentials import Credentials
from crawler.fetching.worker import fetch_url, run_task
from crawler.frontier import ROBOTS, Fetch, Frontier, Refused
from crawler.frontier.politeness import HostQueues
from crawler.model import BadLine, Failure, Job, Result
from crawler.pools.base import TaskLost, TaskPool
from crawler.progress_log import Progress
from crawler.report import Stats
from crawler.results import Outputs, Results
from pipelines.writer import OutputError, Writer

if TYPE_CHECKING:
    from crawler.identity import Identity

WATCH_EVERY = 0.5
READ_BATCH = 64  # lines of the URL file read between two looks at what can be sent
# While a run goes, a thread that wants the interpreter lock gets it within this long
# (Python's default: 5 ms). The pool's callback thread parses pages while the main
# thread waits to send the next fetch: at 50 ms an answer, 5 ms more before a freed
# slot is filled cost a tenth of the rate.
SWITCH_INTERVAL = 0.0005


class Limits(NamedTuple):
    """How much the loop keeps going at once: `max_in_flight` tasks submitted and
    unfinished; `watchdog_limit`, the seconds after which a task with no answer is
    written off (None: the pool reports its lost tasks, no watchdog); `workers`
    (default `max_in_flight`), the tasks that can run at once, which tells when
    some sit idle."""

    max_in_flight: int
    watchdog_limit: float | None = None
    workers: int | None = None


class _Task(NamedTuple):
    fetch: Fetch
    submitted: float


@dataclass
class Outcome:
    stats: Stats
    interrupted_by: int | None = None  # the signal number that stopped the run
    output_error: OutputError | None = None


class DispatchLoop:
    def __init__(
        self,
        pool: TaskPool,
        outputs: Outputs,
        limits: Limits,
        *,
        frontier: Frontier | None = None,
        task: Callable[..., Result] = fetch_url,
        identity: Identity | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`outputs`: where the lines go (`crawler.results.Outputs`); `frontier`
        decides what is fetched (by default one without politeness but
        `max_in_flight` a host); `task` is what the pool runs for a URL;
        `identity` gives each task the headers and cookies bound to its site and
        keeps the cookies sites set (`crawler.identity`)."""
        self.pool = pool
        self.limits = limits
        self.task = task
        self.frontier = frontier or Frontier(HostQueues(per_host=limits.max_in_flight))
        self.identity = identity
        self.clock = clock
        self._changed = threading.Condition()  # guards the frontier and the table below
        self.results = Results(
            self.frontier, outputs, self._changed, clock, identity, freed=self._freed
        )
        self.stats = self.results.stats
        self.written_off = 0
        self._in_flight: dict[int, _Task] = {}
        self._finishing = 0  # results being handled: they may still add URLs
        self._ids = itertools.count(1)
        self._stop_signal: int | None = None
        self._output_error: OutputError | None = None
        self._next_watch = 0.0
        self._generation = 0  # counts finished tasks, so that no wake-up is missed

    @property
    def writer(self) -> Writer:
        """The writer of db.txt."""
        return self.results.outputs.writer

    # -- the main thread ----------------------------------------------------------
    def run(self, jobs: Iterable[Job | BadLine]) -> Outcome:
        source: Iterator[Job | BadLine] = iter(jobs)
        exhausted = False
        job: Job | BadLine | None = None  # read, not yet taken
        frontier = self.frontier
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL))
        try:
            while not self._stopping():
                took = False
                generation = self._generation
                self.watch()  # at most every WATCH_EVERY, even while reading apace
                for _ in range(READ_BATCH):  # reading is cheap: a batch between dispatches
                    with self._changed:
                        if exhausted or not frontier.wants_listed():
                            break
                    if job is None:
                        job = next(source, None)
                    if job is None:
                        exhausted = True
                    elif self._take(job):
                        job, took = None, True
                    else:
                        break  # no room for it yet
                sent = self._dispatch()
                with self._changed:
                    idle = not self._in_flight and not self._finishing
                    if exhausted and idle and not frontier.pending():
                        break
                if not (took or sent):
                    self._idle(generation)
            self._wait(lambda: not self._in_flight and not self._finishing)
        finally:
            sys.setswitchinterval(switch_interval)
            with self._changed:
                frontier.close()
                self.stats.found = frontier.found
        return Outcome(self.stats, self._stop_signal, self._output_error)

    def _take(self, job: Job | BadLine) -> bool:
        """Hand a line of the URL file to the frontier (a bad line is answered at
        once); False means not taken yet: offer it again."""
        if isinstance(job, BadLine):
            self._answer(self.results.bad_line, job)
            return True
        with self._changed:
            return self.frontier.add_listed(job, self.clock())

    def _dispatch(self) -> bool:
        """Submit what the frontier allows while there is room in flight; robots.txt
        fetches go first. True if anything was sent or answered."""
        progressed = False
        while len(self._in_flight) < self.limits.max_in_flight and not self._stopping():
            with self._changed:
                ready = self.frontier.next_ready(self.clock())
            if ready is None:
                return progressed
            progressed = True
            if isinstance(ready, Refused):
                self._answer(self.results.refused, ready)
            else:
                self._submit(ready)
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
            ready_at = self.frontier.next_ready_at()
            if ready_at is not None:
                timeout = min(timeout, max(0.0, ready_at - start))
            held = (
                self.frontier.queued > 0
                and len(self._in_flight) < (self.limits.workers or self.limits.max_in_flight)
                and not self.frontier.robots_wanted()
                and not any(task.fetch.kind == ROBOTS for task in self._in_flight.values())
            )
            self._changed.wait(timeout)
            if held:
                self.stats.held_seconds += self.clock() - start
        self.watch()

    def progress(self) -> Progress:
        """Where the run stands, for the progress lines (`crawler.progress_log`)."""
        with self._changed:
            frontier, stats = self.frontier, self.stats
            in_flight, waiting, found = len(self._in_flight), frontier.waiting, frontier.found
            slowed = tuple(frontier.hosts.slowed_now(self.clock()))
        return Progress(stats.ok + stats.failed, stats.failed, in_flight, waiting, found, slowed)

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
            self.watch()

    def _submit(self, fetch: Fetch) -> None:
        task_id = next(self._ids)
        credentials = self.identity.for_fetch(fetch.url) if self.identity is not None else None
        with self._changed:
            self._in_flight[task_id] = _Task(fetch, self.clock())
        self.pool.apply_async(
            run_task,
            (self.task, fetch.url, task_id, *_task_extras(fetch, credentials)),
            callback=partial(self._on_result, task_id),
            error_callback=partial(self._on_error, task_id),
        )

    def _answer(self, answer: Callable[[object], None], what: object) -> None:
        """A refused URL or a bad line answered from this thread: a db.txt that
        cannot take it stops the run."""
        try:
            answer(what)
        except OutputError as error:
            self._output_error = self._output_error or error

    def watch(self) -> None:
        """Write off the tasks in flight longer than `watchdog_limit`, each with
        its `worker lost (no answer in time)` line; the run calls this at most
        every WATCH_EVERY seconds."""
        now = self.clock()
        limit = self.limits.watchdog_limit
        if limit is None or now < self._next_watch:
            return
        self._next_watch = now + WATCH_EVERY
        with self._changed:
            expired = [
                task_id for task_id, task in self._in_flight.items() if now - task.submitted > limit
            ]
        for task_id in expired:
            lost = Failure("", "worker lost (no answer in time)", 1)
            if self._finish(task_id, lost):
                self.written_off += 1

    # -- the pool's callback thread (and the watchdog) ----------------------------
    def _on_result(self, task_id: int, result: Result) -> None:
        self._finish(task_id, result)

    def _freed(self) -> None:
        """A host is free again (under `_changed`): the main thread looks at what it
        can send now, not once the page's lines are written."""
        self._generation += 1
        self._changed.notify_all()

    def _on_error(self, task_id: int, error: BaseException) -> None:
        """A task the pool lost reads as the pool says (`worker lost`, `timed out
        (worker ended after N s)`); anything else the task raised, by its type."""
        if isinstance(error, TaskLost):
            reason = str(error)
        else:
            reason = f"worker error: {type(error).__name__}"
        self._finish(task_id, Failure("", reason, 1))

    def _finish(self, task_id: int, result: Result | object) -> bool:
        """Hand a task's result on (`crawler.results`), if nobody did yet; False
        if it was written off already. Never raises."""
        try:
            with self._changed:
                task = self._in_flight.pop(task_id, None)
                if task is None:
                    return False  # written off already; a late answer is dropped
                self._finishing += 1
            try:
                self.results.finished(task.fetch, result)  # type: ignore[arg-type]
            except OutputError as error:
                self._output_error = self._output_error or error
            finally:
                with self._changed:
                    self._finishing -= 1
            return True
        except BaseException as error:  # noqa: BLE001 - see the module docstring
            self._output_error = self._output_error or OutputError(f"internal error: {error!r}")
            return False
        finally:
            with self._changed:
                self._generation += 1
                self._changed.notify_all()


def _task_extras(fetch: Fetch, credentials: Credentials | None = None) -> tuple:
    """The task's arguments after (url, task_id), as short as they can be: a listed
    URL's fetch in a run that follows no links is called as it always was. A
    followed page no parser reads ends with a `False`: its text is not sent back."""
    whole = (fetch.max_bytes, fetch.policy, fetch.raw, credentials, fetch.links, fetch.judge)
    if fetch.judge is not None:  # the worker judges its links too
        # and, when nothing here reads the page's text, sends it back without it
        return whole if fetch.text else (*whole, False)
    if not fetch.links:  # a page at the depth limit: the worker takes no links
        return whole[:5]
    if credentials is not None:
        return (fetch.max_bytes, fetch.policy, fetch.raw, credentials)
    if fetch.raw:
        return (fetch.max_bytes, fetch.policy, True)
    if fetch.policy is not None:
        return (fetch.max_bytes, fetch.policy)
    return () if fetch.max_bytes is None else (fetch.max_bytes,)
