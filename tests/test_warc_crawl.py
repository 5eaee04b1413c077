"""`--warc` and `--replay` in real crawls against a site on 127.0.0.1: the archive
holds every request that reached the server (redirect hops, robots.txt, a 404, a
gzip body as it came), warcio and FastWARC read it with its digests, a replay of it
writes the same db.txt lines with no connection opened, and `crawl parse` reads it."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import fastwarc.warc as fastwarc
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import records, run_crawl, write_urls
from tests.site_server import Site, links

CONFIG = '[parsers.para.fields]\ntext = "p::text"\n'


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site().start()
    accepted: list[int] = []
    accept = site.httpd.get_request

    def counting():  # every TCP connection the server accepts
        accepted.append(1)
        return accept()

    site.httpd.get_request = counting  # type: ignore[method-assign]
    site.accepted = accepted  # type: ignore[attr-defined]
    site.page("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain")
    home = links("/a", "/old", "/same1", "/same2", "/gz", "/missing")
    site.page("/", home.replace("<body>", "<body><p>home</p>"))
    site.page("/a", "<p>page a</p>")
    site.redirect("/old", "/c")
    site.page("/c", "<p>page c, moved</p>")
    same = "<p>the same body twice</p>"
    site.page("/same1", same)
    site.page("/same2", same)
    site.page("/gz", gzip.compress(b"<p>zipped</p>", mtime=0), headers={"Content-Encoding": "gzip"})
    yield site
    site.stop()


def crawl(site: Site, tmp_path: Path, out: str, *extra: str, config: str = ""):
    (tmp_path / "crawl.toml").write_text(config + CONFIG)
    urls = write_urls(tmp_path / "urls.txt", f"{site.url('/')}  para")
    db = tmp_path / out / "db.txt"
    result = run_crawl(str(urls), "--output", str(db), "--config", str(tmp_path / "crawl.toml"),
                       "--depth", "1", "--workers", "2", "--no-progress", *extra)  # fmt: skip
    return result, db


def without_runs(db: Path) -> list[str]:
    return sorted(line for line in records(db) if not line.startswith("run:"))


def warcio_records(path: Path) -> list:
    with open(path, "rb") as stream:
        return [
            (record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
             record.http_headers, record.content_stream().read())
            for record in ArchiveIterator(stream, check_digests="raise")
        ]  # fmt: skip


def test_an_archive_holds_every_exchange_and_replays_to_the_same_lines(
    site: Site, tmp_path: Path
) -> None:
    live, db = crawl(site, tmp_path, "live", "--warc", str(tmp_path / "arc/"))
    assert live.returncode == 1, live.stderr  # /missing is a 404
    (path,) = (tmp_path / "arc").glob("crawl-*-00000.warc.gz")
    assert path.with_suffix("").with_suffix(".cdxj").exists()
    found = warcio_records(path)
    kinds = [kind for kind, *_ in found]
    assert kinds[0] == "warcinfo"
    answered = {uri: (kind, http.get_statuscode(), body) for kind, uri, http, body in found
                if kind in ("response", "revisit")}  # fmt: skip
    for name in ("/robots.txt", "/", "/a", "/old", "/c", "/same1", "/same2", "/gz", "/missing"):
        assert site.url(name) in answered, name
    assert answered[site.url("/old")][1] == "302"
    assert answered[site.url("/missing")][1] == "404"
    assert answered[site.url("/gz")] == ("response", "200", b"<p>zipped</p>")
    assert sorted(answered[site.url(n)][0] for n in ("/same1", "/same2")) == [
        "response",
        "revisit",
    ]
    requests = [uri for kind, uri, *_ in found if kind == "request"]
    assert sorted(requests) == sorted(answered)  # one request for each answer
    assert all("<" not in uri for uri in requests)
    for record in fastwarc.ArchiveIterator(str(path), parse_http=False, fsspec_args=False):
        assert record.verify_block_digest(consume=False)

    connections = len(site.accepted)  # type: ignore[attr-defined]
    replayed, replay_db = crawl(site, tmp_path, "replay", "--replay", str(tmp_path / "arc"))
    assert replayed.returncode == 1, replayed.stderr
    assert without_runs(replay_db) == without_runs(db)
    assert len(site.accepted) == connections  # type: ignore[attr-defined]

    parsed = run_crawl("parse", "para", str(path), "--config", str(tmp_path / "crawl.toml"))
    assert parsed.returncode == 0, parsed.stderr
    shown = parsed.stdout.splitlines()
    live_para = [line for line in without_runs(db) if line.startswith("para:")]
    assert live_para == [f'para:<{site.url("/")}> {{"text": "home"}}']
    for line in [*live_para, f'para:<{site.url("/gz")}> {{"text": "zipped"}}',
                 f'para:<{site.url("/c")}> {{"text": "page c, moved"}}']:  # fmt: skip
        assert line in shown, shown


def test_a_url_the_archive_lacks_is_not_in_the_archive(site: Site, tmp_path: Path) -> None:
    live, _ = crawl(site, tmp_path, "live", "--depth", "0", config='warc = "arc"\n')
    assert live.returncode == 0, live.stderr
    urls = write_urls(tmp_path / "more.txt", site.url("/"), site.url("/a"))
    connections = len(site.accepted)  # type: ignore[attr-defined]
    result = run_crawl(str(urls), "--output", str(tmp_path / "db.txt"),
                       "--replay", str(tmp_path / "arc" / "*.warc.gz"))  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert records(tmp_path / "db.txt", "error") == [f"error:<{site.url('/a')}> not in the archive"]
    assert len(site.accepted) == connections  # type: ignore[attr-defined]


def test_a_304_from_the_caches_revalidation_is_a_revisit_and_replays_as_the_page(
    server, tmp_path: Path
) -> None:
    urls = write_urls(tmp_path / "urls.txt", server.url("/etag/one"))
    db = tmp_path / "out" / "db.txt"
    for run in ("first", "second"):  # the same output: the second revalidates (HTTP cache)
        result = run_crawl(str(urls), "--output", str(db), "--warc", str(tmp_path / run))
        assert result.returncode == 0, result.stderr
    assert server.not_modified == 1
    (second,) = (tmp_path / "second").glob("*.warc.gz")
    (revisit,) = [record for record in warcio_records(second) if record[0] == "revisit"]
    _, uri, http, _ = revisit
    assert (uri, http.get_statuscode()) == (server.url("/etag/one"), "304")
    # It names the answer it confirms, as replay tools look it up: the first run's.
    (first,) = (tmp_path / "first").glob("*.warc.gz")
    with open(first, "rb") as stream:
        (original,) = [
            r for r in ArchiveIterator(stream)
            if r.rec_type == "response" and r.rec_headers.get_header("WARC-Target-URI") == uri
        ]  # fmt: skip
    with open(second, "rb") as stream:
        (header,) = [r.rec_headers for r in ArchiveIterator(stream) if r.rec_type == "revisit"]
    assert header.get_header("WARC-Refers-To-Target-URI") == server.url("/etag/one")
    refers_to = header.get_header("WARC-Refers-To-Date")
    served = parsedate_to_datetime(original.http_headers.get_header("Date"))
    assert refers_to == served.strftime("%Y-%m-%dT%H:%M:%SZ")
    captured = original.rec_headers.get_header("WARC-Date")
    assert abs(datetime.fromisoformat(captured[:-1] + "+00:00") - served).total_seconds() < 2
    replayed = run_crawl(str(urls), "--output", str(tmp_path / "replay.txt"),
                         "--replay", str(tmp_path / "*" / "*.warc.gz"))  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    assert records(tmp_path / "replay.txt", "url") == records(db, "url")[:1]
