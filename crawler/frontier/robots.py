"""robots.txt: what a fetch of it means, and what it allows. Pure, no I/O.

The main process decides: the first URL of an origin (scheme, host, port: the
unit RFC 9309 gives a robots.txt) makes the scheduler send `/robots.txt` to the
pool as an ordinary task, capped at `ROBOTS_MAX_BYTES`, while that origin's URLs
wait. Its result comes back here, to `interpret`, which decides in this order:

1. a page (2xx, after redirects): its rules, parsed with Protego (the parser
   Scrapy uses; the stdlib's mishandles `*` and `$`). A body that is not text
   has no rules: everything is allowed.
2. `HTTP 4xx` that was not retried (404, 410, 401, 403...): there is no
   robots.txt, everything is allowed (RFC 9309 2.3.1.3, Google's convention).
3. anything else (5xx, 429 or 408 after the retries, a timeout, a refused
   connection, a robots.txt over the cap): unavailable. The origin's URLs are
   not fetched in this run; each gets `error:<URL> robots.txt unavailable (...);
   try later` (RFC 9309 2.3.1.4: assume complete disallow).

The verdict is kept for the rest of the run, so robots.txt is fetched once per
origin per run (between runs the HTTP cache revalidates it like any page), a run
continued by `--resume` included: what was read is in its journal
(`what_was_read`, `interpret_again`).
`Crawl-delay` of the group that matches our User-Agent becomes the origin's
minimum delay, capped at `MAX_CRAWL_DELAY` so one site cannot stall a cron run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protego import Protego

from crawler.model import Failure, Result

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 2.5: crawlers must parse at least 500 KiB
MAX_CRAWL_DELAY = 60.0
DISALLOWED = "disallowed by robots.txt"
_NOT_RETRIED_4XX = re.compile(r"HTTP 4\d\d")


def robots_url(origin: str) -> str:
    """The robots.txt of an origin such as `http://example.com` or `http://127.0.0.1:8080`."""
    return origin + "/robots.txt"


@dataclass(frozen=True)
class Robots:
    """What one origin's robots.txt says. `rules` None means everything is allowed;
    `unavailable` names why robots.txt could not be read (then nothing is)."""

    rules: Protego | None = None
    unavailable: str | None = None

    def refusal(self, url: str, user_agent: str) -> str | None:
        """Why `url` must not be fetched, or None if it may be."""
        if self.unavailable is not None:
            return f"robots.txt unavailable ({self.unavailable}); try later"
        if self.rules is not None and not self.rules.can_fetch(url, user_agent):
            return DISALLOWED
        return None

    def crawl_delay(self, user_agent: str) -> float:
        """Seconds between requests the site asks of us (0 if it says nothing)."""
        if self.rules is None:
            return 0.0
        delay = self.rules.crawl_delay(user_agent)
        return min(float(delay), MAX_CRAWL_DELAY) if delay and delay > 0 else 0.0


ALLOW_ALL = Robots()


def interpret(result: Result) -> Robots:
    """The verdict for a fetch of robots.txt (see the module docstring for the order)."""
    if isinstance(result, Failure):
        if _NOT_RETRIED_4XX.fullmatch(result.reason):
            return ALLOW_ALL
        return Robots(unavailable=result.reason)
    if result.text is None:
        return ALLOW_ALL
    return parse(result.text)


def what_was_read(result: Result) -> dict[str, str | None]:
    """What `interpret` decides from, as plain data (for the resume journal): the
    failure's reason, or the page's text."""
    if isinstance(result, Failure):
        return {"failure": result.reason}
    return {"text": result.text}


def interpret_again(read: dict[str, str | None]) -> Robots:
    """`interpret` of what `what_was_read` kept."""
    if "failure" in read:
        return interpret(Failure("", str(read["failure"]), 1))
    text = read.get("text")
    return ALLOW_ALL if text is None else parse(text)


def parse(text: str) -> Robots:
    """Rules from the text of a robots.txt; one that Protego cannot read allows all."""
    try:
        return Robots(rules=Protego.parse(text))
    except Exception:  # noqa: BLE001 - a malformed robots.txt must not stop the run
        return ALLOW_ALL
