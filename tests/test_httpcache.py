"""crawler.fetching.httpcache with the worker's fetch, in-process against the test server."""

from __future__ import annotations

import multiprocessing
import sqlite3
from dataclasses import replace
from pathlib import Path

from crawler.fetching.fetch import fetch, make_session
from crawler.model import Failure, Page
from crawler.settings import FetchSettings
from tests.server import TestServer


def settings(tmp_path: Path, **changes) -> FetchSettings:
    return replace(FetchSettings(cache_path=tmp_path / "cache.sqlite", retries=0), **changes)


def stored(cache: Path) -> int:
    """How many answers the cache file holds."""
    with sqlite3.connect(cache) as connection:
        return connection.execute("SELECT count(*) FROM responses").fetchone()[0]


def test_the_cache_does_not_read_a_body_before_the_worker(server, tmp_path: Path) -> None:
    """The worker streams the body within its bounds; the cache waits for it."""
    session = make_session(settings(tmp_path))
    response = session.get(server.url("/etag/big?bytes=5000000"), stream=True, timeout=10)
    try:
        assert response._content_consumed is False
        assert response.raw.tell() == 0
    finally:
        response.close()


def test_a_large_page_is_cut_off_and_not_stored(server, tmp_path: Path) -> None:
    config = settings(tmp_path, max_bytes=100_000)
    session = make_session(config)
    for path in ("/etag/big?bytes=2000000", "/big?bytes=2000000&length=0", "/gzip-bomb"):
        result = fetch(session, server.url(path), config)
        assert result == Failure(server.url(path), "larger than 100000 bytes", 1)
    assert stored(config.cache_path) == 0


def test_the_deadline_holds_with_the_cache(server, tmp_path: Path) -> None:
    config = settings(tmp_path, timeout=1.0)
    result = fetch(make_session(config), server.url("/drip?bytes=50&every=0.2"), config)
    assert result.reason == "timed out after 1 attempt"


def test_a_revalidated_page_is_the_same_page(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    for path in ("/etag/a", "/lastmod/b"):
        first = fetch(make_session(config), server.url(path), config)
        second = fetch(make_session(config), server.url(path), config)
        assert isinstance(first, Page) and not first.cached
        assert isinstance(second, Page) and second.cached
        assert second._replace(cached=False) == first
    assert server.not_modified == 2


def test_a_changed_page_is_fetched_in_full_and_stored_again(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    first = fetch(make_session(config), server.url("/etag/a"), config)
    server.version = 2
    changed = fetch(make_session(config), server.url("/etag/a"), config)
    again = fetch(make_session(config), server.url("/etag/a"), config)
    assert not changed.cached and changed.size == first.size + 2  # "!" in title and body
    assert again.cached and again._replace(cached=False) == changed
    assert server.not_modified == 1


def test_revalidating_keeps_the_connection(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    session = make_session(config)
    for _ in range(2):
        for n in range(5):
            assert isinstance(fetch(session, server.url(f"/etag/{n}"), config), Page)
    assert server.not_modified == 5
    assert server.connections == 1


def test_pages_without_validators_are_not_stored(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    session = make_session(config)
    result = fetch(session, server.url("/page/plain"), config)
    assert isinstance(result, Page) and result.text  # fetched, and still not stored
    assert server.count("/page/plain") == 1
    assert stored(config.cache_path) == 0


def test_an_unusable_cache_file_costs_only_the_cache(server, tmp_path: Path) -> None:
    broken = tmp_path / "cache.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    config = settings(tmp_path)
    result = fetch(make_session(config), server.url("/etag/x"), config)
    assert isinstance(result, Page)


def _fetch_many(cache: str, base: str, first: int) -> int:
    config = FetchSettings(cache_path=Path(cache), retries=0)
    session = make_session(config)
    fetched = 0
    for n in range(first, first + 25):
        fetched += isinstance(fetch(session, f"{base}/etag/{n}", config), Page)
    return fetched


def test_several_processes_write_one_cache_at_once(server: TestServer, tmp_path: Path) -> None:
    # fork only to start quickly on a loaded CI: what is tested is SQLite under
    # concurrent writers, each process with its own connection.
    cache = str(tmp_path / "cache.sqlite")
    with multiprocessing.get_context("fork").Pool(4) as pool:
        counts = pool.starmap(_fetch_many, [(cache, server.base, 25 * n) for n in range(4)])
    assert counts == [25] * 4
    assert stored(Path(cache)) == 100
    assert _fetch_many(cache, server.base, 0) == 25
    assert server.not_modified == 25
