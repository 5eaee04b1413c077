"""crawler.fetching.httpcache with the worker's fetch, in-process against the test server."""

from __future__ import annotations

import base64
import multiprocessing
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from crawler.fetching import cache_store, cache_upkeep
from crawler.fetching.body import read_body
from crawler.fetching.credentials import Credentials, SiteRule
from crawler.fetching.fetch import fetch, make_transport
from crawler.fetching.httpcache import CacheLayer, HttpCache
from crawler.fetching.transports.base import Headers, Request
from crawler.model import Failure, Page
from crawler.settings import FetchSettings
from tests.conftest import crawl_env
from tests.server import TestServer


def settings(tmp_path: Path, **changes) -> FetchSettings:
    return replace(FetchSettings(cache_path=tmp_path / "cache.sqlite", retries=0), **changes)


def stored(cache: Path) -> int:
    """How many answers the cache file holds, once this process's held writes are
    committed (as a worker's exit commits them)."""
    cache_store.commit_all()
    with sqlite3.connect(cache) as connection:
        return connection.execute("SELECT count(*) FROM responses").fetchone()[0]


def carrying(server: TestServer, name: str, value: str) -> Credentials:
    """A header the run sends to the test server's origin (as `--header` does)."""
    return Credentials((SiteRule(server.base, ((name, value),)),))


def test_the_cache_does_not_read_a_body_before_the_worker(server, tmp_path: Path) -> None:
    """The worker streams the body within its bounds; the cache waits for it."""
    transport = make_transport(settings(tmp_path))
    assert isinstance(transport, CacheLayer)
    response = transport.send(Request(server.url("/etag/big?bytes=5000000"), Headers(), None))
    try:
        assert len(read_body(response, 10_000_000, time.monotonic() + 30)) == 5_000_000
    finally:
        response.close()


def test_a_large_page_is_cut_off_and_not_stored(server, tmp_path: Path) -> None:
    config = settings(tmp_path, max_bytes=100_000)
    session = make_transport(config)
    for path in ("/etag/big?bytes=2000000", "/big?bytes=2000000&length=0", "/gzip-bomb"):
        result = fetch(session, server.url(path), config)
        assert result == Failure(server.url(path), "larger than 100000 bytes", 1)
    assert stored(config.cache_path) == 0


def test_the_deadline_holds_with_the_cache(server, tmp_path: Path) -> None:
    config = settings(tmp_path, timeout=1.0)
    result = fetch(make_transport(config), server.url("/drip?bytes=50&every=0.2"), config)
    assert result.reason == "timed out after 1 attempt"


def test_a_revalidated_page_is_the_same_page(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    for path in ("/etag/a", "/lastmod/b"):
        first = fetch(make_transport(config), server.url(path), config)
        second = fetch(make_transport(config), server.url(path), config)
        assert isinstance(first, Page) and not first.cached
        assert isinstance(second, Page) and second.cached
        assert second._replace(cached=False) == first
    assert server.not_modified == 2


def test_a_gzip_body_is_kept_as_the_wire_sent_it(server, tmp_path: Path) -> None:
    """Not decoded and compressed again: stored as it came, and read back through
    the same decoder, the page is the same."""
    config = settings(tmp_path)
    url = server.url("/etag/z?gzip=1")
    first = fetch(make_transport(config), url, config)
    second = fetch(make_transport(config), url, config)
    assert isinstance(first, Page) and isinstance(second, Page) and second.cached
    assert second._replace(cached=False) == first
    cache_store.commit_all()
    with sqlite3.connect(config.cache_path) as connection:
        kept, body = connection.execute("SELECT compressed, body FROM responses").fetchone()
    assert (kept, body[:2]) == (cache_store.WIRE, b"\x1f\x8b")


def test_a_cache_left_by_a_killed_run_opens_without_a_warning(server, tmp_path: Path) -> None:
    """A kill -9 may cost the writes still held (a cache), never a warning."""
    config = settings(tmp_path)
    code = (
        "import os, signal, sys\n"
        "from crawler.fetching.fetch import fetch, make_transport\n"
        "from crawler.settings import FetchSettings\n"
        "from pathlib import Path\n"
        f"config = FetchSettings(cache_path=Path({str(config.cache_path)!r}), retries=0)\n"
        "transport = make_transport(config)\n"
        f"for n in range(80): fetch(transport, {server.url('/etag/k')!r} + str(n), config)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", code], env=crawl_env(), timeout=60)
    assert killed.returncode == -signal.SIGKILL
    said: list[str] = []
    cache_upkeep.prepare(config.cache_path, said.append)
    assert said == []
    assert stored(config.cache_path) > 0  # the batches committed before the kill
    again = fetch(make_transport(config), server.url("/etag/k0"), config)
    assert isinstance(again, Page) and again.cached


def test_a_changed_page_is_fetched_in_full_and_stored_again(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    first = fetch(make_transport(config), server.url("/etag/a"), config)
    server.version = 2
    changed = fetch(make_transport(config), server.url("/etag/a"), config)
    again = fetch(make_transport(config), server.url("/etag/a"), config)
    assert not changed.cached and changed.size == first.size + 2  # "!" in title and body
    assert again.cached and again._replace(cached=False) == changed
    assert server.not_modified == 1


def test_revalidating_keeps_the_connection(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    session = make_transport(config)
    for _ in range(2):
        for n in range(5):
            assert isinstance(fetch(session, server.url(f"/etag/{n}"), config), Page)
    assert server.not_modified == 5
    assert server.connections == 1


def test_pages_without_validators_are_not_stored(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    session = make_transport(config)
    result = fetch(session, server.url("/page/plain"), config)
    assert isinstance(result, Page) and result.text  # fetched, and still not stored
    assert server.count("/page/plain") == 1
    assert stored(config.cache_path) == 0


def test_an_unusable_cache_file_costs_only_the_cache(server, tmp_path: Path) -> None:
    broken = tmp_path / "cache.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    config = settings(tmp_path)
    result = fetch(make_transport(config), server.url("/etag/x"), config)
    assert isinstance(result, Page)


def _fetch_many(cache: str, base: str, first: int) -> int:
    config = FetchSettings(cache_path=Path(cache), retries=0)
    session = make_transport(config)
    fetched = 0
    for n in range(first, first + 25):
        fetched += isinstance(fetch(session, f"{base}/etag/{n}", config), Page)
    session.close()  # as a worker's exit does: the Pool's terminate would kill it first
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


def every_byte(folder: Path) -> bytes:
    """Everything the files under `folder` hold (the cache, its WAL and key...),
    once this process's held writes are committed."""
    cache_store.commit_all()
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def forms(secret: str) -> list[bytes]:
    """`secret` as a file might hold it: plain, base64 (alone and in a Basic
    credential), percent-encoded."""
    raw = secret.encode()
    return [raw, base64.b64encode(raw), quote(secret, safe="").encode()]


def test_one_identity_s_page_is_never_served_to_another(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    alice, bob = secrets.token_hex(16), secrets.token_hex(16)

    def get(token: str, path: str) -> Page:
        who = carrying(server, "Authorization", f"Bearer {token}")
        result = fetch(make_transport(config), server.url(path), config, credentials=who)
        assert isinstance(result, Page)
        return result

    for path in ("/cache/private/a", "/cache/fresh/a"):
        assert not get(alice, path).cached
        assert get(alice, path).cached  # hers, again: revalidated, or still fresh
        before = server.count(path)
        assert not get(bob, path).cached  # his is another identity: asked in full
        assert server.count(path) == before + 1
    asked_by_bob = [h for h in server.seen_headers if h.get("Authorization") == f"Bearer {bob}"]
    assert asked_by_bob and all("If-None-Match" not in h for h in asked_by_bob)
    held = every_byte(tmp_path)
    for secret in (alice, bob):
        assert not any(form in held for form in forms(secret))


def test_cookies_and_passwords_are_keyed_and_never_written(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    cookie, password, set_by_site = (secrets.token_hex(12) for _ in range(3))
    server.cookie_value = set_by_site
    url = server.url("/cache/cookie/a").replace("http://", f"http://alice:{password}@")
    session = make_transport(config)
    who = carrying(server, "Cookie", f"session={cookie}")
    assert not fetch(session, url, config, credentials=who).cached
    assert fetch(session, url, config, credentials=who).cached
    assert server.not_modified == 1
    other = make_transport(config)
    assert not fetch(other, server.url("/cache/cookie/a"), config).cached  # no credentials
    held = every_byte(tmp_path)
    assert b"/cache/cookie/a" in held  # the URL is there, without its user:password@
    basic = f"alice:{password}"
    for secret in (cookie, password, basic, set_by_site):
        assert not any(form in held for form in forms(secret)), secret


def test_the_cache_s_files_are_its_owner_s_only(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    before = os.umask(0o022)
    try:
        session = make_transport(config)
        assert isinstance(fetch(session, server.url("/etag/a"), config), Page)
        made = sorted(tmp_path.iterdir())
        assert {path.name for path in made} >= {
            "cache.sqlite",
            "cache.sqlite-wal",
            "cache.sqlite-shm",
            "cache.sqlite.key",
        }
        assert {path.name: oct(path.stat().st_mode & 0o777) for path in made} == {
            path.name: "0o600" for path in made
        }
    finally:
        os.umask(before)


def test_no_store_is_obeyed(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    for _ in range(2):
        assert not fetch(make_transport(config), server.url("/cache/nostore/a"), config).cached
    assert stored(config.cache_path) == 0
    asks = carrying(server, "Cache-Control", "no-store")  # the request's own word
    assert not fetch(make_transport(config), server.url("/etag/a"), config, None, asks).cached
    assert stored(config.cache_path) == 0


def test_vary_is_obeyed(server, tmp_path: Path) -> None:
    config = settings(tmp_path)

    def get(language: str) -> Page:
        who = carrying(server, "Accept-Language", language)
        return fetch(make_transport(config), server.url("/cache/vary/a"), config, None, who)

    english = get("en")
    assert get("en").cached
    chinese = get("zh")
    assert not chinese.cached and chinese.text != english.text
    assert get("zh").cached


def test_a_fresh_page_is_served_without_a_request(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    first = fetch(make_transport(config), server.url("/cache/fresh/a"), config)
    again = fetch(make_transport(config), server.url("/cache/fresh/a"), config)
    assert again.cached and again._replace(cached=False) == first
    assert server.count("/cache/fresh/a") == 1
    asks = carrying(server, "Cache-Control", "no-cache")  # asked again, whatever it says
    assert not fetch(
        make_transport(config), server.url("/cache/fresh/a"), config, None, asks
    ).cached
    assert server.count("/cache/fresh/a") == 2


def test_a_cache_locked_mid_run_costs_one_wait_per_thread(server, tmp_path: Path) -> None:
    config = settings(tmp_path)
    session = make_transport(config)
    assert not fetch(session, server.url("/etag/a"), config).cached  # stored: site known
    assert isinstance(session, CacheLayer)
    session.cache.close()
    session.cache = HttpCache(config.cache_path, busy_timeout=0.3)
    holder = sqlite3.connect(config.cache_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock, and keeps it
    try:
        started = time.monotonic()
        for n in range(5):
            assert isinstance(fetch(session, server.url(f"/etag/locked-{n}"), config), Page)
        assert time.monotonic() - started < 2.0  # one wait of 0.3 s, not five
        assert fetch(session, server.url("/etag/a"), config).cached  # still read
    finally:
        holder.close()
