"""The archive layer and the replay transport around `fetch`, with the fake
transport: each hop is captured as it went over the wire, a body cut at the size
cap is marked truncated, and a fetch replayed from the archive is the live page."""

from __future__ import annotations

import dataclasses
import gzip
import zlib
from pathlib import Path

from crawler.archive.replay import archive_files, build_index
from crawler.archive.writer import ArchiveWriter
from crawler.fetching.archiving import ArchivingTransport, take
from crawler.fetching.fetch import fetch
from crawler.fetching.transports.fake import FakeTransport
from crawler.fetching.transports.replay import ReplayTransport
from crawler.model import Failure, Page
from crawler.settings import FetchSettings

SITE = "http://site.example"
SETTINGS = FetchSettings(retries=0, backoff_initial=0, backoff_max=0)
PAGE = "<html><body><p>caf\u00e9</p></body></html>".encode()


def site() -> FakeTransport:
    fake = FakeTransport()
    fake.redirect(f"{SITE}/old", f"{SITE}/new")
    fake.add(f"{SITE}/new", body=gzip.compress(PAGE, mtime=0),
             headers=[("Content-Type", "text/html; charset=utf-8"),
                      ("Content-Encoding", "gzip")])  # fmt: skip
    fake.add(f"{SITE}/big", body=b"x" * 5000, headers=[("Content-Type", "text/plain")])
    return fake


def unzipped(member: bytes) -> bytes:
    return zlib.decompress(member, 31)


def test_each_hop_is_captured_with_the_body_as_it_came() -> None:
    layer = ArchivingTransport(site(), frozenset({"x-key"}))
    take()
    page = fetch(layer, f"{SITE}/old", SETTINGS)
    assert isinstance(page, Page) and page.text == PAGE.decode()
    hop, final = take()
    assert (hop.url, hop.status, final.url, final.status) == (
        f"{SITE}/old", 302, f"{SITE}/new", 200,
    )  # fmt: skip
    assert final.ip == "127.0.0.1" and final.length == len(gzip.compress(PAGE, mtime=0))
    response = unzipped(final.response)
    assert b"Content-Encoding: gzip" in response and gzip.compress(PAGE, mtime=0) in response
    assert unzipped(final.request).split(b"\r\n\r\n", 1)[1].startswith(b"GET /new HTTP/1.1\r\n")
    assert take() == ()


def test_a_body_cut_at_the_size_cap_is_marked_truncated() -> None:
    layer = ArchivingTransport(site())
    take()
    result = fetch(layer, f"{SITE}/big", dataclasses.replace(SETTINGS, max_bytes=100))
    assert isinstance(result, Failure) and result.reason.startswith("larger than")
    (capture,) = take()
    assert b"WARC-Truncated: length" in unzipped(capture.response)


def test_a_fetch_replayed_from_the_archive_is_the_live_page(tmp_path: Path) -> None:
    layer = ArchivingTransport(site())
    take()
    live = fetch(layer, f"{SITE}/old", SETTINGS)
    writer = ArchiveWriter(tmp_path, "RUN", 1 << 30, [], print)
    writer.write(take())
    writer.close()
    replay = ReplayTransport(build_index(archive_files(str(tmp_path)), print))
    replayed = fetch(replay, f"{SITE}/old", SETTINGS)
    assert replayed == live
    missing = fetch(replay, f"{SITE}/elsewhere", SETTINGS)
    assert isinstance(missing, Failure) and missing.reason == "not in the archive"
