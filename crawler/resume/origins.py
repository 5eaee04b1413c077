"""Which listed URLs teach `crawler.identity` who the crawl is on a site: the first
line of each origin, and the first there with `user:password@`. A resumed run
asks the URL file's reader for those lines again (`crawler.urlfile.UrlFile.read_at`),
since no state holds a password."""

from __future__ import annotations

from crawler.urls import host_key, redact_url


class KnownOrigins:
    """The origins the listed URLs so far were on, and those given a password."""

    def __init__(self) -> None:
        self._prefixes: set[str] = set()  # scheme://host:port as the lines write it
        self._seen: set[str] = set()
        self._with_userinfo: set[str] = set()

    def first(self, url: str) -> bool:
        """Whether `url` is the first listed URL of its origin, or the first there with
        `user:password@` (what `crawler.identity` learns from the URL file)."""
        clean = redact_url(url)
        end = clean.find("/", clean.find("//") + 2)
        prefix = clean if end < 0 else clean[:end]  # the origin as written: a quick look
        if clean == url and prefix in self._prefixes:
            return False
        self._prefixes.add(prefix)
        try:
            origin = host_key(clean)
        except ValueError:
            return False
        new = origin not in self._seen
        self._seen.add(origin)
        if clean != url and origin not in self._with_userinfo:
            self._with_userinfo.add(origin)
            new = True
        return new
