"""crawler.frontier.link_verdicts: a page's links judged in the worker lead the
frontier to the same pages, with the same counts of links not followed, as the
same links judged in the main process."""

from __future__ import annotations

import pickle
import re

import pytest

from crawler.fetching.worker import run_task
from crawler.frontier import ROBOTS, Fetch, Frontier, make_policy
from crawler.frontier.link_verdicts import judge_links, with_verdicts
from crawler.frontier.politeness import HostQueues
from crawler.frontier.rules import FollowRule
from crawler.frontier.scope import make_scope
from crawler.model import Job, Judged, Link, Page
from crawler.page.links import PageLinks, unique_links

Web = dict[str, list[Link]]  # page URL -> the links on it
NOFOLLOW = "http://a.test/quiet"  # a page that says nofollow for all its links

WEB: Web = {
    "http://a.test/": [
        Link("http://a.test/1"), Link("http://b.test/"), Link("http://a.test/1"),
        Link("http://a.test/2"), Link("http://b.test/"), Link("http://a.test/1#top"),
        Link("http://A.test/2"), Link("mailto:x@a.test"), Link("mailto:x@a.test"),
        Link("http://a.test/private", nofollow=True), Link("http://a.test/photo.jpg"),
        Link("http://a.test/no/x"), Link("http://127.0.0.1/"), Link("http://new.test/"),
        Link(NOFOLLOW),
    ],
    "http://a.test/1": [Link("http://a.test/"), Link("http://a.test/3"), Link("http://a.test/3")],
    "http://a.test/2": [Link("http://a.test/3"), Link("http://a.test/4"), Link("http://a.test/4")],
    "http://a.test/3": [Link("http://a.test/5"), Link("http://a.test/6")],
    NOFOLLOW: [Link("http://a.test/7"), Link("http://a.test/7")],
}  # fmt: skip


def answer(fetch: Fetch) -> Page:
    """A page; the listed one was redirected through new.test, which widens its scope."""
    redirects = ("http://new.test/",) if fetch.url == "http://a.test/" else ()
    return Page(fetch.url, 200, "text/html", "", 0, 0, 1, redirects=redirects)


def crawl(frontier: Frontier, where: str) -> tuple[list[str], dict[str, int]]:
    """The pages fetched, in order, and the links not followed, by reason, with each
    page's links judged `where`: "main" (as found), "folded" (folded in the worker,
    judged in main) or "worker"."""
    frontier.add_listed(Job(1, "http://a.test/", ()), 0.0)
    fetched = []
    while frontier.pending():
        ready = frontier.next_ready(0.0)
        assert isinstance(ready, Fetch)
        result = answer(ready)
        frontier.done(ready, result, 0.0)
        if ready.kind == ROBOTS:
            continue
        fetched.append(ready.url)
        if not ready.links:
            continue
        nofollow = "<meta name=robots>" if ready.url == NOFOLLOW else None
        found = PageLinks(nofollow, WEB.get(ready.url, []))
        if where == "main":
            frontier.add_links(ready, result, found, 0.0)
            continue
        if len(found.links) <= frontier.follow.max_links:  # as the worker folds them
            found = unique_links(found)
        if where == "folded":
            frontier.add_links(ready, result, found, 0.0)
            continue
        fields = tuple(map(tuple, found.links))
        counts = () if found.counts is None else (tuple(found.counts),)
        result = result._replace(links=(found.nofollow, fields, *counts))
        assert ready.judge is not None
        judged = with_verdicts(result, frontier.follow, ready.judge).links
        if type(judged) is not Judged:  # left for the main process to judge
            frontier.add_links(ready, result, found, 0.0)
            continue
        frontier.add_links(ready, result, PageLinks(judged.nofollow, [], []), 0.0, None, judged)
    return fetched, dict(frontier.dropped)


@pytest.mark.parametrize(
    "options",
    [
        {"depth": 2, "deny": ["/no/"]},
        {"depth": 5, "max_pages": 4},
        {"depth": 1, "obey_nofollow": False},
        {"depth": 3, "max_links": 3},  # a page past it: judged in main
        {"depth": 3, "max_links": 8},  # a page past it, fewer keys pass: judged in the worker
        {"depth": 3, "rules": [FollowRule(allow=(re.compile("/[1-4]$"),))]},
    ],
)
def test_links_judged_in_the_worker_lead_where_judging_in_main_does(options: dict) -> None:
    runs = {}
    for where in ("main", "folded", "worker"):
        frontier = Frontier(HostQueues(per_host=1), follow=make_policy(**options))
        runs[where] = crawl(frontier, where)
    assert runs["worker"] == runs["main"] == runs["folded"]
    assert runs["worker"][1]  # something was dropped, for a reason


def test_the_worker_names_each_reason_and_the_digest_of_each_canonical_key() -> None:
    policy = make_policy(depth=1, deny=["/no/"])
    scope = make_scope("host", "http://a.test/")
    links = (("http://a.test/1", False, 0), ("http://b.test/", False, 0),
             ("http://a.test/no/x", False, 0), ("http://a.test/1?", True, 0))  # fmt: skip
    judged = judge_links(policy, (0, 0, scope, True), None, links, (3, 2, 1, 1))
    assert judged.dropped == (("offsite", 2), ("pattern", 1), ("nofollow", 1))
    (url, high, low, origin, rule, count), = judged.passed  # fmt: skip
    assert (url, origin, rule, count) == ("http://a.test/1", "http://a.test", -1, 3)
    from crawler.frontier.canonical import canonical_key
    from crawler.frontier.seen import digest

    assert (high, low) == digest(canonical_key("http://A.TEST:80/1"))
    at_the_limit = judge_links(policy, (1, 0, scope, False), None, links[:1], (1,))
    assert at_the_limit == Judged(None, (), (("depth", 1),))


def test_a_page_that_says_nofollow_counts_every_link_once_per_time() -> None:
    scope = make_scope("host", "http://a.test/")
    links = (("http://a.test/1", False, 0), ("http://a.test/2", False, 0))
    judged = judge_links(make_policy(depth=3), (0, 0, scope, False), "X-Robots-Tag", links, (4, 1))
    assert judged == Judged("X-Robots-Tag", (), (("nofollow", 5),))


def test_links_not_taken_or_past_the_budget_are_left_for_the_main_process() -> None:
    """A page not folded (more links than the budget of links a page) is judged
    here unless as many keys as that budget pass: then where the budget falls
    decides, and only the main process knows which links it takes."""
    policy, scope = make_policy(depth=3, max_links=2), make_scope("host", "http://a.test/")
    base = Page("http://a.test/", 200, "text/html", "", 0, 0, 1)
    same = tuple((f"http://a.test/1#{n}", False, 0) for n in range(3))
    many = tuple((f"http://a.test/{n}", False, 0) for n in range(3))
    for links in (None, "not taken (ValueError)", (None, many)):
        page = base._replace(links=links)
        assert with_verdicts(page, policy, (0, 0, scope, True)) is page
    judged = with_verdicts(base._replace(links=(None, same)), policy, (0, 0, scope, True))
    assert type(judged.links) is Judged
    assert [(row[0], row[-1]) for row in judged.links.passed] == [("http://a.test/1#0", 3)]


def test_a_judged_page_crosses_back_to_the_main_process() -> None:
    scope = make_scope("host", "http://a.test/")
    page = Page("http://a.test/", 200, "text/html", "", 0, 0, 1,
                links=(None, (("http://a.test/1", False, 0),), (2,)))  # fmt: skip
    judged = with_verdicts(page, make_policy(depth=3), (0, 0, scope, True))
    assert type(judged.links) is Judged and judged.links.passed
    assert run_task(lambda url, task_id: judged, judged.url) == judged
    assert pickle.loads(pickle.dumps(judged)) == judged
    bad = judged._replace(links=Judged(None, (("http://a.test/1", "x", 0, "", -1, 1),), ()))
    assert run_task(lambda url, task_id: bad, bad.url).reason.startswith("worker error")
