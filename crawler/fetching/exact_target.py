"""The request target sent as the URL spells it, not as requests and urllib3 re-spell it.

A found link is resolved as a browser resolves it (`crawler.page.links`), and
a browser sends that URL's path and query as they are. requests' `requote_uri`
and urllib3's `_encode_target` re-spell some: `/foo%` goes out as `/foo%25`,
`/[61:24:74]` as `/%5B61:24:74%5D`, and an empty query (`test?`) is lost. So:

1. a URL that is plain ASCII with no space or control character is sent exactly
   (`is_exact`); another (a listed URL with a raw space, say) is left to requests;
2. the target is the URL from the first `/` or `?` after the host to the `#`,
   with a `/` in front when the path is empty (`target_of`);
3. the adapter hands urllib3 that target, and the pools made here put it back in
   place of urllib3's re-spelling of it (`exact_pool_classes`), on the thread that
   is sending it (`sending`). Through a proxy, nothing changes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from urllib3.util.url import _encode_target

_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
_local = threading.local()


def is_exact(url: str) -> bool:
    """Whether `url` can go out exactly as spelled (see the module docstring, 1)."""
    return url.isascii() and _UNSAFE.search(url) is None and "://" in url


def target_of(url: str) -> str:
    """The request target of absolute `url`: path and query, no fragment."""
    rest = url.partition("://")[2]
    ends = [index for index in (rest.find("/"), rest.find("?")) if index >= 0]
    target = rest[min(ends) :].partition("#")[0] if ends else ""
    return target if target.startswith("/") else "/" + target


def current() -> str | None:
    """The exact target this thread is sending, if any (see `sending`)."""
    return getattr(_local, "target", None)


@contextmanager
def sending(target: str) -> Iterator[None]:
    """The requests this thread sends in the block go out with `target`."""
    _local.target = target
    try:
        yield
    finally:
        _local.target = None


class _ExactTarget:
    def _make_request(self, conn: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        target = current()
        if target is not None and target != url:
            try:
                if _encode_target(target) == url:  # urllib3's spelling of ours: send ours
                    url = target
            except ValueError:
                pass
        return super()._make_request(conn, method, url, *args, **kwargs)  # type: ignore[misc]


def exact_pool_classes(classes: dict[str, type]) -> dict[str, type]:
    """`classes` (a PoolManager's pool class per scheme), each sending exact targets."""
    return {
        scheme: type(f"Exact{cls.__name__}", (_ExactTarget, cls), {})
        for scheme, cls in classes.items()
    }
