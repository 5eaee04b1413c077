"""The scheduler's promises, in-process with a fake pool: one line per distinct URL
whatever the pool does, a bounded number of tasks in flight, late answers dropped."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from crawler.loop import DispatchLoop, Limits, Outcome
from crawler.model import BadLine, Failure, Job, Page, Result
from crawler.pools.base import TaskLost
from crawler.pools.fake import FakePool, FakeTask
from crawler.report import Reporter
from crawler.results import Outputs
from pipelines.writer import Writer
from tests.stress_util import wait_for

BOUND = 10.0  # seconds a step may take on a busy machine


def page(url: str) -> Page:
    return Page(url, 200, "text/html", "text", 4, 4, 1)


def url_of(task: FakeTask) -> str:
    return task.args[1]  # run_task(task, url, task_id, ...)


def answering(answer: Callable[[str], Result | BaseException]) -> Callable[[FakeTask], Any]:
    """A fake pool's answer from an answer per URL."""
    return lambda task: answer(url_of(task))


def scheduler_for(
    tmp_path: Path,
    pool: FakePool,
    watchdog_limit: float | None = 60.0,
    max_in_flight: int = 3,
    **options: Any,
) -> DispatchLoop:
    """A dispatch loop over `pool`, writing to `tmp_path / "db.txt"`, 3 tasks in flight."""
    return DispatchLoop(
        pool,
        Outputs(Writer(tmp_path / "db.txt"), Reporter(progress=False, stream=io.StringIO())),
        Limits(max_in_flight, watchdog_limit),
        **options,
    )


def run(
    tmp_path: Path,
    pool: FakePool,
    jobs: list[Job | BadLine],
    watchdog_limit: float | None = 60.0,
) -> tuple[DispatchLoop, list[str]]:
    scheduler = scheduler_for(tmp_path, pool, watchdog_limit)
    scheduler.run(jobs)
    scheduler.writer.close()
    return scheduler, (tmp_path / "db.txt").read_text("utf-8").splitlines()


def jobs(*urls: str) -> list[Job | BadLine]:
    return [Job(number, url, ()) for number, url in enumerate(urls, 1)]


def test_each_url_once_and_duplicates_dropped(tmp_path: Path) -> None:
    pool = FakePool(answering(page))
    scheduler, lines = run(tmp_path, pool, jobs("http://a/", "http://b/", "http://a/"))
    assert [url_of(task) for task in pool.submitted] == ["http://a/", "http://b/"]
    assert lines == ["url:<http://a/> size:[4]", "url:<http://b/> size:[4]"]
    assert (scheduler.stats.ok, scheduler.stats.failed) == (2, 0)


def test_in_flight_tasks_are_bounded(tmp_path: Path) -> None:
    pool = FakePool(answering(page), threaded=True)
    urls = [f"http://h/{i}" for i in range(60)]
    _, lines = run(tmp_path, pool, jobs(*urls))
    assert sorted(lines) == sorted(f"url:<{url}> size:[4]" for url in urls)
    assert pool.most_outstanding <= 3


def test_a_worker_exception_is_an_error_line(tmp_path: Path) -> None:
    pool = FakePool(answering(lambda url: RuntimeError("boom")))
    scheduler, lines = run(tmp_path, pool, jobs("http://a/"))
    assert lines == ["error:<http://a/> worker error: RuntimeError"]
    assert scheduler.stats.failed == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (TaskLost("worker lost"), "worker lost"),
        (TaskLost("timed out (worker ended after 185 s)"), "timed out (worker ended after 185 s)"),
        (ValueError("a bug"), "worker error: ValueError"),
    ],
)
def test_what_a_pool_reports_is_the_reason_as_is(
    tmp_path: Path, answer: object, reason: str
) -> None:
    """A lost task reads as the pool says; anything else the task raised, by its type."""
    pool = FakePool(answering(lambda url: answer if url == "http://a/" else page(url)))
    scheduler, lines = run(tmp_path, pool, jobs("http://a/", "http://b/"), watchdog_limit=None)
    assert lines == [f"error:<http://a/> {reason}", "url:<http://b/> size:[4]"]
    assert (scheduler.stats.ok, scheduler.stats.failed) == (1, 1)


def test_an_answer_that_is_not_a_result_costs_its_page_not_the_run(tmp_path: Path) -> None:
    pool = FakePool(answering(lambda url: "not a result" if url == "http://a/" else page(url)))
    scheduler, lines = run(tmp_path, pool, jobs("http://a/", "http://b/"))
    assert lines == ["error:<http://a/> worker error: bad result str", "url:<http://b/> size:[4]"]
    assert (scheduler.stats.ok, scheduler.stats.failed) == (1, 1)


def test_the_listed_url_is_recorded_whatever_the_worker_says(tmp_path: Path) -> None:
    pool = FakePool(
        answering(lambda url: Failure("http://elsewhere/", "HTTP 500 after 3 attempts", 3))
    )
    _, lines = run(tmp_path, pool, jobs("http://a/"))
    assert lines == ["error:<http://a/> HTTP 500 after 3 attempts"]


def test_bad_lines_get_an_error_line_and_the_run_goes_on(tmp_path: Path) -> None:
    pool = FakePool(answering(page))
    items = [BadLine(1, "nope", "not an http(s) URL"), Job(2, "http://a/", ())]
    scheduler, lines = run(tmp_path, pool, items)
    assert lines == ["error:<nope> line 1: not an http(s) URL", "url:<http://a/> size:[4]"]
    assert (scheduler.stats.ok, scheduler.stats.failed) == (1, 1)


def test_a_task_with_no_answer_is_written_off_and_its_late_answer_dropped(
    tmp_path: Path,
) -> None:
    pool = FakePool(answering(page), hold=True, reports_lost_tasks=False)
    scheduler, lines = run(tmp_path, pool, jobs("http://a/"), watchdog_limit=0.1)
    assert lines == ["error:<http://a/> worker lost (no answer in time)"]
    assert scheduler.written_off == 1
    assert not scheduler.clean
    pool.release()  # the answer comes after all
    assert (tmp_path / "db.txt").read_text("utf-8").splitlines() == lines
    assert scheduler.stats.ok == 0


def test_without_a_watchdog_a_silent_task_waits_for_its_pool(tmp_path: Path) -> None:
    """A pool that reports its lost tasks gets no watchdog: nothing is written off
    however long a task takes, and its answer is written when it comes."""
    clock = FakeClock()
    pool = FakePool(answering(page), hold=True)
    scheduler = scheduler_for(tmp_path, pool, watchdog_limit=None, clock=clock)
    with running(scheduler, jobs("http://a/")):
        assert wait_for(lambda: pool.held, BOUND)
        clock.now += 3600.0  # an hour later
        scheduler.watch()
        assert not records(tmp_path)
        pool.release()
    scheduler.writer.close()
    assert records(tmp_path) == ["url:<http://a/> size:[4]"]
    assert scheduler.clean


@pytest.mark.parametrize("answer_first", [True, False])
def test_an_answer_and_a_write_off_racing_give_one_line(tmp_path: Path, answer_first: bool) -> None:
    clock = FakeClock()
    pool = FakePool(answering(page), hold=True, reports_lost_tasks=False)
    scheduler = scheduler_for(tmp_path, pool, watchdog_limit=1.0, clock=clock)
    with running(scheduler, jobs("http://a/")):
        assert wait_for(lambda: pool.held, BOUND)
        if answer_first:
            pool.release()
            clock.now += 2.0
            scheduler.watch()
        else:
            clock.now += 2.0
            scheduler.watch()
            pool.release()
    scheduler.writer.close()
    assert len(records(tmp_path)) == 1


class FakeClock:
    """The run's clock, moved on by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def running(scheduler: DispatchLoop, items: list[Job | BadLine]) -> Iterator[list[Outcome]]:
    """`scheduler.run(items)` in a thread for the block, which must see it end."""
    outcome: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcome.append(scheduler.run(items)), daemon=True)
    thread.start()
    try:
        yield outcome
    finally:
        thread.join(BOUND)
    assert outcome, "the run did not end"


def records(folder: Path) -> list[str]:
    return (folder / "db.txt").read_text("utf-8").splitlines()


def test_stop_submits_nothing_more(tmp_path: Path) -> None:
    scheduler_box: list[DispatchLoop] = []

    def answer(url: str) -> Result:
        scheduler_box[0].stop(15)
        return page(url)

    pool = FakePool(answering(answer))
    scheduler = scheduler_for(tmp_path, pool)
    scheduler_box.append(scheduler)
    outcome = scheduler.run(jobs("http://a/", "http://b/", "http://c/"))
    scheduler.writer.close()
    assert outcome.interrupted_by == 15
    assert [url_of(task) for task in pool.submitted] == ["http://a/"]
    assert (tmp_path / "db.txt").read_text("utf-8").splitlines() == ["url:<http://a/> size:[4]"]
