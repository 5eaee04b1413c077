"""The pool under faults, driven in-process: the real DispatchLoop and a real process
pool, with task functions from this module that misbehave on purpose. Every URL
gets exactly one line, the run finishes, and a pool with a task that cannot end
is terminated, never joined. (A worker killed from outside, at every moment of a
task, is tests/test_worker_loss.py.)"""

from __future__ import annotations

import ctypes
import faulthandler
import io
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from crawler.loop import DispatchLoop, Limits, Outcome
from crawler.model import Job, Page, Result
from crawler.pools import process_pool
from crawler.report import Reporter
from crawler.results import Outputs
from crawler.runner import shut_down
from crawler.settings import FetchSettings, RunSettings
from pipelines.records import read_line
from pipelines.writer import Writer
from tests.stress_util import LINE, db_lines

BOUND = 60  # no test here may take longer; a hang fails instead of blocking the suite


class NeedsTwoArguments(Exception):
    """Pickles fine in the worker, cannot be rebuilt in the main process."""

    def __init__(self, first: str, second: int) -> None:
        super().__init__(first)
        self.second = second


class NotAnException(BaseException):
    pass


def page(url: str) -> Page:
    return Page(url, 200, "text/html", "<p>ok</p>", 9, 9, 1)


def hostile_task(url: str, task_id: int = 0) -> Result:
    """Behaves as the URL's last path segment says."""
    what = url.rsplit("/", 1)[-1]
    if what == "raise":
        raise ValueError("a plain bug in the task")
    if what == "unpicklable-exception":
        raise NeedsTwoArguments("cannot be rebuilt", 2)
    if what == "base-exception":
        raise NotAnException("not an Exception")
    if what == "unpicklable-result":
        return page(url)._replace(text=threading.Lock())  # type: ignore[arg-type]
    if what == "not-a-result":
        return {"url": url}  # type: ignore[return-value]
    if what == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if what == "segfault":
        faulthandler.disable()  # pytest's, inherited: keep its dump off the test output
        ctypes.string_at(0)
    if what == "stuck-in-c":
        # No Python code runs until the sleep ends: no timer signal, no timeout reaches it.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)
    return page(url)


class SpyPool:
    """The real pool, noting whether it was joined or terminated."""

    def __init__(self, pool) -> None:
        self.pool, self.calls = pool, []

    def apply_async(self, *args, **kwargs):
        return self.pool.apply_async(*args, **kwargs)

    def close(self) -> None:
        self.calls.append("close")
        self.pool.close()

    def join(self) -> None:
        self.calls.append("join")
        self.pool.join()

    def terminate(self) -> None:
        self.calls.append("terminate")
        self.pool.terminate()


class RaisingReporter(Reporter):
    def page(self, url: str, reason: str | None) -> None:
        super().page(url, reason)
        raise RuntimeError("a bug in the reporter, inside the pool's callback")


def crawl_in_process(
    tmp_path: Path,
    names: list[str],
    *,
    watchdog_limit: float | None = None,
    task_limit_timeout: float = 10.0,
    reporter: Reporter | None = None,
) -> tuple[Outcome, DispatchLoop, SpyPool, list[str], str]:
    """A run of `names` (each a hostile_task behaviour) on a pool of 2 workers; the
    watchdog only if `watchdog_limit` is given, as for a pool that cannot tell."""
    settings = RunSettings(workers=2, fetch=FetchSettings(timeout=task_limit_timeout, retries=0))
    pool = process_pool(settings)
    spy = SpyPool(pool)
    stream = io.StringIO()
    reporter = reporter or Reporter(progress=False, stream=stream)
    reporter.stream = stream
    writer = Writer(tmp_path / "db.txt")
    scheduler = DispatchLoop(
        spy,
        Outputs(writer, reporter),
        Limits(settings.max_in_flight, watchdog_limit),
        task=hostile_task,
    )
    jobs = [Job(n + 1, f"http://127.0.0.1:9/{n}/{name}", ()) for n, name in enumerate(names)]
    outcome: list[Outcome] = []
    runner = threading.Thread(target=lambda: outcome.append(scheduler.run(jobs)), daemon=True)
    runner.start()
    runner.join(BOUND)
    if runner.is_alive():
        scheduler.stop(signal.SIGTERM)
        runner.join(10)
    started = time.monotonic()
    shut_down(spy, scheduler.clean, reporter)
    assert time.monotonic() - started < 15, "shutting the pool down hung"
    writer.close()
    assert outcome, "the run never finished"
    return outcome[0], scheduler, spy, db_lines(tmp_path / "db.txt"), stream.getvalue()


def one_line_per_url(lines: list[str], names: list[str]) -> dict[str, str]:
    """name -> its one line; fails if any URL has none or two."""
    found: dict[str, list[str]] = {name: [] for name in names}
    for line in lines:
        assert LINE.match(line), line
        url = read_line(line).key
        found[url.rsplit("/", 1)[-1]].append(line)
    assert all(len(lines) == 1 for lines in found.values()), found
    return {name: lines[0] for name, lines in found.items()}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("raise", "worker error: ValueError"),
        ("unpicklable-exception", "worker error: NeedsTwoArguments"),
        ("base-exception", "worker error: NotAnException"),
        ("unpicklable-result", "worker error: bad result Page"),
        ("not-a-result", "worker error: bad result dict"),
        ("sigkill", "worker lost"),
        ("segfault", "worker lost"),
    ],
)
def test_a_fault_in_a_worker_costs_its_url_only(tmp_path: Path, fault: str, reason: str) -> None:
    names = ["ok-1", fault, "ok-2", "ok-3", "ok-4", "ok-5"]
    outcome, _, _, lines, _ = crawl_in_process(tmp_path, names)
    by_name = one_line_per_url(lines, names)
    assert by_name[fault].endswith(" " + reason), by_name[fault]
    assert all(by_name[name].startswith("url:") for name in names if name.startswith("ok"))
    assert (outcome.stats.ok, outcome.stats.failed) == (5, 1)
    assert outcome.output_error is None


def test_a_worker_stuck_in_c_is_ended_at_its_hard_limit(tmp_path: Path) -> None:
    names = ["ok-1", "stuck-in-c", "ok-2", "ok-3"]
    # task_limit() is 2 * 0.5 + 5 = 6 s, kept by the main process: no watchdog here.
    outcome, _, _, lines, _ = crawl_in_process(tmp_path, names, task_limit_timeout=0.5)
    by_name = one_line_per_url(lines, names)
    reason = " timed out (worker ended after 6 s)"
    assert by_name["stuck-in-c"].endswith(reason), by_name["stuck-in-c"]
    assert outcome.stats.failed == 1


def test_a_task_the_pool_never_answers_is_written_off_and_the_pool_not_joined(
    tmp_path: Path,
) -> None:
    names = ["ok-1", "stuck-in-c", "ok-2", "ok-3"]
    # The watchdog, as for a pool that cannot tell (Dask), before the 65 s hard limit.
    _, scheduler, spy, lines, _ = crawl_in_process(
        tmp_path, names, task_limit_timeout=30, watchdog_limit=2
    )
    by_name = one_line_per_url(lines, names)
    assert by_name["stuck-in-c"].endswith(" worker lost (no answer in time)")
    assert not scheduler.clean
    assert "join" not in spy.calls and "terminate" in spy.calls


def test_an_exception_inside_the_callback_does_not_stop_the_results(tmp_path: Path) -> None:
    names = [f"ok-{n}" for n in range(10)]
    outcome, scheduler, spy, lines, _ = crawl_in_process(
        tmp_path, names, reporter=RaisingReporter(progress=False)
    )
    one_line_per_url(lines, names)
    assert outcome.stats.ok == 10
    assert outcome.output_error is None
    assert scheduler.clean and spy.calls == ["close", "join"]
