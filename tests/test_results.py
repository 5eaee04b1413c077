"""What a finished fetch leads to (crawler.results), with a spy frontier, a spy
writer and a spy identity: which lines a page gets, which links are admitted, and
in which order (the cookies kept, then the frontier told, then the links admitted,
then the lines written, as `--resume` relies on)."""

from __future__ import annotations

import io
import threading
from typing import Any, NamedTuple

import pytest

from crawler.frontier import Entry, Fetch
from crawler.frontier.core import LISTED, ROBOTS, SITEMAP
from crawler.frontier.policy import FollowPolicy, make_policy
from crawler.frontier.rules import FollowRule
from crawler.model import Failure, Link, Page, Result
from crawler.page.selectors import Expression
from crawler.report import Reporter
from crawler.results import Outputs, Results

pytestmark = pytest.mark.usefixtures("linker")  # tests/conftest.py

URL = "http://a.test/"
SITEMAP_XML = (
    '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    "<url><loc>http://a.test/s1</loc></url></urlset>"
)


class Spy:
    """The frontier, the writer and the identity of one page, each telling `events`
    what it was asked, in order."""

    def __init__(self, policy: FollowPolicy) -> None:
        self.events: list[tuple[str, Any]] = []
        self.follow = policy
        self.following = policy.follows
        self.dropped: dict[str, int] = {}

    # the frontier
    def settle(self, fetch: Fetch, result: Result, now: float) -> tuple[Result, list]:
        self.events.append(("settle", fetch.url))
        given_back = isinstance(result, Failure) and result.status == 429
        return (None if given_back else result), []  # given back: sent again later

    def add_links(self, fetch, page, found, now, made=None, judged=None) -> list[tuple[str, str]]:
        self.events.append(("links", [link.url for link in found.links]))
        return [(link.url, "offsite") for link in found.links if "elsewhere" in link.url]

    def add_sitemap(self, fetch, sitemap, now) -> list[tuple[str, str]]:
        self.events.append(("sitemap", sitemap.pages))
        return []

    def ends_quietly(self, entry: Entry | None) -> bool:
        return False

    # the writer
    def append(self, lines: list[str]) -> None:
        self.events.append(("write", list(lines)))

    # the identity
    def absorb(self, result: Result) -> None:
        if result.cookies:
            self.events.append(("absorb", [value for _, value in result.cookies]))


def html(links: object = (None, ()), text: str = "<p>hi</p>", **fields: Any) -> Page:
    return Page(URL, 200, "text/html", text, len(text), len(text), 1, links=links, **fields)


FOLLOW = make_policy(depth=1)
JSON_RULES = make_policy(depth=1, rules=[FollowRule(jmespath=Expression("items[].url"))])
LINKED = (None, (Link("http://a.test/one"), Link("http://elsewhere.test/")))
JSON_TEXT = '{"items": [{"url": "/j1"}, {"url": "j2"}]}'


class Case(NamedTuple):
    result: object
    events: list[tuple[str, Any]]
    policy: FollowPolicy = FOLLOW
    parsers: tuple[str, ...] = ()
    kind: str = LISTED
    failed: int = 0
    leads_on: bool = True  # Fetch.links: False at the depth limit


CASES = {
    "a page's links, then its lines": Case(
        html(LINKED),
        [
            ("settle", URL),
            ("links", ["http://a.test/one", "http://elsewhere.test/"]),
            ("write", [f"url:<{URL}> size:[9]"]),
        ],
    ),
    "no links admitted when the run does not follow": Case(
        html(), [("settle", URL), ("write", [f"url:<{URL}> size:[9]"])], policy=make_policy()
    ),
    "its parsers' links after its own": Case(
        html(LINKED),
        [
            ("settle", URL),
            ("links", ["http://a.test/one", "http://elsewhere.test/", "http://a.test/from-parser"]),
            ("write", [f"url:<{URL}> size:[9]", f'linker:<{URL}> {{"found": "yes"}}']),
        ],
        parsers=("linker",),
    ),
    "a JSON page's links, resolved against it": Case(
        Page(URL, 200, "application/json", JSON_TEXT, 42, 42, 1, links=(None, ())),
        [
            ("settle", URL),
            ("links", ["http://a.test/j1", "http://a.test/j2"]),
            ("write", [f"url:<{URL}> size:[42]"]),
        ],
        policy=JSON_RULES,
    ),
    "a sitemap's entries, then its line": Case(
        Page(URL, 200, "application/xml", SITEMAP_XML, 10, 10, 1),
        [("settle", URL), ("sitemap", ["http://a.test/s1"]), ("write", [f"url:<{URL}> size:[10]"])],
        kind=SITEMAP,
    ),
    "a sitemap that cannot be read says so": Case(
        Page(URL, 200, "application/xml", "not xml", 7, 7, 1),
        [
            ("settle", URL),
            ("sitemap", []),
            ("write", [f"url:<{URL}> size:[7]", f"error:<{URL}> sitemap: not a sitemap"]),
        ],
        kind=SITEMAP,
        failed=1,
    ),
    "cookies are kept before the host is free": Case(
        html(cookies=((URL, "k=v"),)),
        [("absorb", ["k=v"]), ("settle", URL), ("links", []), ("write", [f"url:<{URL}> size:[9]"])],
    ),
    "a parser that fails: its error line beside the page's": Case(
        html(LINKED),
        [
            ("settle", URL),
            ("links", ["http://a.test/one", "http://elsewhere.test/"]),
            ("write", [f"url:<{URL}> size:[9]", f"error:<{URL}> board: no entries found"]),
        ],
        parsers=("board",),
        failed=1,
    ),
    "links the worker could not take: why, as a failure": Case(
        html("not taken (ValueError)"),
        [
            ("settle", URL),
            ("links", []),
            ("write", [f"url:<{URL}> size:[9]", f"error:<{URL}> links: not taken (ValueError)"]),
        ],
        failed=1,
    ),
    "a failure: its error line, no links": Case(
        Failure("http://elsewhere/", "HTTP 404", 1),
        [("settle", URL), ("write", [f"error:<{URL}> HTTP 404"])],
        failed=1,
    ),
    "an answer that is not a result": Case(
        "not a result",
        [("settle", URL), ("write", [f"error:<{URL}> worker error: bad result str"])],
        failed=1,
    ),
    "a robots.txt: the frontier's alone": Case(html(LINKED), [("settle", URL)], kind=ROBOTS),
    "a 429 given back: no line until its next answer": Case(
        Failure(URL, "HTTP 429", 1, status=429), [("settle", URL)]
    ),
    "a page at the depth limit: its lines, no links": Case(
        html(LINKED), [("settle", URL), ("write", [f"url:<{URL}> size:[9]"])], leads_on=False
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_what_a_finished_fetch_leads_to_and_in_which_order(case: Case) -> None:
    spy = Spy(case.policy)
    rejected = io.StringIO()
    outputs = Outputs(spy, Reporter(progress=False, stream=io.StringIO()), rejected)  # type: ignore[arg-type]
    results = Results(spy, outputs, threading.Lock(), lambda: 0.0, spy)  # type: ignore[arg-type]
    entry = None if case.kind == ROBOTS else Entry(URL, case.parsers, case.kind)
    fetch = Fetch(case.kind, URL, "http://a.test", entry, links=case.leads_on)
    results.finished(fetch, case.result)  # type: ignore[arg-type]
    assert spy.events == case.events
    written = sum(event == "write" for event, _ in case.events)
    assert (results.stats.ok, results.stats.failed) == (written - case.failed, case.failed)
    if any(event == "links" and "http://elsewhere.test/" in urls for event, urls in case.events):
        assert rejected.getvalue() == f"offsite\thttp://elsewhere.test/\t{URL}\n"
