"""The progress lines of a run without a terminal (crawler.progress_log), driven by a
fake clock: when a line is due, what it says, and when there is none at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.model import Failure, Job, Page
from crawler.pools.fake import FakePool
from crawler.progress_log import Progress, ProgressLog, duration, progress_line, progress_lines
from tests.test_loop import answering, jobs, page, scheduler_for, submit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeRun:
    """A run whose counts the test moves on."""

    def __init__(self) -> None:
        self.progress = Progress(done=0, failed=0, in_flight=0, waiting=0, found=0)

    def __call__(self) -> Progress:
        return self.progress


def make_log(every: float = 60.0) -> tuple[ProgressLog, FakeClock, FakeRun, list[str]]:
    clock, run, said = FakeClock(), FakeRun(), []
    return ProgressLog(every, run, said.append, clock), clock, run, said


def test_a_line_every_interval_with_the_rate_over_that_interval() -> None:
    log, clock, run, said = make_log()
    clock.now += 59.9
    assert not log.tick() and said == []
    clock.now += 0.1
    run.progress = Progress(done=600, failed=3, in_flight=8, waiting=1200, found=40)
    assert log.tick()
    assert said == [
        "crawl: 600 pages done in 1m00s (10.0 pages/s over the last 60 s): 3 failed, "
        "8 in flight, 1200 waiting, 40 found by following"
    ]
    clock.now += 30
    assert not log.tick()  # not due again yet
    clock.now += 30
    run.progress = run.progress._replace(done=720)
    assert log.tick()
    assert said[-1].startswith("crawl: 720 pages done in 2m00s (2.0 pages/s over the last 60 s)")


def test_a_late_tick_measures_the_rate_over_the_time_that_passed() -> None:
    log, clock, run, said = make_log(10)
    clock.now += 25  # the loop was busy: one line, not two
    run.progress = run.progress._replace(done=50)
    assert log.tick() and not log.tick()
    assert len(said) == 1 and "(2.0 pages/s over the last 25 s)" in said[0]
    assert log.wait_time() == 10  # the next one an interval after this one


def test_a_stalled_run_says_so() -> None:
    log, clock, run, said = make_log(60)
    run.progress = Progress(done=5, failed=0, in_flight=4, waiting=100, found=0)
    for _ in range(2):
        clock.now += 60
        log.tick()
    assert "5 pages done in 2m00s (0.0 pages/s over the last 60 s)" in said[-1]
    assert "4 in flight, 100 waiting" in said[-1]


def test_a_snapshot_that_fails_does_not_make_the_line_due_at_once() -> None:
    log, clock, _, said = make_log(60)

    def broken() -> Progress:
        raise RuntimeError("boom")

    log.snapshot = broken
    clock.now += 60
    with pytest.raises(RuntimeError):
        log.tick()
    assert log.wait_time() == 60 and said == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (60, "1m00s"), (185, "3m05s"), (3600, "1h00m"), (7620, "2h07m")],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_a_line_with_nothing_done_yet() -> None:
    line = progress_line(Progress(0, 0, 0, 0, 0), 60, 0, 0)
    assert line.startswith("crawl: 0 pages done in 1m00s (0.0 pages/s")


@pytest.mark.parametrize(
    ("every", "quiet", "shows_bar", "logs"),
    [
        (60, False, False, True),  # no terminal: lines
        (0, False, False, False),  # --log-every 0
        (60, True, False, False),  # -q
        (60, False, True, False),  # a bar is shown: it says it
    ],
)
def test_when_there_are_progress_lines(every, quiet, shows_bar, logs) -> None:
    with progress_lines(every, quiet, shows_bar, FakeRun(), print) as log:
        assert (log is not None) == logs


def test_the_dispatch_loop_says_where_the_run_stands(tmp_path: Path) -> None:
    """What a progress line counts, as the loop gives it: done (failed too), failed,
    in flight, waiting in the frontier."""

    def answer(url: str) -> Page | Failure:
        return page(url) if url == "http://a/" else Failure(url, "HTTP 404", 1)

    pool = FakePool(answering(answer), hold=True)
    scheduler = scheduler_for(tmp_path, pool)
    for job in jobs("http://a/", "http://b/"):
        submit(scheduler, job)
    scheduler.frontier.add_listed(Job(3, "http://c/", ()), 0.0)
    assert scheduler.progress() == Progress(done=0, failed=0, in_flight=2, waiting=1, found=0)
    pool.release()
    pool.release()
    assert scheduler.progress() == Progress(done=2, failed=1, in_flight=0, waiting=1, found=0)
    scheduler.writer.close()


def test_the_line_names_the_sites_being_slowed() -> None:
    sites = ("http://a", "http://b", "http://c", "http://d", "http://e")
    line = progress_line(Progress(10, 0, 2, 5, 0, sites[:1]), 60.0, 10, 60.0)
    assert line.endswith("0 found by following; slowing down for http://a")
    line = progress_line(Progress(10, 0, 2, 5, 0, sites), 60.0, 10, 60.0)
    assert line.endswith("; slowing down for http://a, http://b, http://c and 2 more")
