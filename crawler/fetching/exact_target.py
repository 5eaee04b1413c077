"""The request target sent as the URL spells it, not as requests and urllib3 re-spell it.

A found link is resolved as a browser resolves it (`crawler.page.links`), and
a browser sends that URL's path and query as they are. HTTP libraries re-spell
some (requests and urllib3 do): `/foo%` goes out as `/foo%25`,
`/[61:24:74]` as `/%5B61:24:74%5D`, and an empty query (`test?`) is lost. So:

1. a URL that is plain ASCII with no space or control character is sent exactly
   (`is_exact`); another (a listed URL with a raw space, say) is left to the
   transport to spell;
2. the target is the URL from the first `/` or `?` after the host to the `#`,
   with a `/` in front when the path is empty (`target_of`);
3. the request carries that target (`Request.target`), and the transport sends it
   as it is (`crawler.fetching.transports.http` puts it back in place of urllib3's
   re-spelling of it). Through a proxy, nothing changes.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


def is_exact(url: str) -> bool:
    """Whether `url` can go out exactly as spelled (see the module docstring, 1)."""
    return url.isascii() and _UNSAFE.search(url) is None and "://" in url


def target_of(url: str) -> str:
    """The request target of absolute `url`: path and query, no fragment."""
    rest = url.partition("://")[2]
    ends = [index for index in (rest.find("/"), rest.find("?")) if index >= 0]
    target = rest[min(ends) :].partition("#")[0] if ends else ""
    return target if target.startswith("/") else "/" + target
