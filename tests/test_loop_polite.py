"""The scheduler with robots.txt and per-host queues, in-process: a thread pool and a
fake task, so the bookkeeping is tested without a network."""

from __future__ import annotations

import threading
from collections import Counter
from multiprocessing.pool import ThreadPool
from pathlib import Path

from crawler.frontier import Frontier
from crawler.frontier.politeness import HostQueues
from crawler.loop import DispatchLoop, Limits
from crawler.model import Failure, Job, Page
from crawler.report import Reporter
from crawler.results import Outputs
from pipelines.writer import Writer
from tests.conftest import records

UA = "crawl/test"


def run(tmp_path: Path, urls: list[str], task, watchdog: float = 60.0, lookahead: int = 100):
    db = tmp_path / "db.txt"
    writer = Writer(db)
    pool = ThreadPool(4)
    scheduler = DispatchLoop(
        pool,
        Outputs(writer, Reporter(progress=False, quiet=True)),
        Limits(max_in_flight=6, watchdog_limit=watchdog),
        task=task,
        frontier=Frontier(HostQueues(per_host=2), robots_agent=UA, lookahead=lookahead),
    )
    outcome = scheduler.run(Job(n, url, ()) for n, url in enumerate(urls, 1))
    pool.terminate()
    writer.close()
    return outcome, db


def test_robots_fetched_once_per_host_and_each_url_one_line(tmp_path: Path) -> None:
    asked: Counter[str] = Counter()
    lock = threading.Lock()

    def task(url: str, task_id: int = 0, max_bytes: int | None = None, *_more: object):
        with lock:
            asked[url] += 1
        if url.endswith("/robots.txt"):
            assert max_bytes is not None
            if "://a" in url:
                return Page(url, 200, "text/plain", "User-agent: *\nDisallow: /no\n", 0, 0, 1)
            return Failure(url, "HTTP 404", 1)
        return Page(url, 200, "text/html", "x", 1, 1, 1)

    urls = [f"http://{host}/{path}{n}" for n in range(20) for host in "abc" for path in ("no", "")]
    outcome, db = run(tmp_path, urls, task, lookahead=7)
    assert [asked[f"http://{h}/robots.txt"] for h in "abc"] == [1, 1, 1]
    errors = records(db, "error")
    assert sorted(errors) == sorted(
        f"error:<http://a/no{n}> disallowed by robots.txt" for n in range(20)
    )
    assert len(records(db, "url")) == len(urls) - 20
    assert outcome.stats.ok + outcome.stats.failed == len(urls)
    assert not any(url.startswith("http://a/no") for url in asked)


def test_a_robots_fetch_that_never_answers_means_try_later(tmp_path: Path) -> None:
    never = threading.Event()

    def task(url: str, task_id: int = 0, max_bytes: int | None = None, *_more: object):
        if url == "http://stuck/robots.txt":
            never.wait(30)
            return Failure(url, "late", 1)
        if url.endswith("/robots.txt"):
            return Failure(url, "HTTP 404", 1)
        return Page(url, 200, "text/html", "x", 1, 1, 1)

    urls = ["http://stuck/1", "http://stuck/2", "http://fine/1"]
    try:
        _outcome, db = run(tmp_path, urls, task, watchdog=1.0)
    finally:
        never.set()
    assert records(db, "url") == ["url:<http://fine/1> size:[1]"]
    assert sorted(records(db, "error")) == [
        f"error:<{url}> robots.txt unavailable (worker lost (no answer in time)); try later"
        for url in urls[:2]
    ]


def test_a_host_with_many_urls_does_not_hide_the_hosts_after_it(tmp_path: Path) -> None:
    """2,000 URLs of one host, then 10 of others, with room for 100 queued jobs (10 per
    host): the big host's extra jobs wait on disk, and the small hosts are served at
    once. Every URL still gets exactly one line."""

    def task(url: str, task_id: int = 0, max_bytes: int | None = None, *_more: object):
        if url.endswith("/robots.txt"):
            return Failure(url, "HTTP 404", 1)
        return Page(url, 200, "text/html", "x", 1, 1, 1)

    urls = [f"http://big/{n}" for n in range(2000)] + [f"http://small{n}/" for n in range(10)]
    outcome, db = run(tmp_path, [*urls, urls[5], urls[-1]], task, lookahead=100)
    lines = records(db, "url")
    assert sorted(lines) == sorted(f"url:<{url}> size:[1]" for url in urls)
    last_small = max(i for i, line in enumerate(lines) if "small" in line)
    assert last_small < 200
    assert outcome.stats.ok == len(urls)


def test_without_a_usable_temporary_folder_jobs_wait_in_memory(tmp_path: Path, monkeypatch):
    def no_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("crawler.frontier.spill.tempfile.TemporaryFile", no_disk)

    def task(url: str, task_id: int = 0, max_bytes: int | None = None, *_more: object):
        if url.endswith("/robots.txt"):
            return Failure(url, "HTTP 404", 1)
        return Page(url, 200, "text/html", "x", 1, 1, 1)

    urls = [f"http://big/{n}" for n in range(300)] + [f"http://small{n}/" for n in range(5)]
    outcome, db = run(tmp_path, [*urls, urls[0]], task, lookahead=20)
    assert sorted(records(db, "url")) == sorted(f"url:<{url}> size:[1]" for url in urls)
    assert outcome.stats.ok == len(urls)
