"""The archive of one run (`--warc`): what its `warcinfo` records say, the
writer opened for the run, and the pool around which results leave their records
in the archive on their way to the loop (`crawler.archive.writer` writes them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crawler import __version__
from crawler.archive.records import SECRET_HEADERS
from crawler.archive.writer import ArchiveWriter
from crawler.settings import RunSettings


def warcinfo_fields(settings: RunSettings, run_id: str) -> list[tuple[str, str]]:
    """What each file's `warcinfo` record says: who wrote it, the run, the options
    that shape what was fetched, and what was redacted."""
    fetch = settings.fetch
    shaping = {
        "user-agent": fetch.user_agent,
        "depth": settings.depth,
        "scope": settings.scope,
        "allow": " ".join(settings.allow),
        "deny": " ".join(settings.deny),
        "max-pages": settings.max_pages,
        "robots": "obeyed" if settings.obey_robots else "ignored",
        "nofollow": "ignored" if settings.ignore_nofollow else "obeyed",
        "sitemaps": settings.sitemaps,
        "max-bytes": fetch.max_bytes,
        "timeout": fetch.timeout,
        "retries": fetch.retries,
        "max-redirects": fetch.max_redirects,
        "per-host": settings.per_host,
        "delay": settings.delay,
        "http-cache": "on" if fetch.cache_path is not None else "off",
        "replay": settings.replay,
    }
    secret = ", ".join(sorted(SECRET_HEADERS | fetch.secret_headers))
    return [
        ("software", f"crawl/{__version__}"),
        ("format", "WARC File Format 1.1"),
        ("conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"),
        ("isPartOf", run_id),
        *((f"crawl-{name}", str(value)) for name, value in shaping.items()
          if value not in (None, "", ())),
        ("crawl-redacted", f"the values of these headers are 'redacted': {secret}; "
                           "no user:password@ in any URI"),
    ]  # fmt: skip


def open_archive(settings: RunSettings, run_id: str, say: Callable[[str], None]) -> ArchiveWriter:
    """The run's archive (`--warc`), its first file open; ArchiveError if not."""
    assert settings.warc is not None
    info = warcinfo_fields(settings, run_id)
    return ArchiveWriter(settings.warc, run_id, settings.warc_max_size, info, say)


class ArchivingPool:
    """`pool`, with the records each result carries (`Page.archived`,
    `Failure.archived`) written to `archive` before the result goes on, without
    them, to the callback: a page's records are in the archive before its lines
    are in `db.txt`. Everything else is the pool's."""

    def __init__(self, pool: Any, archive: ArchiveWriter) -> None:
        self.pool = pool
        self.archive = archive

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)

    def apply_async(
        self,
        func: Any,
        args: tuple = (),
        kwds: dict | None = None,
        callback: Callable[[Any], None] | None = None,
        error_callback: Callable[[BaseException], None] | None = None,
    ) -> Any:
        def archived(result: Any) -> None:
            captures = getattr(result, "archived", ())
            if captures:
                self.archive.write(captures)  # never raises
                result = result._replace(archived=())
            if callback is not None:
                callback(result)

        return self.pool.apply_async(func, args, kwds, callback=archived,
                                     error_callback=error_callback)  # fmt: skip
