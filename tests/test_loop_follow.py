"""The dispatch loop following links, in-process with a fake pool: links of the page
and links a parser returns reach the frontier, records are written once, and the
run ends when nothing more is found."""

from __future__ import annotations

import math
from pathlib import Path

from crawler.fetching.worker import run_task, with_links
from crawler.frontier import Frontier, make_policy
from crawler.frontier.politeness import HostQueues
from crawler.model import Job, Page
from crawler.pools.fake import FakePool
from tests.test_loop import answering, scheduler_for, url_of

SITE = {
    "http://a.test/": '<a href="/one">1</a><a href="/two" rel="nofollow">2</a>',
    "http://a.test/one": '<a href="/">home</a><a href="http://b.test/">away</a>',
    "http://a.test/from-parser": "<p>no links</p>",
}


def answer(url: str) -> Page:
    """The page at `url`, its links taken as a worker takes them."""
    text = SITE.get(url, "<p>")
    return with_links(Page(url, 200, "text/html", text, len(text), len(text), 1), (None,), "crawl")


def test_links_of_pages_and_of_parsers_are_followed(tmp_path: Path, linker: None) -> None:
    pool = FakePool(answering(answer), threaded=True)
    frontier = Frontier(HostQueues(per_host=2), follow=make_policy(depth=math.inf))
    scheduler = scheduler_for(tmp_path, pool, frontier=frontier)
    outcome = scheduler.run([Job(1, "http://a.test/", ("linker",))])
    scheduler.writer.close()
    assert sorted(url_of(task) for task in pool.submitted) == [
        "http://a.test/",
        "http://a.test/from-parser",
        "http://a.test/one",
    ]
    lines = (tmp_path / "db.txt").read_text("utf-8").splitlines()
    assert sorted(line for line in lines if line.startswith("url:")) == [
        f"url:<{url}> size:[{len(SITE[url])}]" for url in sorted(SITE)
    ]
    assert lines.count('linker:<http://a.test/> {"found": "yes"}') == 1  # not inherited
    assert outcome.stats.dropped == {"nofollow": 1, "seen": 1, "offsite": 1}
    assert outcome.stats.found == 2 and outcome.stats.ok == 3


def test_a_page_whose_links_the_worker_could_not_take_says_why(tmp_path: Path) -> None:
    """The main process never reads a page for its links: when the worker could not
    take them (here: a selector lxml refuses), the page keeps its `url:` line, gets
    `error:<URL> links: WHY` beside it and counts as failed; nothing is followed."""

    def unreadable(url: str) -> Page:
        text = SITE[url]
        page = Page(url, 200, "text/html", text, len(text), len(text), 1)
        return run_task(lambda *_: with_links(page, ("a[[",), "crawl"), url)

    pool = FakePool(answering(unreadable))
    frontier = Frontier(HostQueues(per_host=2), follow=make_policy(depth=math.inf))
    scheduler = scheduler_for(tmp_path, pool, frontier=frontier)
    outcome = scheduler.run([Job(1, "http://a.test/", ())])
    scheduler.writer.close()
    assert [url_of(task) for task in pool.submitted] == ["http://a.test/"]
    why = unreadable("http://a.test/").links
    assert isinstance(why, str) and why.startswith("not taken (")  # the exception's type
    assert (tmp_path / "db.txt").read_text("utf-8").splitlines() == [
        f"url:<http://a.test/> size:[{len(SITE['http://a.test/'])}]",
        f"error:<http://a.test/> links: {why}",
    ]
    assert (outcome.stats.ok, outcome.stats.failed, outcome.stats.found) == (0, 1, 0)
    assert outcome.stats.errors == {f"links: {why}": 1}
