"""`--resume`: a run that was killed goes on where it stopped, every URL of the run
still getting exactly one `url:` or `error:` line, however often it is killed.

The runner asks `plan_run` once the frontier is built, before any worker starts.
The order of decisions:
1. Without `--resume`: a new run, and no state is kept (`Plan`, which does nothing);
   a state left by a killed run goes, as that run is no longer the last one.
2. With it, the last run of the output and whether it finished, as
   `pipelines.runs` says (the run of the last whole `run:` line; finished if that
   is its end line, not saying `interrupted`): if it finished, or there is none, a new
   run, which keeps a state from its start (`<output>.state/`, see
   `crawler.resume.state`), so that it can be continued if it is killed.
3. If it did not finish, it is continued, or nothing happens (`ResumeError`, one
   line, exit 2) when that cannot be done honestly: the state is missing, torn,
   from another version or of another run; the URL file is standard input; the
   URL file or the options that decide the run's URLs differ from the killed
   run's (the line names what differs).
4. Continuing: the run's keys and counts are read from db.txt
   (`crawler.resume.finished`), the frontier is rebuilt from the journal
   (`crawler.resume.replay`): the URLs admitted that have no line are
   queued again, in their order; the URL file is read on from where it was
   handled. A state the journal shows behind db.txt (a power cut lost its last
   writes) is refused too.

The runner then writes `run:<ID> start` or `run:<ID> resume` (`Plan.event`), lets
the journal see every append to db.txt first (`Plan.writer`), passes the URL
file's lines, as its one reader gives them (`crawler.urlfile.UrlFile`), through
`Plan.jobs` on their way to `crawler.identity` and the loop, gives the run's
counters to `Plan.restore`, and ends with `Plan.finish`: a run that ended (its end
line written, not `interrupted`) leaves no state behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from crawler.frontier import Frontier
from crawler.frontier.journal import Journal
from crawler.model import BadLine, Job
from crawler.report import Stats
from crawler.resume import state
from crawler.resume.finished import Done, find_start, last_run, read_done
from crawler.resume.origins import KnownOrigins
from crawler.resume.replay import replay
from crawler.urlfile import FIRST_LINE, Place, UrlFile
from pipelines.writer import OutputError, Writer

START, RESUME = "start", "resume"


class ResumeError(Exception):
    """The run cannot be continued; the message is one line."""


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


class Plan:
    """A new run without a state: every method leaves things as they are."""

    event = START

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id or new_run_id()

    def writer(self, writer: Writer) -> Writer:
        return writer

    def jobs(self, url_file: UrlFile) -> Iterator[Job | BadLine]:
        """Every job of the URL file: nothing of it was handled before."""
        for listed in url_file.read():
            yield listed.item

    def restore(self, stats: Stats) -> None:
        pass

    def finish(self, status: str, ended: bool) -> None:
        pass


class KeptPlan(Plan):
    """A run that keeps its state: a new one, or one continued."""

    def __init__(
        self,
        run_id: str,
        directory: Path,
        journal: Journal,
        read_from: Place,
        started_at: float,
        done: Done | None = None,
        counters: str = "",
        identity_lines: list[Place] | None = None,
    ) -> None:
        super().__init__(run_id)
        self.event = START if done is None else RESUME
        self.directory = directory
        self.journal = journal
        self.read_from = read_from  # the URL file's first line the killed run had not handled
        self.started_at = started_at
        self.done = done
        self.bad_lines = done.bad_lines if done is not None else set()  # answered already
        self.counters = counters
        self.identity_lines = identity_lines or []

    def writer(self, writer: Writer) -> Writer:
        return JournaledWriter(writer, self.journal)  # type: ignore[return-value]

    def jobs(self, url_file: UrlFile) -> Iterator[Job | BadLine]:
        """The URL file's jobs from where the killed run had handled it; after each
        one is taken, the journal learns how far the file is handled.

        First come the lines before that point that are the first of their origin
        (or the first there with a password), asked of the reader again: who the
        crawl is on a site is learnt from them (`crawler.identity`), and the
        frontier has them already, so they add nothing to fetch."""
        answered, journal = self.bad_lines, self.journal
        known_origins = KnownOrigins()
        before = self.read_from.number  # later lines are read in turn anyway
        again = [at for at in self.identity_lines if at.number < before]
        again = [at for at in again if at.number not in answered]  # refused (a tcp:// cluster)
        for job in url_file.read_at(again):
            if isinstance(job, Job):
                known_origins.first(job.url)
                yield job
        for item, start, end in url_file.read(self.read_from):
            if isinstance(item, Job) and known_origins.first(item.url):
                journal.identity_line(start, item.line)
            if not (isinstance(item, BadLine) and item.line in answered):
                yield item  # the loop comes back for the next one once this is taken
            journal.position(end, item.line)

    def restore(self, stats: Stats) -> None:
        """The run's counters so far into `stats` (the frontier's are in already)."""
        stats.started_at = self.started_at
        if self.done is not None:
            stats.ok, stats.failed = self.done.ok, self.done.failed
            stats.errors.update(self.done.errors)
            seconds = _restore_counters(stats, self.counters)
            stats.started = time.monotonic() - seconds
            self.done = None  # its keys are no longer needed; let them go
        self.journal.snapshot = lambda: _counters(stats)

    def finish(self, status: str, ended: bool) -> None:
        """A run that ended leaves nothing; one interrupted keeps its state, synced."""
        # The records are in db.txt whatever happens here; a resume says if the
        # state cannot be used.
        with contextlib.suppress(OSError):
            self.journal.close(sync=not ended or status == "interrupted")
        if ended and status != "interrupted":
            state.remove(self.directory)


class JournaledWriter:
    """The output writer, with the journal flushed before every append (see
    `crawler.frontier.journal`, the order of writes)."""

    def __init__(self, writer: Writer, journal: Journal) -> None:
        self._writer = writer
        self._journal = journal
        self.path = writer.path

    def append(self, lines: Sequence[str]) -> None:
        try:
            self._journal.flush()
        except OSError as error:
            raise OutputError(f"cannot write the resume state: {error.strerror}") from None
        self._writer.append(lines)

    def close(self) -> None:
        self._writer.close()


COUNTERS = ("retried", "bytes", "unchanged", "saved", "items_dropped")


def _counters(stats: Stats) -> str:
    """The journal's `b` record: the counters db.txt cannot tell, then the held and
    the run's seconds (written at every flush: a few bytes, no JSON)."""
    values = [getattr(stats, name) for name in COUNTERS]
    return " ".join(map(str, values)) + f" {stats.held_seconds:.3f} {stats.seconds:.3f}"


def _restore_counters(stats: Stats, record: str) -> float:
    """`_counters` read back into `stats`; returns the run's seconds so far."""
    try:
        *counts, held, seconds = record.split()
        values = [int(value) for value in counts]
        if len(values) != len(COUNTERS):
            raise ValueError(record)
        held_seconds, so_far = float(held), float(seconds)
    except ValueError:
        return 0.0  # none written yet (killed before its first page)
    for name, value in zip(COUNTERS, values, strict=True):
        setattr(stats, name, value)
    stats.held_seconds = held_seconds
    return so_far


def plan_run(settings: Any, url_file: UrlFile, frontier: Frontier) -> Plan:
    """How this run starts (see the module docstring); the frontier is rebuilt when
    the run is continued. Raises ResumeError."""
    output: Path = settings.output
    directory = state.state_dir(output)
    if not getattr(settings, "resume", False):
        # A new run: the run a state was kept for is not the last one any more.
        if directory.exists():
            state.remove(directory)
        return Plan()
    fingerprint = {
        "urls": state.url_file_identity(url_file.source, url_file.stream),
        "options": state.options_fingerprint(frontier, settings),
    }
    try:
        last = last_run(output)
    except OSError as error:
        raise ResumeError(f"cannot read {output}: {error.strerror}") from None
    if last is None or last.finished:
        return _new_run(output, directory, fingerprint, frontier)
    return _continue(last.run, output, directory, fingerprint, frontier)


def _new_run(
    output: Path, directory: Path, fingerprint: dict[str, Any], frontier: Frontier
) -> KeptPlan:
    run_id = new_run_id()
    try:
        size = os.stat(output).st_size
    except FileNotFoundError:
        size = 0
    header = state.Header(run_id, time.time(), size, fingerprint)
    try:
        fd = state.create(directory, header)
    except OSError as error:
        raise ResumeError(f"cannot write the resume state {directory}: {error.strerror}") from None
    frontier.journal = journal = Journal(fd)
    return KeptPlan(run_id, directory, journal, FIRST_LINE, header.started_at)


def _continue(
    run: str,
    output: Path,
    directory: Path,
    fingerprint: dict[str, Any],
    frontier: Frontier,
) -> KeptPlan:
    cannot = f"cannot resume run {run} of {output}"
    advice = "run without --resume to start a new run"
    try:
        header = state.read_header(directory)
    except state.StateError as error:
        raise ResumeError(f"{cannot}: {error}; {advice}") from None
    if header.run != run:
        raise ResumeError(f"{cannot}: its state {directory} is of run {header.run}; {advice}")
    then = header.fingerprint.get("urls", {})
    if not state.rereadable(then):
        where = "standard input" if then.get("path") == state.STDIN else then.get("path")
        raise ResumeError(f"{cannot}: its URLs came from {where}, which cannot be read "
                          f"again; {advice}")  # fmt: skip
    differs = state.differences(header.fingerprint, fingerprint)
    if differs:
        raise ResumeError(
            f"{cannot}: {differs}; resume with the same URL file and options, or {advice}"
        )
    try:
        start = find_start(output, run, header.db_offset)
        if start is None:
            raise ResumeError(f"{cannot}: its start line is not in the file; {advice}")
        done = read_done(output, run, start)
        replayed = replay(directory / state.JOURNAL, frontier, done.keys, time.monotonic())
    except OSError as error:
        raise ResumeError(f"{cannot}: {error.filename or output}: {error.strerror}") from None
    except (ValueError, IndexError, KeyError, TypeError):  # a record no crawl writes
        raise ResumeError(f"{cannot}: its state {directory} is torn; {advice}") from None
    if replayed.admitted_done < done.admitted:
        raise ResumeError(f"{cannot}: its state is behind the file (the machine stopped before "
                          f"the state reached the disk?); {advice}")  # fmt: skip
    try:
        fd = state.reopen(directory, replayed.end)
    except OSError as error:
        raise ResumeError(f"{cannot}: cannot write its state: {error.strerror}") from None
    journal = Journal(fd, replayed.links_taken)
    frontier.journal = journal
    frontier.ask_sitemaps(time.monotonic())  # journaled: what it takes in is admitted
    read_from = Place(replayed.offset, replayed.number + 1)  # the line after the last handled
    return KeptPlan(run, directory, journal, read_from, header.started_at, done, replayed.counters,
                    replayed.identity_lines)  # fmt: skip
