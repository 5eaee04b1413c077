"""The real `crawl` command, politely: robots.txt, per-host bounds and delays,
pausing a host for its Retry-After, and revalidating pages between runs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.records import read_line
from tests.conftest import records, run_crawl, write_urls
from tests.server import TestServer


@pytest.fixture
def hosts() -> Iterator[list[TestServer]]:
    """Three servers on 127.0.0.1: three hosts, since the key is scheme://host:port."""
    servers = [TestServer().start() for _ in range(3)]
    yield servers
    for server in servers:
        server.stop()


def crawl(tmp_path: Path, urls: list[str], *options: str, timeout: float = 60):
    db = tmp_path / "db.txt"
    listed = write_urls(tmp_path / "urls.txt", *urls)
    result = run_crawl(str(listed), "--output", str(db), "--workers", "3", *options,
                       timeout=timeout)  # fmt: skip
    return result, db


ROBOTS = """\
User-agent: *
Disallow: /page/*secret
Disallow: /*.pdf$
Allow: /page/top-secret-ok$

User-agent: otherbot
Disallow: /
"""


def test_robots_txt_is_obeyed_with_wildcards_and_fetched_once(server, tmp_path: Path) -> None:
    server.robots = ROBOTS
    paths = ["/page/a", "/page/the-secret", "/page/top-secret-ok", "/page/b.pdf",
             "/page/b.pdf?v=1", "/page/c", "/page/d"]  # fmt: skip
    result, db = crawl(tmp_path, [server.url(p) for p in paths])
    assert result.returncode == 1, result.stderr
    refused = {server.url(p) for p in ("/page/the-secret", "/page/b.pdf")}
    assert sorted(records(db, "error")) == sorted(
        f"error:<{url}> disallowed by robots.txt" for url in refused
    )
    fetched = {read_line(line).key for line in records(db, "url")}
    assert fetched == {server.url(p) for p in paths} - refused
    assert server.count("/robots.txt") == 1
    assert server.count("/page/the-secret") == 0


def test_ignore_robots(server, tmp_path: Path) -> None:
    server.robots = "User-agent: *\nDisallow: /\n"
    result, db = crawl(tmp_path, [server.url("/page/a")], "--ignore-robots")
    assert result.returncode == 0, result.stderr
    assert len(records(db, "url")) == 1
    assert server.count("/robots.txt") == 0


def test_robots_txt_matches_our_user_agent(server, tmp_path: Path) -> None:
    server.robots = "User-agent: *\nDisallow: /\n\nUser-agent: mybot\nAllow: /\n"
    urls = [server.url("/page/a")]
    result, db = crawl(tmp_path, urls, "--user-agent", "mybot/2.0")
    assert result.returncode == 0 and len(records(db, "url")) == 1
    result, db = crawl(tmp_path, urls)  # crawl/VERSION falls in the * group
    assert records(db, "error") == [f"error:<{urls[0]}> disallowed by robots.txt"]


def test_robots_404_allows_all_and_5xx_means_try_later(hosts, tmp_path: Path) -> None:
    missing, down, _ = hosts
    down.robots, down.robots_status = "User-agent: *\nAllow: /\n", 503
    urls = [missing.url("/page/a"), down.url("/page/b"), down.url("/page/c")]
    result, db = crawl(tmp_path, urls, "--retries", "0")
    assert result.returncode == 1
    assert records(db, "url") == [f"url:<{urls[0]}> size:[{len(_page('a'))}]"]
    assert sorted(records(db, "error")) == [
        f"error:<{url}> robots.txt unavailable (HTTP 503 after 1 attempt); try later"
        for url in urls[1:]
    ]
    assert down.count("/page/b") == down.count("/page/c") == 0


def _page(name: str) -> str:
    from tests.server import page_text

    return page_text(name)


def gaps(server: TestServer) -> list[float]:
    times = sorted(server.arrivals)
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_crawl_delay_spaces_requests(server, tmp_path: Path) -> None:
    server.robots = "User-agent: *\nCrawl-delay: 1\nDisallow: /private\n"
    urls = [server.url(f"/count/{n}?seconds=0") for n in range(3)]
    result, _db = crawl(tmp_path, urls)
    assert result.returncode == 0, result.stderr
    assert server.max_active == 1
    assert min(gaps(server)) >= 0.95  # never shorter than asked; jitter only adds


def test_per_host_bound_and_no_starvation(hosts, tmp_path: Path) -> None:
    big, small_b, small_c = hosts
    urls = [big.url(f"/count/{n}?seconds=0.4") for n in range(24)]
    urls += [small.url(f"/count/{n}?seconds=0.1") for small in (small_b, small_c) for n in range(4)]
    result, db = crawl(tmp_path, urls, "--workers", "8", "--per-host", "2")
    assert result.returncode == 0, result.stderr
    assert [server.max_active for server in hosts] == [2, 2, 2]
    finished = [read_line(line).key for line in records(db, "url")]
    small_done = max(i for i, url in enumerate(finished) if not url.startswith(big.base))
    assert small_done < 16, "the hosts listed last waited for the big one"
    assert "per-host limits held workers back" in result.stderr


def test_default_per_host_bound_is_4(server, tmp_path: Path) -> None:
    urls = [server.url(f"/count/{n}?seconds=0.5") for n in range(12)]
    result, _db = crawl(tmp_path, urls, "--workers", "8")
    assert result.returncode == 0, result.stderr
    assert server.max_active == 4


def test_a_429_pauses_the_whole_host_for_its_retry_after(server, tmp_path: Path) -> None:
    """The URL that got the 429 is sent again after the pause, and nothing else of
    its host goes out before: one line per URL, none failed."""
    urls = [server.url("/count/0?seconds=0"), server.url("/retry-after/k?value=1&fail=1")]
    urls += [server.url(f"/count/{n}?seconds=0") for n in (1, 2)]
    result, db = crawl(tmp_path, urls, "--per-host", "1")
    assert result.returncode == 0, result.stderr
    assert len(records(db, "url")) == 4
    assert server.count("/retry-after/k") == 2
    assert len(server.arrivals) == 3
    assert gaps(server)[0] >= 0.95  # /count/1 waited for the second Retry-After asked


def test_delay_option_spaces_requests(server, tmp_path: Path) -> None:
    urls = [server.url(f"/count/{n}?seconds=0") for n in range(3)]
    result, _db = crawl(tmp_path, urls, "--delay", "0.5")
    assert result.returncode == 0, result.stderr
    assert server.max_active == 1
    assert min(gaps(server)) >= 0.45


@pytest.mark.parametrize("route", ["etag", "lastmod"])
def test_unchanged_pages_are_revalidated_with_the_same_records(
    server, tmp_path: Path, route: str
) -> None:
    urls = [server.url(f"/{route}/{n}") for n in range(12)] + [server.url("/board")]
    first, db = crawl(tmp_path, [*urls[:-1], urls[-1] + " board"])
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "http-cache.sqlite").is_file()
    once = [line for line in records(db) if not line.startswith("run:")]
    second, db = crawl(tmp_path, [*urls[:-1], urls[-1] + " board"])
    assert second.returncode == 0, second.stderr
    lines = [line for line in records(db) if not line.startswith("run:")]
    assert lines == once + once or sorted(lines[len(once) :]) == sorted(once)
    assert server.not_modified == 12
    size = len(_page(f"{route} 0").encode())
    assert "; 12 unchanged (cache), " in second.stderr
    saved = int(second.stderr.split(" unchanged (cache), ")[1].split()[0])
    assert saved >= 12 * size


def test_no_cache_fetches_in_full(server, tmp_path: Path) -> None:
    urls = [server.url(f"/etag/{n}") for n in range(3)]
    for _ in range(2):
        result, _db = crawl(tmp_path, urls, "--no-cache")
        assert result.returncode == 0, result.stderr
    assert server.not_modified == 0
    assert not (tmp_path / "http-cache.sqlite").exists()
    assert "unchanged" not in result.stderr


def test_cache_option_names_the_file(server, tmp_path: Path) -> None:
    cache = tmp_path / "elsewhere" / "c.sqlite"
    result, _db = crawl(tmp_path, [server.url("/etag/a")], "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    assert cache.is_file()


def test_size_cap_holds_with_the_cache(server, tmp_path: Path) -> None:
    urls = [server.url("/etag/big?bytes=3000000"), server.url("/gzip-bomb?bytes=30000000")]
    _result, db = crawl(tmp_path, urls, "--max-bytes", "100000")
    assert sorted(records(db, "error")) == sorted(
        f"error:<{url}> larger than 100000 bytes" for url in urls
    )
