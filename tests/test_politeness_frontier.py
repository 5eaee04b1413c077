"""The frontier when sites say slow down: a 429 or 503 the worker gives back is
sent again after the site's pause, up to the attempts, and a site whose
Retry-After is past --max-wait gets its URLs' error lines; every URL one line."""

from __future__ import annotations

import math

from crawler.frontier import ROBOTS, Fetch, Frontier, Refused, make_policy
from crawler.frontier.politeness import HostQueues
from crawler.model import Failure, Job, Link, Page, Result
from crawler.page.links import PageLinks

SLOW = "http://slow.example"
FINE = "http://fine.example"


def page(url: str) -> Page:
    return Page(url, 200, "text/html", "", 0, 0, 1)


def told(url: str, status: int = 429, retry_after: str = "") -> Failure:
    """A 429 or 503 as the worker gives it back."""
    return Failure(url, f"HTTP {status}", 1, True, status=status, retry_after=retry_after)


def run(frontier: Frontier, urls: list[str], answer, links: dict[str, list[str]] | None = None):
    """Run the frontier to its end on a fake clock that jumps to the next ready
    time; every robots.txt is a 404. The lines each URL got, and the clock at
    the end."""
    for number, url in enumerate(urls, 1):
        assert frontier.add_listed(Job(number, url, ()), 0.0)
    lines: dict[str, list[str]] = {}
    now = 0.0
    for _ in range(10_000):
        if not frontier.pending():
            return lines, now
        ready = frontier.next_ready(now)
        if ready is None:
            later = frontier.next_ready_at()
            assert later is not None and later > now, "pending, yet nothing will be ready"
            now = later
            continue
        if isinstance(ready, Refused):
            assert ready.recorded
            lines.setdefault(ready.entry.url, []).append(ready.reason)
            continue
        assert isinstance(ready, Fetch)
        result: Result = (
            Failure(ready.url, "HTTP 404", 1) if ready.kind == ROBOTS else answer(ready.url)
        )
        settled, _ = frontier.settle(ready, result, now)
        if settled is None or ready.kind == ROBOTS:
            continue
        lines.setdefault(ready.url, []).append(
            "ok" if isinstance(settled, Page) else f"{settled.reason} ({settled.attempts})"
        )
        if isinstance(settled, Page) and links:
            found = PageLinks(None, [Link(url) for url in links.get(ready.url, [])])
            frontier.add_links(ready, settled, found, now)
    raise AssertionError("the run did not end")


def frontier(**options) -> Frontier:
    hosts = HostQueues(per_host=2, max_wait=60.0, wall=lambda: 1_800_000_000.0)
    return Frontier(hosts, robots_agent="crawl", **options)


def test_a_url_told_to_wait_is_sent_again_after_the_pause() -> None:
    told_once: set[str] = set()

    def answer(url: str) -> Result:
        if url.startswith(SLOW) and url not in told_once:
            told_once.add(url)
            return told(url, 429, "5")
        return page(url)

    urls = [f"{SLOW}/{n}" for n in range(3)] + [f"{FINE}/{n}" for n in range(3)]
    lines, now = run(frontier(), urls, answer)
    assert lines == {url: ["ok"] for url in urls}
    assert now >= 5.0  # the pause was waited, on the fake clock


def test_a_url_told_to_wait_every_time_fails_after_the_attempts() -> None:
    lines, _ = run(frontier(attempts=3), [f"{SLOW}/a"], lambda url: told(url, 503))
    assert lines == {f"{SLOW}/a": ["HTTP 503 after 3 attempts (3)"]}


def test_a_site_past_max_wait_gets_its_urls_error_lines_found_ones_too() -> None:
    slow = [f"{SLOW}/{n}" for n in range(4)]
    fine = [f"{FINE}/{n}" for n in range(4)]

    def answer(url: str) -> Result:
        return told(url, 429, "3600") if url.startswith(SLOW) else page(url)

    hosts = HostQueues(per_host=2, max_wait=60.0)
    following = Frontier(hosts, robots_agent="crawl", follow=make_policy(depth=math.inf))
    lines, now = run(following, [*slow, *fine], answer, {fine[0]: [f"{SLOW}/found"]})
    reason = "rate limited: the site asks to wait 3600 s"
    assert {url: lines[url] for url in slow} == {
        url: [reason + " (1)" if n == 0 else reason] for n, url in enumerate(slow)
    }
    assert {url: lines[url] for url in fine} == {url: ["ok"] for url in fine}
    assert now < 1.0  # nothing waited for
    assert [(s.host, s.answers_429, s.given_up) for s in hosts.slowed()] == [(SLOW, 1, True)]


def test_a_robots_txt_told_to_wait_past_max_wait_gives_the_site_up() -> None:
    frontier_ = frontier()
    lines: dict[str, list[str]] = {}
    assert frontier_.add_listed(Job(1, f"{SLOW}/a", ()), 0.0)
    robots = frontier_.next_ready(0.0)
    assert isinstance(robots, Fetch) and robots.kind == ROBOTS
    frontier_.settle(robots, told(robots.url, 429, "99999999999999999999999"), 0.0)
    refused = frontier_.next_ready(0.0)
    assert isinstance(refused, Refused)
    lines[refused.entry.url] = [refused.reason]
    assert lines == {f"{SLOW}/a": ["rate limited: the site asks to wait more than 60 s"]}
