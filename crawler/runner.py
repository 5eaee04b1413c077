"""One run, start to end: the output lock, the `run:` lines, the pool, the signals,
the exit status (see the table in docs/urls-and-output.md) and the reports (`--stats`,
`--metrics`)."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TextIO

from crawler import __version__
from crawler.exit_codes import EXIT_LOCKED, EXIT_OK, EXIT_SOME_FAILED, EXIT_UNUSABLE
from crawler.frontier import Frontier
from crawler.frontier.policy import policy_for
from crawler.frontier.politeness import HostQueues
from crawler.identity import Identity
from crawler.loop import DispatchLoop, Limits, Outcome
from crawler.model import BadLine, Job
from crawler.page.links import agent_token
from crawler.pools import BackendError, make_pool
from crawler.progress_log import progress_lines
from crawler.report import Reporter, Stats
from crawler.results import Outputs
from crawler.resume import RESUME, Plan, ResumeError, new_run_id, plan_run
from crawler.run_report import RunReport
from crawler.settings import RunSettings
from crawler.urlfile import UrlFile
from pipelines.parsers import Registry, active
from pipelines.records import run_line
from pipelines.run_lock import LockHeld, RunLock
from pipelines.writer import OutputError, Writer

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SHUTDOWN_TIMEOUT = 10.0


def exit_status(outcome: Outcome) -> int:
    if outcome.interrupted_by is not None:
        # A closed terminal (SIGHUP) ends a run the way SIGTERM does.
        signum = signal.SIGINT if outcome.interrupted_by == signal.SIGINT else signal.SIGTERM
        return 128 + signum
    if outcome.output_error is not None:
        return EXIT_UNUSABLE
    return EXIT_SOME_FAILED if outcome.stats.failed else EXIT_OK


@contextmanager
def on_stop_signals(handler: Callable[[int, object], None]) -> Iterator[None]:
    """Route SIGINT, SIGTERM and SIGHUP to `handler` for the block, then put back
    what was there."""
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class Interrupted(BaseException):
    """A stop signal while the workers start (a cluster can take seconds)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def shut_down(pool, clean: bool, reporter: Reporter) -> None:
    """Let the workers go. A pool is joined only when every task ended on its own;
    otherwise a worker may be stuck on a written-off task, so it is terminated.
    Either way the wait is bounded."""

    def finish() -> None:
        if clean:
            pool.close()
            pool.join()
        else:
            pool.terminate()

    stopper = threading.Thread(target=finish, daemon=True)
    stopper.start()
    stopper.join(SHUTDOWN_TIMEOUT)
    if stopper.is_alive():
        reporter.say(f"crawl: workers did not stop within {SHUTDOWN_TIMEOUT:.0f} s; leaving them")


def until_unusable(
    jobs: Iterator[Job | BadLine], registry: Registry, source: str, unusable: list[str]
) -> Iterator[Job | BadLine]:
    """The jobs, up to the first line that asks for a parser that cannot run (a
    plugin that did not load): the URL file is then unusable, as with a bad
    `--parse`, and the run stops reading it there (exit 2) after finishing what is
    in flight. Why goes into `unusable`."""
    if all(registry.problem(name) is None for name in registry):
        yield from jobs
        return
    for item in jobs:
        problem = registry.check(item.parsers) if isinstance(item, Job) else None
        if problem is not None:
            unusable.append(f"{source} line {item.line}: {problem}")
            return
        yield item


def run_crawl(
    settings: RunSettings,
    urls: BinaryIO,
    source: str,
    reporter: Reporter,
    identity: Identity | None = None,
) -> int:
    """Crawl the URLs of `urls` into `settings.output`, saying who the crawl is as
    `identity` says (`crawler.identity`; None: nothing but what sites set);
    returns the exit status."""
    lock = RunLock(settings.output)
    try:
        lock.acquire(settings.wait_lock)
    except LockHeld as error:
        waited = f", waited {settings.wait_lock:g} s" if settings.wait_lock else ""
        reporter.say(f"crawl: {error} (lock {lock.path}{waited}); nothing fetched")
        return EXIT_LOCKED
    except OutputError as error:
        reporter.say(f"crawl: {error}")
        return end_run(settings, new_run_id(), "output-error", EXIT_UNUSABLE, Stats(), reporter)
    except KeyboardInterrupt:  # Ctrl-C during --wait-lock: no traceback
        reporter.say("crawl: interrupted by SIGINT while waiting for the lock; nothing fetched")
        return 128 + signal.SIGINT
    try:
        return _locked_run(settings, urls, source, reporter, identity or Identity())
    finally:
        lock.release()


class _Ending(NamedTuple):
    """How a run ends: its `status` and exit `code`, what stderr is told
    (`message`), whether `--stats` and `--metrics` get a report of it (`report`),
    and whether an output error was said already (`said`)."""

    status: str
    code: int
    message: str | None = None
    report: bool = True
    said: bool = False


class _Stop(Exception):
    """Ends a run before its crawl (a `crawl: ...` message; exit 2 unless told)."""

    def __init__(
        self,
        message: str,
        status: str = "output-error",
        code: int = EXIT_UNUSABLE,
        report: bool = True,
    ) -> None:
        super().__init__(message)
        self.ending = _Ending(status, code, message, report)


@dataclass
class _Held:
    """What a run holds while it lasts. `release` lets the workers, the rejected
    log and the archive go (each at most once); `_end` does the rest."""

    run_id: str
    writer: Writer | None = None
    plan: Plan | None = None
    rejected_log: TextIO | None = None
    archive: Any = None  # --warc's (crawler.archive.run)
    pool: Any = None
    clean: bool = True  # every task ended on its own: the pool may be joined
    started: bool = False  # the start line is in db.txt: an end line is owed

    def release(self, reporter: Reporter) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            shut_down(pool, self.clean, reporter)
        log, self.rejected_log = self.rejected_log, None
        close_quietly(log)
        archive, self.archive = self.archive, None
        if archive is not None:
            archive.close()


def _locked_run(
    settings: RunSettings, urls: BinaryIO, source: str, reporter: Reporter, identity: Identity
) -> int:
    held = _Held(new_run_id())
    url_file = UrlFile(urls, source, settings.parse, active())  # the one reader of its lines
    try:
        try:
            settings, frontier = _open(settings, url_file, reporter, held)
            outcome, unusable = _crawl(settings, url_file, reporter, identity, frontier, held)
        except _Stop as stop:
            return _end(settings, reporter, held, stop.ending, Stats())
        return _end(settings, reporter, held, _ending_of(outcome, unusable), outcome.stats)
    finally:
        held.release(reporter)  # an unforeseen error too lets the workers go


def _ending_of(outcome: Outcome, unusable: list[str]) -> _Ending:
    """How a run that crawled ends: a signal first, then an output error, then a
    URL file that became unusable (exit 2), else finished (0, or 1 with failures)."""
    said = outcome.output_error is not None
    if outcome.interrupted_by is not None:
        name = signal.Signals(outcome.interrupted_by).name
        return _Ending(
            "interrupted", exit_status(outcome), f"crawl: interrupted by {name}", said=said
        )
    if outcome.output_error is not None:
        return _Ending("output-error", EXIT_UNUSABLE, f"crawl: {outcome.output_error}", said=said)
    if unusable:
        message = f"crawl: {unusable[0]}; stopped reading the URL file there"
        return _Ending("stopped", EXIT_UNUSABLE, message)
    return _Ending("finished", exit_status(outcome))


def _open(
    settings: RunSettings, url_file: UrlFile, reporter: Reporter, held: _Held
) -> tuple[RunSettings, Frontier]:
    """All a run needs before it crawls, cheapest first, so that an unusable
    output, resume state or `--rejected-log` costs no worker: the writer, the
    frontier and the resume plan, the rejected log, the cache, the workers, then
    the start line. Raises _Stop; what it opened is in `held`."""
    try:
        held.writer = Writer(settings.output)
    except OutputError as error:
        raise _Stop(f"crawl: {error}") from None
    frontier = make_frontier(settings)
    try:  # --resume: a run continued, or one that keeps a state (crawler.resume)
        held.plan = plan_run(settings, url_file, frontier)
    except ResumeError as error:
        raise _Stop(f"crawl: {error}", report=False) from None
    held.run_id = held.plan.run_id
    try:  # --rejected-log, like the output, before any worker starts
        held.rejected_log = open_rejected_log(settings.rejected_log, held.plan.event == RESUME)
    except OSError as error:
        option = f"--rejected-log {settings.rejected_log}"
        raise _Stop(f"crawl: cannot write {option}: {error.strerror}") from None
    if settings.warc is not None:  # --warc: the workers' records are written here
        from crawler.archive.run import open_archive
        from crawler.archive.writer import ArchiveError

        try:
            held.archive = open_archive(settings, held.run_id, reporter.say)
        except ArchiveError as error:
            raise _Stop(f"crawl: {error}") from None
    if settings.fetch.cache_path is not None:  # a broken cache costs a warning, not the run
        from crawler.fetching import cache_upkeep  # sqlite3: only when there is a cache

        cache_upkeep.prepare(settings.fetch.cache_path, reporter.say)
    settings = with_links_taken(settings, frontier)
    held.pool = _start_pool(settings)
    if held.archive is not None:
        from crawler.archive.run import ArchivingPool

        held.pool = ArchivingPool(held.pool, held.archive)
    if settings.workers == 0:  # a joined cluster: as many at once as it has threads
        settings = replace(settings, workers=max(1, getattr(held.pool, "threads", 1)))
    if getattr(held.pool, "dashboard_link", None):
        reporter.say(f"crawl: Dask dashboard at {held.pool.dashboard_link}")
    fields = {"version": __version__, "pid": os.getpid(), "workers": settings.workers}
    try:
        held.writer.append(
            [run_line(held.run_id, held.plan.event, {**fields, "urls": url_file.source})]
        )
    except OutputError as error:
        raise _Stop(f"crawl: {error}") from None
    held.started = True
    return settings, frontier


def make_frontier(settings: RunSettings) -> Frontier:
    """The run's frontier, as its settings say (`crawler.frontier`)."""
    return Frontier(
        # A site's first answer may set the cookie the others need: one at a time until
        # then, 4 after it, and from there twice as many in flight a round (until the
        # site first says no or slows down), up to --per-host: a site's limits are met
        # gently (crawler.frontier.rate).
        HostQueues(
            settings.per_host,
            settings.delay,
            first_alone=True,
            max_wait=settings.max_wait,
            start_window=1,
        ),
        robots_agent=settings.fetch.user_agent if settings.obey_robots else None,
        lookahead=settings.lookahead,
        follow=policy_for(settings, active().check),  # the command line checked it
        sitemaps=settings.sitemaps,
        keep_rejected=settings.rejected_log is not None,
        attempts=settings.fetch.attempts,  # a URL whose site says slow down is sent again
    )


def with_links_taken(settings: RunSettings, frontier: Frontier) -> RunSettings:
    """`settings` asking the workers to take each page's links where the page is,
    when the run follows them (`crawler.fetching.worker.with_links`)."""
    if not frontier.follow.follows:
        return settings
    # A page's repeated links folded there (each judged once here), unless every
    # link dropped is to be logged in the page's order.
    fold = 0 if frontier.keep_rejected else frontier.follow.max_links
    links = (tuple(frontier.follow.selectors), agent_token(settings.fetch.user_agent), fold)
    # And judged there too (crawler.frontier.link_verdicts), when they are folded.
    follow = frontier.follow if frontier.judges_in_worker else None
    return replace(settings, fetch=replace(settings.fetch, links=links, follow=follow))


def _start_pool(settings: RunSettings) -> Any:
    """The workers; a stop signal while they start ends the run. Raises _Stop."""
    try:
        with on_stop_signals(_interrupt):
            return make_pool(settings)
    except BackendError as error:
        raise _Stop(f"crawl: {error}", report=False) from None
    except Interrupted as stop:
        name = signal.Signals(stop.signum).name
        code = exit_status(Outcome(Stats(), stop.signum))
        raise _Stop(f"crawl: interrupted by {name}; nothing fetched", "interrupted", code) from None


def _crawl(
    settings: RunSettings,
    url_file: UrlFile,
    reporter: Reporter,
    identity: Identity,
    frontier: Frontier,
    held: _Held,
) -> tuple[Outcome, list[str]]:
    """The crawl itself, from the first line of the URL file to the last answer;
    the workers and the rejected log are let go when it ends, however it ends.
    Returns the outcome and why the URL file became unusable (empty: it did not)."""
    pool, plan = held.pool, held.plan
    assert held.writer is not None and plan is not None
    watchdog = None if pool.reports_lost_tasks else settings.watchdog_limit()
    scheduler = DispatchLoop(
        pool,
        Outputs(plan.writer(held.writer), reporter, held.rejected_log),
        Limits(settings.max_in_flight, watchdog, settings.concurrency),
        frontier=frontier,
        identity=identity,
    )
    plan.restore(scheduler.stats)
    unusable: list[str] = []
    try:
        with (
            on_stop_signals(lambda signum, frame: scheduler.stop(signum)),
            progress_lines(
                settings.log_every,
                settings.quiet,
                reporter.shows_bar,
                scheduler.progress,
                reporter.say,
            ),
        ):
            registry = active()
            # The URL file's lines, in turn: read, past what a killed run handled,
            # passwords taken out, then to the loop.
            jobs = identity.listed(plan.jobs(url_file))
            outcome = scheduler.run(until_unusable(jobs, registry, url_file.source, unusable))
    finally:
        held.clean = scheduler.clean
        held.release(reporter)
    outcome.stats.slowed = frontier.hosts.slowed()  # the sites that said slow down
    return outcome, unusable


def _end(
    settings: RunSettings, reporter: Reporter, held: _Held, ending: _Ending, stats: Stats
) -> int:
    """The one way a run ends, whatever ended it, in this order: the workers and
    the rejected log let go; for a run that wrote its start line, the terminal's
    bar closed and the cache pruned; the ending's message said; the end line
    written (a run that finished but cannot write it ends as `output-error`, exit
    2); db.txt and the resume plan closed; the summary; then `end_run`."""
    held.release(reporter)
    if held.started:
        reporter.close()
        if settings.fetch.cache_path is not None:  # the workers are gone: prune, within a second
            from crawler.fetching import cache_upkeep

            stats.cache_bytes, stats.evicted = cache_upkeep.keep_bounded(
                settings.fetch.cache_path,
                settings.cache_max_age,
                settings.cache_max_size,
                reporter.say,
            )
    stats.finish()
    if ending.message is not None:
        reporter.say(ending.message)
    status, code, ended = ending.status, ending.code, False
    if held.writer is not None:
        try:
            if held.started:
                fields = {"status": status, **stats.fields()}
                held.writer.append([run_line(held.run_id, "end", fields)])
                ended = True
            held.writer.close()
        except OutputError as error:
            if not ending.said:
                reporter.say(f"crawl: {error}")
            if status == "finished":
                status, code = "output-error", EXIT_UNUSABLE
    if held.plan is not None:
        held.plan.finish(status, ended)
    if held.started:
        reporter.say(stats.summary())
    return end_run(settings, held.run_id, status, code, stats, reporter) if ending.report else code


def open_rejected_log(path: Path | None, resumed: bool = False) -> TextIO | None:
    """The `--rejected-log` file, emptied for this run (as wget's is; appended to
    when the run is resumed), line-buffered so that a killed run leaves whole lines."""
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "a" if resumed else "w", encoding="utf-8", buffering=1)


def close_quietly(file: TextIO | None) -> None:
    if file is not None:
        with suppress(OSError):
            file.close()


def end_run(
    settings: RunSettings, run_id: str, status: str, code: int, stats: Stats, reporter: Reporter
) -> int:
    """Every run that got a run id ends here, whatever stopped it: `--stats` and
    `--metrics` get its report, and `code` is its exit status.

    Each file is replaced by one rename, so a reader sees the old report or the new
    one, never half of one. A report that cannot be written is one line on stderr;
    the exit status stays the crawl's (a monitor notices the stale end time, as it
    does after a kill -9)."""
    stats.finish()
    if settings.stats is None and settings.metrics is None:
        return code
    report = RunReport.of(run_id, __version__, status, code, stats)
    if settings.stats is not None:
        _write_report(settings.stats, "--stats", reporter, replace_json, report.as_json())
    if settings.metrics is not None:
        _write_report(settings.metrics, "--metrics", reporter, replace_metrics, report)
    return code


def _write_report(
    path: Path, option: str, reporter: Reporter, write: Callable[[Path, Any], None], value: Any
) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, value)
    except OSError as error:
        reporter.say(f"crawl: cannot write {option} {path}: {error.strerror or error}")


def replace_json(path: Path, value: object) -> None:
    """`value` as one line of JSON, written beside `path` and renamed over it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # Mode 0o666 less the umask, as for any new file: a monitor running as
        # another user must be able to read it.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(value, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


def replace_metrics(path: Path, report: RunReport) -> None:
    """The Prometheus textfile; `write_to_textfile` writes beside `path` and renames."""
    from prometheus_client import write_to_textfile

    write_to_textfile(str(path), report.registry())
