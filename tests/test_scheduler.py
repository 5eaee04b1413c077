"""The scheduler's promises, in-process with a fake pool: one line per distinct URL
whatever the pool does, a bounded number of tasks in flight, late answers dropped."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crawler.model import BadLine, Failure, Job, Page, Result
from crawler.report import Reporter
from crawler.scheduler import Scheduler
from pipelines.writer import Writer


def page(url: str) -> Page:
    return Page(url, 200, "text/html", "text", 4, 4, 1)


class FakePool:
    """Records tasks; answers them at once with `answer(url)`, from a thread when
    `threaded`, or never when `answer` is None (a lost worker)."""

    def __init__(
        self, answer: Callable[[str], Result | BaseException] | None, threaded: bool = False
    ) -> None:
        self.answer = answer
        self.threaded = threaded
        self.submitted: list[str] = []
        self.held: list[tuple[str, Callable, Callable]] = []
        self.outstanding = 0
        self.most_outstanding = 0
        self._lock = threading.Lock()

    def apply_async(
        self,
        func: Callable[..., Any],
        args: tuple = (),
        kwds: dict | None = None,
        callback: Callable | None = None,
        error_callback: Callable | None = None,
    ) -> None:
        url = args[1]  # run_task(task, url, task_id, ...)
        self.submitted.append(url)
        with self._lock:
            self.outstanding += 1
            self.most_outstanding = max(self.most_outstanding, self.outstanding)
        if self.answer is None:
            self.held.append((url, callback, error_callback))
        elif self.threaded:
            threading.Thread(target=self.deliver, args=(url, callback, error_callback)).start()
        else:
            self.deliver(url, callback, error_callback)

    def deliver(self, url: str, callback: Callable, error_callback: Callable) -> None:
        assert self.answer is not None
        if self.threaded:
            time.sleep(0.002)  # let tasks pile up, as a real pool's would
        outcome = self.answer(url)
        with self._lock:
            self.outstanding -= 1
        if isinstance(outcome, BaseException):
            error_callback(outcome)
        else:
            callback(outcome)


class LostBoard:
    """A task board on which the workers running the given tasks died: like the real
    one, it names a task only once the task was handed to the pool."""

    def __init__(self, lost: list[int], pool: FakePool) -> None:
        self.lost = lost
        self.pool = pool

    def lost_tasks(self) -> list[int]:
        named = [task for task in self.lost if task <= len(self.pool.submitted)]
        self.lost = [task for task in self.lost if task not in named]
        return named


def run(
    tmp_path: Path,
    pool: FakePool,
    jobs: list[Job | BadLine],
    watchdog_limit: float = 60.0,
    board: Any = None,
) -> tuple[Scheduler, list[str]]:
    writer = Writer(tmp_path / "db.txt")
    scheduler = Scheduler(
        pool,
        writer,
        Reporter(progress=False, stream=io.StringIO()),
        max_in_flight=3,
        watchdog_limit=watchdog_limit,
        board=board,
    )
    scheduler.run(jobs)
    writer.close()
    return scheduler, (tmp_path / "db.txt").read_text("utf-8").splitlines()


def jobs(*urls: str) -> list[Job | BadLine]:
    return [Job(number, url, ()) for number, url in enumerate(urls, 1)]


def test_each_url_once_and_duplicates_dropped(tmp_path: Path) -> None:
    pool = FakePool(page)
    scheduler, lines = run(tmp_path, pool, jobs("http://a/", "http://b/", "http://a/"))
    assert pool.submitted == ["http://a/", "http://b/"]
    assert lines == ["url:<http://a/> size:[4]", "url:<http://b/> size:[4]"]
    assert (scheduler.stats.ok, scheduler.stats.failed) == (2, 0)


def test_in_flight_tasks_are_bounded(tmp_path: Path) -> None:
    pool = FakePool(page, threaded=True)
    urls = [f"http://h/{i}" for i in range(60)]
    _, lines = run(tmp_path, pool, jobs(*urls))
    assert sorted(lines) == sorted(f"url:<{url}> size:[4]" for url in urls)
    assert pool.most_outstanding <= 3


def test_a_worker_exception_is_an_error_line(tmp_path: Path) -> None:
    pool = FakePool(lambda url: RuntimeError("boom"))
    scheduler, lines = run(tmp_path, pool, jobs("http://a/"))
    assert lines == ["error:<http://a/> worker error: RuntimeError"]
    assert scheduler.stats.failed == 1


def test_an_answer_that_is_not_a_result_costs_its_page_not_the_run(tmp_path: Path) -> None:
    pool = FakePool(lambda url: "not a result" if url == "http://a/" else page(url))
    scheduler, lines = run(tmp_path, pool, jobs("http://a/", "http://b/"))
    assert lines == ["error:<http://a/> pipeline error: AttributeError", "url:<http://b/> size:[4]"]
    assert (scheduler.stats.ok, scheduler.stats.failed) == (1, 1)


def test_the_listed_url_is_recorded_whatever_the_worker_says(tmp_path: Path) -> None:
    pool = FakePool(lambda url: Failure("http://elsewhere/", "HTTP 500 after 3 attempts", 3))
    _, lines = run(tmp_path, pool, jobs("http://a/"))
    assert lines == ["error:<http://a/> HTTP 500 after 3 attempts"]


def test_bad_lines_get_an_error_line_and_the_run_goes_on(tmp_path: Path) -> None:
    pool = FakePool(page)
    items = [BadLine(1, "nope", "not an http(s) URL"), Job(2, "http://a/", ())]
    scheduler, lines = run(tmp_path, pool, items)
    assert lines == ["error:<nope> line 1: not an http(s) URL", "url:<http://a/> size:[4]"]
    assert (scheduler.stats.ok, scheduler.stats.failed) == (1, 1)


def test_a_task_with_no_answer_is_written_off_and_its_late_answer_dropped(
    tmp_path: Path,
) -> None:
    pool = FakePool(None)
    scheduler, lines = run(tmp_path, pool, jobs("http://a/"), watchdog_limit=0.1)
    assert lines == ["error:<http://a/> worker lost (no answer in time)"]
    assert scheduler.written_off == 1
    assert not scheduler.clean
    ((url, callback, _),) = pool.held
    callback(page(url))  # the answer comes after all
    assert (tmp_path / "db.txt").read_text("utf-8").splitlines() == lines
    assert scheduler.stats.ok == 0


def test_a_task_of_a_dead_worker_is_written_off_at_once(tmp_path: Path) -> None:
    pool = FakePool(None)
    started = time.monotonic()
    scheduler, lines = run(tmp_path, pool, jobs("http://a/"), board=LostBoard([1], pool))
    assert lines == ["error:<http://a/> worker lost"]
    assert time.monotonic() - started < 30  # not the watchdog's 60 s limit
    assert scheduler.written_off == 1


@pytest.mark.parametrize("answer_first", [True, False])
def test_an_answer_and_a_write_off_racing_give_one_line(tmp_path: Path, answer_first: bool) -> None:
    pool = FakePool(None)
    writer = Writer(tmp_path / "db.txt")
    scheduler = Scheduler(
        pool,
        writer,
        Reporter(progress=False, stream=io.StringIO()),
        max_in_flight=3,
        watchdog_limit=60.0,
        board=LostBoard([1], pool),
    )
    scheduler.frontier.add_listed(Job(1, "http://a/", ()), 0.0)
    scheduler._submit(scheduler.frontier.next_ready(0.0))
    ((url, callback, _),) = pool.held
    if answer_first:
        callback(page(url))
        scheduler._watch()
    else:
        scheduler._watch()
        callback(page(url))
    writer.close()
    assert len((tmp_path / "db.txt").read_text("utf-8").splitlines()) == 1


def test_stop_submits_nothing_more(tmp_path: Path) -> None:
    scheduler_box: list[Scheduler] = []

    def answer(url: str) -> Result:
        scheduler_box[0].stop(15)
        return page(url)

    pool = FakePool(answer)
    writer = Writer(tmp_path / "db.txt")
    scheduler = Scheduler(
        pool,
        writer,
        Reporter(progress=False, stream=io.StringIO()),
        max_in_flight=3,
        watchdog_limit=60.0,
    )
    scheduler_box.append(scheduler)
    outcome = scheduler.run(jobs("http://a/", "http://b/", "http://c/"))
    writer.close()
    assert outcome.interrupted_by == 15
    assert pool.submitted == ["http://a/"]
    assert (tmp_path / "db.txt").read_text("utf-8").splitlines() == ["url:<http://a/> size:[4]"]
