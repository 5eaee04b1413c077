"""Workers killed from outside, at every moment of a task, and tasks that never end:
the real `crawl` (a subprocess, under fork and spawn) against tests/server.py.

What a user sees is checked: every URL gets exactly one line; a URL whose worker
died is fetched again (once) and gets its page, or `worker lost` if its worker
dies a second time; a fetch past its hard limit gets `timed out (worker ended
after N s)`; the run ends as soon as an unkilled one would, and a stop signal
still ends it within seconds, leaving no process behind. Workers are found with
psutil; every wait is on a condition, with a bound.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, crawl_command, crawl_env, records, write_urls
from tests.server import TestServer, page_text
from tests.stress_util import wait_for

START_METHODS = ["fork", "spawn"]
BOUND = 60.0  # seconds: the longest any wait here may take on a loaded 2-core CI


class Crawl:
    """A running `crawl`, with a mark in its environment that every process it
    starts inherits, so that none can hide (not even one whose parent died)."""

    def __init__(self, tmp_path: Path, urls: list[str], *options: str) -> None:
        self.db = tmp_path / "db.txt"
        self.mark = uuid.uuid4().hex
        env = crawl_env()
        env["CRAWL_TEST_MARK"] = self.mark
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            crawl_command(
                str(write_urls(tmp_path / "urls.txt", *urls)),
                *("--output", str(self.db), "--no-progress", *options),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.main = psutil.Process(self.process.pid)
        self.took = 0.0
        self.stderr = ""

    def workers(self) -> list[psutil.Process]:
        try:
            return self.main.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def serving(self, server: TestServer, path: str, nth: int = 0) -> psutil.Process:
        """The worker that sent the `nth` request for `path` (its connection's port)."""
        port = server.ports(path)[nth]
        for worker in self.workers():
            try:
                if any(c.laddr and c.laddr.port == port for c in worker.net_connections("tcp")):
                    return worker
            except psutil.NoSuchProcess:
                continue
        raise LookupError(f"no worker has the connection from port {port}")

    def idle_workers(self, server: TestServer) -> list[psutil.Process]:
        """Workers with no connection to `server` at all: they never fetched from it."""
        port = server.httpd.server_port
        idle = []
        for worker in self.workers():
            with_server = [
                c for c in worker.net_connections("tcp") if c.raddr and c.raddr.port == port
            ]
            if not with_server:
                idle.append(worker)
        return idle

    def finish(self, within: float = BOUND) -> int:
        try:
            _, self.stderr = self.process.communicate(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, self.stderr = self.process.communicate()
            pytest.fail(f"crawl did not finish in {within} s; stderr:\n{self.stderr}")
        self.took = time.monotonic() - self.started
        return self.process.returncode

    def marked(self) -> list[psutil.Process]:
        """Every live process carrying this run's mark: crawl and what it started."""
        found = []
        for process in psutil.process_iter():
            try:
                mine = process.environ().get("CRAWL_TEST_MARK") == self.mark
                if mine and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        for process in self.marked():
            process.kill()

    def lines(self, url: str) -> list[str]:
        """The fetch lines of `url`: its url: or error: lines."""
        return [
            line
            for line in records(self.db)
            if line.startswith((f"url:<{url}> ", f"error:<{url}> "))
        ]


@pytest.fixture
def crawls(tmp_path: Path) -> Iterator:
    started: list[Crawl] = []

    def start(urls: list[str], *options: str, folder: str = "run") -> Crawl:
        (tmp_path / folder).mkdir()
        crawl = Crawl(tmp_path / folder, urls, *options)
        started.append(crawl)
        return crawl

    yield start
    for crawl in started:
        crawl.end()


def page_line(url: str, name: str) -> str:
    return f"url:<{url}> size:[{len(page_text(name))}]"


def assert_pages(crawl: Crawl, pages: dict[str, str]) -> None:
    """Each URL (-> its page name) has exactly its one url: line."""
    for url, name in pages.items():
        assert crawl.lines(url) == [page_line(url, name)], crawl.lines(url)


# -- an idle worker ---------------------------------------------------------------------
@pytest.mark.parametrize("method", START_METHODS)
def test_an_idle_worker_killed_in_a_polite_run_costs_nothing(
    server: TestServer, crawls, method: str
) -> None:
    """The README's old known limit: a polite run (one request at a time, 0.1 s
    apart) leaves workers idle; killing one used to wedge the stock Pool for good."""
    polite = ("--workers", "3", "--per-host", "1", "--delay", "0.1", "--start-method", method)
    pages = {server.url(f"/page/p{n}"): f"p{n}" for n in range(30)}
    unkilled = crawls(list(pages), *polite, folder="unkilled")
    assert unkilled.finish() == 0, unkilled.stderr
    pages = {server.url(f"/page/q{n}"): f"q{n}" for n in range(30)}
    killed = crawls(list(pages), *polite, folder="killed")
    assert wait_for(lambda: killed.db.exists() and len(records(killed.db, "url")) >= 5, BOUND)
    idle = killed.idle_workers(server)
    assert idle, "a polite run leaves a worker that never fetched"
    idle[0].kill()
    assert killed.finish() == 0, killed.stderr
    assert_pages(killed, pages)
    assert records(killed.db, "error") == []
    assert killed.took < unkilled.took + 5, (killed.took, unkilled.took)


# -- a worker killed mid-fetch, or half-way through sending a page back --------------------
@pytest.mark.parametrize("method", START_METHODS)
def test_a_worker_killed_mid_fetch_has_its_url_fetched_again(
    server: TestServer, crawls, method: str
) -> None:
    slow = server.url("/slow?seconds=1")
    pages = {server.url(f"/page/k{n}"): f"k{n}" for n in range(4)}
    crawl = crawls([slow, *pages], "--workers", "2", "--start-method", method)
    server.wait_for("/slow")
    crawl.serving(server, "/slow").kill()
    assert crawl.finish() == 0, crawl.stderr
    assert crawl.lines(slow) == [page_line(slow, "slow")]
    assert_pages(crawl, pages)
    assert server.count("/slow") == 2  # once more, on another worker
    assert "Traceback" not in crawl.stderr


@pytest.mark.parametrize("method", START_METHODS)
def test_a_worker_killed_while_sending_a_large_page_back(
    server: TestServer, crawls, method: str
) -> None:
    """The main process is stopped (SIGSTOP) while the page comes in, so the worker
    that fetched it fills its channel and waits, half-way through sending 5 MB; it
    is killed there. The torn message is dropped and the page fetched again."""
    size = 5_000_000
    big = server.url(f"/big?bytes={size}")
    pages = {server.url(f"/page/b{n}"): f"b{n}" for n in range(3)}
    crawl = crawls([*pages, big], "--workers", "2", "--start-method", method, "--no-cache")
    server.wait_for("/big")
    crawl.main.suspend()
    try:
        assert wait_for(lambda: server.served("/big") == 1, BOUND), "the page was never sent"
        sender = crawl.serving(server, "/big")
        assert wait_for(lambda: waits_idle(sender), BOUND), "the worker never waited to send"
        sender.kill()
        assert wait_for(lambda: not sender.is_running() or gone(sender), BOUND)
    finally:
        crawl.main.resume()
    assert crawl.finish() == 0, crawl.stderr
    assert crawl.lines(big) == [f"url:<{big}> size:[{size}]"]
    assert_pages(crawl, pages)
    assert server.count("/big") == 2


def waits_idle(process: psutil.Process) -> bool:
    """Whether `process` sleeps and uses no CPU over a short span: with the page
    read in full, only a send to the stopped main process can make it wait."""
    try:
        before = process.cpu_times()
        if process.status() != psutil.STATUS_SLEEPING:
            return False
        time.sleep(0.3)  # the span the condition is about, not a synchronisation
        return process.status() == psutil.STATUS_SLEEPING and process.cpu_times() == before
    except psutil.NoSuchProcess:
        return False


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("method", START_METHODS)
def test_workers_killed_one_after_another(server: TestServer, crawls, method: str) -> None:
    """`a` loses its worker twice: `worker lost`. `b` loses it once: fetched again.
    Every other URL gets its page; the run ends on its own."""
    first, second = server.url("/count/a?seconds=1"), server.url("/count/b?seconds=1")
    # A site's first page goes alone (its answer may set a session cookie): a quick
    # one, so that a and b are then in flight together.
    pages = {server.url(f"/page/s{n}"): f"s{n}" for n in range(6)}
    warm = server.url("/page/warm")
    crawl = crawls([warm, first, second, *pages], "--workers", "3", "--start-method", method)
    server.wait_for("/count/a")
    crawl.serving(server, "/count/a").kill()
    server.wait_for("/count/b")
    crawl.serving(server, "/count/b").kill()
    server.wait_for("/count/a", 2)
    crawl.serving(server, "/count/a", nth=1).kill()
    assert crawl.finish() == 1, crawl.stderr
    assert crawl.lines(first) == [f"error:<{first}> worker lost"]
    assert crawl.lines(second) == [page_line(second, "counted b")]
    assert_pages(crawl, pages)
    assert (server.count("/count/a"), server.count("/count/b")) == (2, 2)
    assert " end status=finished ok=8 failed=1 " in records(crawl.db, "run")[-1]


# -- stopping right after a kill ---------------------------------------------------------------
@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_right_after_a_kill_ends_the_run_and_every_worker(
    server: TestServer, crawls, method: str, signum: int, status: int
) -> None:
    done = server.url("/page/done")
    hanging = [server.url(f"/hang?n={n}") for n in range(4)]
    crawl = crawls([done, *hanging], "--workers", "2", "--start-method", method)
    server.wait_for("/hang", 2)
    assert wait_for(lambda: crawl.db.exists() and records(crawl.db, "url"), BOUND)
    crawl.serving(server, "/hang").kill()
    sent = time.monotonic()
    crawl.process.send_signal(signum)
    assert crawl.finish() == status, crawl.stderr
    took = time.monotonic() - sent
    assert took < 5, f"stopped {took:.1f} s after the signal (2 s promised; margin for CI)"
    assert wait_for(lambda: not crawl.marked(), 5), [p.pid for p in crawl.marked()]
    assert records(crawl.db, "url") == [page_line(done, "done")]
    assert records(crawl.db, "error") == []  # the abandoned fetches get no line
    assert "Traceback" not in crawl.stderr


@pytest.mark.parametrize("method", START_METHODS)
def test_kill_9_of_the_main_process_leaves_no_worker_within_a_second(
    server: TestServer, crawls, method: str
) -> None:
    hanging = [server.url(f"/hang?n={n}") for n in range(4)]
    warm = server.url("/page/warm")  # a site's first page goes alone: then four hang at once
    crawl = crawls([warm, *hanging], "--workers", "2", "--threads", "2", "--start-method", method)
    server.wait_for("/hang", 4)
    crawl.process.kill()
    crawl.process.communicate(timeout=BOUND)
    killed = time.monotonic()
    assert wait_for(lambda: not crawl.marked(), 10), [p.pid for p in crawl.marked()]
    took = time.monotonic() - killed
    assert took < 3, f"workers left {took:.1f} s after the main process died (1 s promised)"


# -- the hard limit -------------------------------------------------------------------------
@pytest.mark.parametrize("method", START_METHODS)
def test_a_fetch_past_its_hard_limit_ends_its_worker(
    server: TestServer, crawls, method: str
) -> None:
    """A server that trickles its headers a byte at a time defeats every read
    timeout, and in a thread no timer signal cuts it short: the main process ends
    the worker at the task's hard limit (2 x 2 s + 5 s = 9 s). The worker's other
    thread is then busy with `beside` (started 1.5 s later, so not past its own
    limit): that fetch is run again on the new worker, and gets its page."""
    trickle = server.url("/slow-headers?every=0.1")
    first, beside = server.url("/slow?seconds=1.5"), server.url("/slow-headers?until=b")
    warm = server.url("/page/warm")  # a site's first page goes alone; the rest together
    crawl = crawls(
        [warm, trickle, first, beside],
        *("--workers", "1", "--threads", "2", "--start-method", method),
        *("--timeout", "2", "--retries", "0", "--ignore-robots"),
    )
    server.wait_for("/slow-headers", 3, timeout=BOUND)  # beside, asked again
    server.release("b")
    assert crawl.finish() == 1, crawl.stderr
    assert crawl.lines(trickle) == [f"error:<{trickle}> timed out (worker ended after 9 s)"]
    assert crawl.lines(first) == [page_line(first, "slow")]
    assert crawl.lines(beside) == [page_line(beside, "slow headers")]
    assert server.count("/slow-headers") == 3  # the trickle once, beside twice


def test_on_the_main_thread_the_attempt_deadline_cuts_trickled_headers(
    server: TestServer, crawls
) -> None:
    """With one thread a worker fetches on its main thread, where the timer signal
    ends the attempt at its deadline: no worker needs ending."""
    trickle = server.url("/slow-headers?every=0.1")
    crawl = crawls([trickle], "--workers", "1", "--timeout", "0.5", "--retries", "0")
    assert crawl.finish() == 1, crawl.stderr
    assert crawl.lines(trickle) == [f"error:<{trickle}> timed out after 1 attempt"]
    assert crawl.took < 6


# -- threads -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", START_METHODS)
def test_threads_keep_workers_times_threads_fetches_in_flight(
    server: TestServer, crawls, method: str
) -> None:
    counted = [server.url(f"/count/c{n}?seconds=0.5") for n in range(18)]
    crawl = crawls(
        counted, *("--workers", "2", "--threads", "3", "--per-host", "20", "--start-method", method)
    )
    assert crawl.finish() == 0, crawl.stderr
    assert server.max_active == 6
    for n, url in enumerate(counted):
        assert crawl.lines(url) == [page_line(url, f"counted c{n}")]


@pytest.mark.parametrize("method", START_METHODS)
def test_in_threads_the_deadline_the_cap_and_the_retries_still_hold(
    server: TestServer, crawls, method: str
) -> None:
    drip = server.url("/drip?bytes=100&every=0.4")  # 40 s of body for a 1 s budget
    big = server.url("/big?bytes=200000")
    bomb = server.url("/gzip-bomb?bytes=50000000")
    flaky = server.url("/flaky/threads?fail=1")
    page = server.url("/page/t")
    crawl = crawls(
        [drip, big, bomb, flaky, page],
        *("--workers", "1", "--threads", "5", "--start-method", method, "--no-cache"),
        *("--timeout", "1", "--retries", "1", "--max-bytes", "100000"),
    )
    assert crawl.finish() == 1, crawl.stderr
    assert crawl.lines(drip) == [f"error:<{drip}> timed out after 2 attempts"]
    assert crawl.lines(big) == [f"error:<{big}> larger than 100000 bytes"]
    assert crawl.lines(bomb) == [f"error:<{bomb}> larger than 100000 bytes"]
    assert crawl.lines(flaky) == [page_line(flaky, "flaky threads")]
    assert crawl.lines(page) == [page_line(page, "t")]
    assert server.count("/flaky/threads") == 2
    assert crawl.took < 30
