"""crawler.frontier.sitemaps: a sitemap's entries from its bytes, within the protocol's limits,
whatever a hostile file tries (a gzip bomb, entities, more than 50,000 entries)."""

from __future__ import annotations

import gzip
import time
import zlib

from crawler.frontier.sitemaps import MAX_INFLATED, MAX_LOCS, read_sitemap

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*locs: str) -> bytes:
    entries = "".join(f"<url><loc>{loc}</loc><lastmod>2026-01-01</lastmod></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS}>{entries}</urlset>'.encode()


def test_pages_of_a_urlset() -> None:
    sitemap = read_sitemap(urlset(" http://a.test/1 ", "http://a.test/2"))
    assert sitemap.pages == ["http://a.test/1", "http://a.test/2"]
    assert (sitemap.sitemaps, sitemap.over, sitemap.problem) == ([], 0, None)


def test_sitemaps_of_an_index() -> None:
    body = (
        f"<sitemapindex {NS}><sitemap><loc>http://a.test/s1.xml.gz</loc></sitemap></sitemapindex>"
    )
    sitemap = read_sitemap(body.encode())
    assert (sitemap.pages, sitemap.sitemaps) == ([], ["http://a.test/s1.xml.gz"])


def test_without_a_namespace_too() -> None:
    assert read_sitemap(b"<urlset><url><loc>http://a.test/</loc></url></urlset>").pages == [
        "http://a.test/"
    ]


def test_gzip_is_found_by_its_magic_bytes() -> None:
    assert read_sitemap(gzip.compress(urlset("http://a.test/z"))).pages == ["http://a.test/z"]


def test_a_gzip_bomb_stops_at_50_mib() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    entries = b"<url><loc>http://a.test/x</loc></url>" * 10_000
    chunks = [packer.compress(b"<urlset>")]
    chunks += [packer.compress(entries) for _ in range(300)]  # 110 MiB inflated
    body = b"".join([*chunks, packer.compress(b"</urlset>"), packer.flush()])
    assert len(body) < 2 * 1024 * 1024
    started = time.monotonic()
    sitemap = read_sitemap(body)
    assert time.monotonic() - started < 30
    assert sitemap.problem == f"larger than {MAX_INFLATED} bytes inflated"
    assert len(sitemap.pages) == MAX_LOCS  # what was read before it counts


def test_at_most_50000_entries_the_rest_counted() -> None:
    sitemap = read_sitemap(urlset(*(f"http://a.test/{n}" for n in range(MAX_LOCS + 1))))
    assert len(sitemap.pages) == MAX_LOCS and sitemap.over == 1
    assert sitemap.pages[-1] == f"http://a.test/{MAX_LOCS - 1}"


def test_a_doctype_with_entities_expands_nothing_and_reads_no_file() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE urlset ['
        b'<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
        b'<!ENTITY xxe SYSTEM "file:///etc/hostname"><!ENTITY net SYSTEM "http://127.0.0.1:9/x">]>'
        b"<urlset><url><loc>http://a.test/&lol3;</loc></url><url><loc>&xxe;</loc></url>"
        b"<url><loc>&net;</loc></url><url><loc>http://a.test/plain</loc></url></urlset>"
    )
    sitemap = read_sitemap(body)
    assert sitemap.pages == ["http://a.test/", "http://a.test/plain"]


def test_a_file_that_is_not_a_sitemap() -> None:
    for body in [b"", b"not xml", b"<html><body><a href='x'>x</a>", gzip.compress(b"nope")[:12]]:
        sitemap = read_sitemap(body)
        assert sitemap.pages == [] and sitemap.problem is not None


def test_a_file_cut_short_gives_what_came_before() -> None:
    sitemap = read_sitemap(urlset("http://a.test/1", "http://a.test/2")[:-70])
    assert sitemap.pages == ["http://a.test/1"] and sitemap.problem.startswith("not valid XML")


def test_locs_outside_url_and_sitemap_are_not_entries() -> None:
    body = b"<urlset><loc>http://a.test/stray</loc><url><image><loc>http://a.test/i.png</loc></image></url></urlset>"
    assert read_sitemap(body).pages == []
