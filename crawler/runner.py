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
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from crawler import __version__
from crawler.exit_codes import EXIT_LOCKED, EXIT_OK, EXIT_SOME_FAILED, EXIT_UNUSABLE
from crawler.frontier import Frontier
from crawler.frontier.policy import policy_for
from crawler.frontier.politeness import HostQueues
from crawler.identity import Identity
from crawler.loop import DispatchLoop, Outcome
from crawler.model import BadLine, Job
from crawler.page.links import agent_token
from crawler.pools import BackendError, make_pool
from crawler.progress_log import progress_lines
from crawler.report import Reporter, Stats
from crawler.resume import RESUME, ResumeError, new_run_id, plan_run
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


def _locked_run(
    settings: RunSettings, urls: BinaryIO, source: str, reporter: Reporter, identity: Identity
) -> int:
    run_id = new_run_id()
    try:  # before any worker starts: an unusable output costs nothing
        writer = Writer(settings.output)
    except OutputError as error:
        reporter.say(f"crawl: {error}")
        return end_run(settings, run_id, "output-error", EXIT_UNUSABLE, Stats(), reporter)
    frontier = Frontier(
        # A site's first answer may set the cookie the others need: one at a time until
        # then, and from there one more in flight a round, up to --per-host: a site's
        # limits are met gently (crawler.frontier.rate).
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
    url_file = UrlFile(urls, source, settings.parse, active())  # the one reader of its lines
    try:  # --resume: a run continued, or one that keeps a state (crawler.resume)
        plan = plan_run(settings, url_file, frontier)
    except ResumeError as error:
        writer.close()
        reporter.say(f"crawl: {error}")
        return EXIT_UNUSABLE
    run_id = plan.run_id
    try:  # --rejected-log, like the output, before any worker starts
        rejected_log = open_rejected_log(settings.rejected_log, plan.event == RESUME)
    except OSError as error:
        writer.close()
        reporter.say(
            f"crawl: cannot write --rejected-log {settings.rejected_log}: {error.strerror}"
        )
        return end_run(settings, run_id, "output-error", EXIT_UNUSABLE, Stats(), reporter)
    archive = None
    if settings.warc is not None:  # --warc: the workers' records are written here
        from crawler.archive.run import open_archive
        from crawler.archive.writer import ArchiveError

        try:
            archive = open_archive(settings, run_id, reporter.say)
        except ArchiveError as error:
            writer.close()
            close_quietly(rejected_log)
            reporter.say(f"crawl: {error}")
            return end_run(settings, run_id, "output-error", EXIT_UNUSABLE, Stats(), reporter)
    if settings.fetch.cache_path is not None:  # a broken cache costs a warning, not the run
        from crawler.fetching import cache_upkeep  # sqlite3: only when there is a cache

        cache_upkeep.prepare(settings.fetch.cache_path, reporter.say)
    if frontier.follow.follows:  # the workers take each page's links where the page is
        # A page's repeated links folded there (each judged once here), unless every
        # link dropped is to be logged in the page's order.
        fold = 0 if frontier.keep_rejected else frontier.follow.max_links
        links = (tuple(frontier.follow.selectors), agent_token(settings.fetch.user_agent), fold)
        settings = replace(settings, fetch=replace(settings.fetch, links=links))
    try:
        with on_stop_signals(_interrupt):
            pool = make_pool(settings)
    except BackendError as error:
        writer.close()
        close_quietly(rejected_log)
        reporter.say(f"crawl: {error}")
        return EXIT_UNUSABLE
    except Interrupted as stop:
        writer.close()
        close_quietly(rejected_log)
        reporter.say(f"crawl: interrupted by {signal.Signals(stop.signum).name}; nothing fetched")
        code = exit_status(Outcome(Stats(), stop.signum))
        return end_run(settings, run_id, "interrupted", code, Stats(), reporter)
    if archive is not None:
        from crawler.archive.run import ArchivingPool

        pool = ArchivingPool(pool, archive)
    if settings.workers == 0:  # a joined cluster: as many at once as it has threads
        settings = replace(settings, workers=max(1, getattr(pool, "threads", 1)))
    if getattr(pool, "dashboard_link", None):
        reporter.say(f"crawl: Dask dashboard at {pool.dashboard_link}")
    try:
        writer.append(
            [
                run_line(
                    run_id,
                    plan.event,
                    {
                        "version": __version__,
                        "pid": os.getpid(),
                        "workers": settings.workers,
                        "urls": source,
                    },
                )
            ]
        )
    except OutputError as error:
        shut_down(pool, True, reporter)
        close_quietly(rejected_log)
        reporter.say(f"crawl: {error}")
        return end_run(settings, run_id, "output-error", EXIT_UNUSABLE, Stats(), reporter)
    scheduler = DispatchLoop(
        pool,
        plan.writer(writer),
        reporter,
        max_in_flight=settings.max_in_flight,
        watchdog_limit=None if pool.reports_lost_tasks else settings.watchdog_limit(),
        workers=settings.concurrency,
        frontier=frontier,
        agent=agent_token(settings.fetch.user_agent),
        rejected_log=rejected_log,
        identity=identity,
    )
    plan.restore(scheduler.stats)
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
            unusable: list[str] = []
            # The URL file's lines, in turn: read, past what a killed run handled,
            # passwords taken out, then to the loop.
            jobs = identity.listed(plan.jobs(url_file))
            outcome = scheduler.run(until_unusable(jobs, registry, source, unusable))
    finally:
        shut_down(pool, scheduler.clean, reporter)
        close_quietly(rejected_log)
        if archive is not None:
            archive.close()
    reporter.close()
    outcome.stats.slowed = frontier.hosts.slowed()  # the sites that said slow down
    if settings.fetch.cache_path is not None:  # the workers are gone: prune, within a second
        from crawler.fetching import cache_upkeep

        outcome.stats.cache_bytes, outcome.stats.evicted = cache_upkeep.keep_bounded(
            settings.fetch.cache_path, settings.cache_max_age, settings.cache_max_size, reporter.say
        )
    outcome.stats.finish()
    status = "finished"
    if outcome.interrupted_by is not None:
        status = "interrupted"
        reporter.say(f"crawl: interrupted by {signal.Signals(outcome.interrupted_by).name}")
    elif outcome.output_error is not None:
        status = "output-error"
        reporter.say(f"crawl: {outcome.output_error}")
    elif unusable:
        status = "stopped"
        reporter.say(f"crawl: {unusable[0]}; stopped reading the URL file there")
    ended = False
    try:
        writer.append([run_line(run_id, "end", {"status": status, **outcome.stats.fields()})])
        ended = True
        writer.close()
    except OutputError as error:
        if outcome.output_error is None:
            reporter.say(f"crawl: {error}")
            outcome.output_error = error
    plan.finish(status, ended)
    if status == "finished" and outcome.output_error is not None:
        status = "output-error"  # the end line itself could not be written
    reporter.say(outcome.stats.summary())
    code = EXIT_UNUSABLE if unusable and status == "stopped" else exit_status(outcome)
    return end_run(settings, run_id, status, code, outcome.stats, reporter)


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
