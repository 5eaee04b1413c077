"""The dispatch loop: the main process's side of a crawl. It feeds the pool from
the frontier, collects results, and writes records.

- What to fetch next is the frontier's (`crawler.frontier`): dedupe, per-host
  queues and politeness, the spill to disk, the robots gate, and which found links
  and sitemap entries to take. The loop reads the URL file lazily, only while the
  frontier has room, and keeps at most `max_in_flight` tasks submitted and
  unfinished, so memory does not grow with the URL list or with what is found.
- Results arrive in the pool's callback thread: (with `--depth`) the page's links
  are extracted (`crawler.page.links`) and handed to the frontier, and a
  sitemap's entries (`crawler.frontier.sitemaps`); then its records are written. A callback never
  raises: an exception there would kill the thread that delivers every later
  result.
- Whoever removes a task from `_in_flight` writes its one line: the callback, or
  the watchdog. A pool that loses a task says so through the error callback
  (`crawler.pools.TaskLost`, whose text is the line's reason); where a pool cannot
  know (Dask), the watchdog writes off a task that outlived `watchdog_limit`
  (None: no watchdog). A result that comes after its task was written off finds
  nothing and is dropped, so no URL is written twice.
- A signal (SIGINT, SIGTERM, SIGHUP) stops the run: nothing new is submitted, the
  workers are ended, and what finished is already in the file.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple, TextIO

from crawler.fetching.credentials import Credentials
from crawler.fetching.worker import fetch_url, run_task
from crawler.frontier import ROBOTS, SITEMAP, Entry, Fetch, Frontier, Refused
from crawler.frontier.politeness import HostQueues
from crawler.frontier.sitemaps import read_sitemap
from crawler.identity import Identity
from crawler.model import BadLine, Failure, Job, Link, Page, Result
from crawler.page.json_links import json_links
from crawler.page.jsondoc import NotJSON
from crawler.page.links import NO_LINKS, PageLinks, extract_links, with_more
from crawler.pools.base import TaskLost, TaskPool
from crawler.progress_log import Progress
from crawler.report import Reporter, Stats
from crawler.run_report import error_kind
from pipelines import parse_page, records_for
from pipelines.parsers import ParserPage
from pipelines.records import error_line, record_key
from pipelines.writer import OutputError, Writer

WATCH_EVERY = 0.5
READ_BATCH = 64  # lines of the URL file read between two looks at what can be sent


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
        writer: Writer,
        reporter: Reporter,
        *,
        max_in_flight: int,
        watchdog_limit: float | None,
        task: Callable[..., Result] = fetch_url,
        hosts: HostQueues[Entry] | None = None,
        robots_agent: str | None = None,
        lookahead: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        workers: int | None = None,
        frontier: Frontier | None = None,
        agent: str = "crawl",
        rejected_log: TextIO | None = None,
        identity: Identity | None = None,
    ) -> None:
        """`frontier` decides what is fetched (by default one built from `hosts`,
        the per-host bounds, `robots_agent`, the User-Agent matched against
        robots.txt or None to ignore it, and `lookahead`); `workers` (default
        `max_in_flight`) tells when some of them sit idle; `agent` is our token in
        `<meta name=...>` and X-Robots-Tag; `rejected_log` gets a line per link
        not followed; `identity` gives each task the headers and cookies bound
        to its site and keeps the cookies sites set (`crawler.identity`)."""
        self.pool = pool
        self.writer = writer
        self.reporter = reporter
        self.max_in_flight = max_in_flight
        self.watchdog_limit = watchdog_limit
        self.task = task
        self.frontier = frontier or Frontier(
            hosts or HostQueues(per_host=max_in_flight),
            robots_agent=robots_agent,
            lookahead=lookahead,
        )
        self.agent = agent
        self.rejected_log = rejected_log
        self.identity = identity
        self.stats = Stats(following=self.frontier.following, dropped=self.frontier.dropped)
        self.written_off = 0
        self._in_flight: dict[int, _Task] = {}
        self._finishing = 0  # results being handled: they may still add URLs
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._stop_signal: int | None = None
        self._output_error: OutputError | None = None
        self._next_watch = 0.0
        self._counting = threading.Lock()
        self.clock = clock
        self.workers = workers or max_in_flight
        self._generation = 0  # counts finished tasks, so that no wake-up is missed

    # -- the main thread ----------------------------------------------------------
    def run(self, jobs: Iterable[Job | BadLine]) -> Outcome:
        source: Iterator[Job | BadLine] = iter(jobs)
        exhausted = False
        job: Job | BadLine | None = None  # read, not yet taken
        frontier = self.frontier
        try:
            while not self._stopping():
                took = False
                generation = self._generation
                self._watch()  # at most every WATCH_EVERY, even while reading apace
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
            with self._changed:
                frontier.close()
                self.stats.found = frontier.found
        return Outcome(self.stats, self._stop_signal, self._output_error)

    def _take(self, job: Job | BadLine) -> bool:
        """Hand a line of the URL file to the frontier (a bad line is answered at
        once); False means not taken yet: offer it again."""
        if isinstance(job, BadLine):
            self._bad_line(job)
            return True
        with self._changed:
            return self.frontier.add_listed(job, self.clock())

    def _dispatch(self) -> bool:
        """Submit what the frontier allows while there is room in flight; robots.txt
        fetches go first. True if anything was sent or answered."""
        progressed = False
        while len(self._in_flight) < self.max_in_flight and not self._stopping():
            with self._changed:
                ready = self.frontier.next_ready(self.clock())
            if ready is None:
                return progressed
            progressed = True
            if isinstance(ready, Refused):
                url = ready.entry.url
                if ready.recorded:
                    self._record(url, [error_line(url, ready.reason)], ready.reason, None)
                else:
                    self._log_rejected([(url, ready.counted or "robots")], "")
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
                and len(self._in_flight) < self.workers
                and not self.frontier.robots_wanted()
                and not any(task.fetch.kind == ROBOTS for task in self._in_flight.values())
            )
            self._changed.wait(timeout)
            if held:
                self.stats.held_seconds += self.clock() - start
        self._watch()

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
            self._watch()

    def _submit(self, fetch: Fetch) -> None:
        task_id = next(self._ids)
        credentials = self.identity.for_fetch(fetch.url) if self.identity is not None else None
        with self._changed:
            self._in_flight[task_id] = _Task(fetch, time.monotonic())
        self.pool.apply_async(
            run_task,
            (self.task, fetch.url, task_id, *_task_extras(fetch, credentials)),
            callback=partial(self._on_result, task_id),
            error_callback=partial(self._on_error, task_id),
        )

    def _bad_line(self, bad: BadLine) -> None:
        reason = f"line {bad.line}: {bad.reason}"
        self._record(bad.text, [error_line(bad.text, reason)], reason, None)

    def _watch(self) -> None:
        now = time.monotonic()
        if self.watchdog_limit is None or now < self._next_watch:
            return
        self._next_watch = now + WATCH_EVERY
        limit = self.watchdog_limit
        with self._changed:
            expired = [
                task_id for task_id, task in self._in_flight.items() if now - task.submitted > limit
            ]
        for task_id in expired:
            lost = Failure("", "worker lost (no answer in time)", 1)
            if self._finish(task_id, lost, written_off=True):
                self.written_off += 1

    # -- the pool's callback thread (and the watchdog) ----------------------------
    def _on_result(self, task_id: int, result: Result) -> None:
        self._finish(task_id, result)

    def _on_error(self, task_id: int, error: BaseException) -> None:
        """A task the pool lost reads as the pool says (`worker lost`, `timed out
        (worker ended after N s)`); anything else the task raised, by its type."""
        if isinstance(error, TaskLost):
            reason = str(error)
        else:
            reason = f"worker error: {type(error).__name__}"
        self._finish(task_id, Failure("", reason, 1))

    def _finish(self, task_id: int, result: Result, written_off: bool = False) -> bool:
        """Write the records of a task, if nobody did yet. Never raises."""
        try:
            with self._changed:
                task = self._in_flight.pop(task_id, None)
                if task is None:
                    return False  # written off already; a late answer is dropped
                self._finishing += 1
            try:
                self._finished(task.fetch, result)
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

    def _finished(self, fetch: Fetch, result: Result) -> None:
        """A task's result: tell the frontier, follow the links, write the records."""
        if not isinstance(result, (Page, Failure)):  # a pool or task bug: said as run_task says
            result = Failure(fetch.url, f"worker error: bad result {type(result).__name__}", 1)
        if self.identity is not None:  # before the host is free: its next fetch sends them
            self.identity.absorb(result)
        with self._changed:
            settled, rejected = self.frontier.settle(fetch, result, self.clock())
        self._log_rejected(rejected, fetch.url)
        if settled is None:  # given back: sent again when its site allows, its line then
            return
        result = settled
        entry = fetch.entry
        if fetch.kind == ROBOTS or entry is None:
            return
        url, parsers = entry.url, entry.parsers
        sitemap = None
        found_by_parsers: list[str] = []
        view: ParserPage | None = None
        made: dict[str, int] | None = None
        try:
            result = result._replace(url=url)
            if isinstance(result, Page):
                # One view of the page for its parsers and its JSON links: parsed once.
                view = ParserPage(result) if result.text is not None else None
                quiet = self.frontier.ends_quietly(entry)
                parsed = parse_page(result, parsers, view=view, quiet=quiet)
                lines, reason, found_by_parsers = parsed.lines, parsed.failure, parsed.links
                made = parsed.records if parsers else None
                if parsed.dropped:
                    with self._counting:
                        self.stats.items_dropped += sum(parsed.dropped.values())
            else:
                lines, reason = records_for(result, parsers)
            if fetch.kind == SITEMAP and isinstance(result, Page):
                sitemap = read_sitemap((result.text or "").encode("latin-1", "replace"))
                if sitemap.problem is not None:
                    reason = f"sitemap: {sitemap.problem}"
                    lines.append(error_line(url, reason))
        except Exception as error:  # noqa: BLE001 - a pipeline bug costs this page, not the run
            reason = f"pipeline error: {type(error).__name__}"
            lines = [error_line(url, reason)]
        # The links first, then the lines: a page whose lines are written has had its
        # links taken (what --resume relies on, crawler.frontier.journal).
        if sitemap is not None:
            with self._changed:
                rejected = self.frontier.add_sitemap(fetch, sitemap, self.clock())
            self._log_rejected(rejected, url)
        elif isinstance(result, Page) and self.frontier.follow.follows and fetch.links:
            self._follow(fetch, result, found_by_parsers, view, made)
        self._record(url, lines, reason, result)

    def _follow(
        self,
        fetch: Fetch,
        page: Page,
        found_by_parsers: list[str],
        view: ParserPage | None = None,
        made: dict[str, int] | None = None,
    ) -> None:
        """The page's links, then those its parsers returned (taken like `a[href]`
        ones: a follow rule with its own selector does not see them), then those
        the JMESPath rules select in a JSON page. The frontier adds the next pages
        of the `next` rules, knowing the records each parser made (`made`)."""
        selectors = self.frontier.follow.selectors
        if page.links is not None:  # taken in the worker (crawler.fetching.worker)
            counts = list(page.links[2]) if len(page.links) == 3 else None
            found = PageLinks(page.links[0], list(page.links[1]), counts)
        else:
            try:
                found = extract_links(page, selectors, self.agent)
            except Exception:  # noqa: BLE001 - a page lxml cannot read has no links to take
                found = NO_LINKS
        extra: list[Link] = []
        if found_by_parsers:
            bits = sum(1 << n for n, selector in enumerate(selectors) if selector is None)
            extra = [Link(link, False, bits) for link in found_by_parsers]
        extra += self._json_links(page, view)
        if extra:
            found = with_more(found, extra)
        with self._changed:
            rejected = self.frontier.add_links(fetch, page, found, self.clock(), made)
        self._log_rejected(rejected, fetch.url)

    def _json_links(self, page: Page, view: ParserPage | None) -> list[Link]:
        """What the `links = { jmespath }` rules select in a JSON page, read from the
        JSON its parsers read (parsed once, in this process, where they run)."""
        rules = self.frontier.follow.rules
        if view is None or not any(rule.jmespath for rule in rules) or not view.is_json:
            return []
        try:
            document = view.json
        except NotJSON:
            return []
        return json_links(rules, document, page.final_url or page.url)

    def _log_rejected(self, rejected: list[tuple[str, str]], parent: str) -> None:
        """One line per link not followed: reason, URL, and the page it was on."""
        log = self.rejected_log
        if log is None or not rejected:
            return
        text = "".join(
            f"{reason}\t{record_key(url)}\t{record_key(parent) if parent else '-'}\n"
            for url, reason in rejected
        )
        with self._counting, contextlib.suppress(OSError, ValueError):
            log.write(text)

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


def _task_extras(fetch: Fetch, credentials: Credentials | None = None) -> tuple:
    """The task's arguments after (url, task_id), as short as they can be: a listed
    URL's fetch is called as it always was."""
    if not fetch.links:  # a page at the depth limit: the worker takes no links
        return (fetch.max_bytes, fetch.policy, fetch.raw, credentials, False)
    if credentials is not None:
        return (fetch.max_bytes, fetch.policy, fetch.raw, credentials)
    if fetch.raw:
        return (fetch.max_bytes, fetch.policy, True)
    if fetch.policy is not None:
        return (fetch.max_bytes, fetch.policy)
    return () if fetch.max_bytes is None else (fetch.max_bytes,)
