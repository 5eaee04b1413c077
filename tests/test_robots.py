"""crawler.frontier.robots: what a robots.txt fetch means, and what the rules allow."""

from __future__ import annotations

import pytest

from crawler.frontier.robots import ALLOW_ALL, DISALLOWED, MAX_CRAWL_DELAY, interpret, parse
from crawler.model import Failure, Page
from crawler.settings import DEFAULT_USER_AGENT

UA = DEFAULT_USER_AGENT
ROBOTS = """\
User-agent: *
Disallow: /

User-agent: crawl
Disallow: /*.pdf$
Disallow: /private*/
Allow: /private-ok/
Disallow: /*?session=
Crawl-delay: 1.5
"""


def page(text: str | None) -> Page:
    return Page("", 200, "text/plain", text, 0, 0, 1)


@pytest.mark.parametrize(
    ("result", "allows_all", "unavailable"),
    [
        (Failure("", "HTTP 404", 1), True, False),
        (Failure("", "HTTP 410", 1), True, False),
        (Failure("", "HTTP 403", 1), True, False),  # RFC 9309: any 4xx means no rules
        (Failure("", "HTTP 429 after 3 attempts", 3), False, True),
        (Failure("", "HTTP 503 after 3 attempts", 3), False, True),
        (Failure("", "HTTP 500 after 1 attempt", 1), False, True),
        (Failure("", "timed out after 3 attempts", 3), False, True),
        (Failure("", "connection failed after 3 attempts", 3), False, True),
        (Failure("", "larger than 524288 bytes", 1), False, True),
        (Failure("", "worker lost", 1), False, True),
        (page(None), True, False),  # not text: no rules
        (page(""), False, False),
    ],
)
def test_what_a_fetch_means(result, allows_all: bool, unavailable: bool) -> None:
    robots = interpret(result)
    assert (robots is ALLOW_ALL) == allows_all
    assert (robots.unavailable is not None) == unavailable
    refusal = robots.refusal("http://h/anything", UA)
    if unavailable:
        assert refusal.startswith("robots.txt unavailable (") and refusal.endswith("try later")
    else:
        assert refusal is None


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/", True),
        ("/page/a", True),
        ("/doc.pdf", False),
        ("/doc.pdf?x=1", True),  # $ anchors the end
        ("/a/b/c.pdf", False),
        ("/private/x", False),
        ("/private-stuff/x", False),
        ("/private-ok/x", True),  # the longer Allow wins
        ("/list?session=9", False),
        ("/list?page=2", True),
    ],
)
def test_wildcards_for_our_user_agent(path: str, allowed: bool) -> None:
    refusal = parse(ROBOTS).refusal("http://h" + path, UA)
    assert refusal == (None if allowed else DISALLOWED)


def test_other_agents_follow_their_own_group() -> None:
    assert parse(ROBOTS).refusal("http://h/page/a", "SomeBot/1.0") == DISALLOWED


def test_crawl_delay_of_our_group_capped() -> None:
    assert parse(ROBOTS).crawl_delay(UA) == 1.5
    assert parse("User-agent: *\nCrawl-delay: 86400\n").crawl_delay(UA) == MAX_CRAWL_DELAY
    assert parse("User-agent: *\nDisallow: /x\n").crawl_delay(UA) == 0.0
    assert ALLOW_ALL.crawl_delay(UA) == 0.0
