"""The HTTP cache as a layer around a transport it does not know: here the fake one
(crawler.fetching.transports.fake), so what it sends and what it answers is seen whole."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from crawler.fetching.fetch import fetch
from crawler.fetching.httpcache import CacheLayer, HttpCache
from crawler.fetching.transports.fake import FakeTransport
from crawler.model import Page
from crawler.settings import FetchSettings

URL = "http://site.example/page"
SETTINGS = FetchSettings(retries=0)
PAGE = b"<p>the page</p>"


@pytest.fixture
def fake() -> FakeTransport:
    return FakeTransport()


def cached(fake: FakeTransport, tmp_path: Path) -> CacheLayer:
    return CacheLayer(fake, HttpCache(tmp_path / "cache.sqlite"))


@pytest.mark.parametrize(
    ("body", "coding"), [(PAGE, []), (gzip.compress(PAGE), [("Content-Encoding", "gzip")])]
)
def test_a_page_with_a_validator_is_revalidated(
    fake: FakeTransport, tmp_path: Path, body: bytes, coding: list
) -> None:
    fake.add(URL, body=body, headers=[("Content-Type", "text/html"), ("ETag", '"v1"'), *coding])
    fake.add(URL, 304, headers=[("ETag", '"v1"')])
    layer = cached(fake, tmp_path)
    first = fetch(layer, URL, SETTINGS)
    second = fetch(layer, URL, SETTINGS)
    assert isinstance(first, Page) and not first.cached and first.text == PAGE.decode()
    assert isinstance(second, Page) and second.cached
    assert second._replace(cached=False) == first
    asked, revalidating = fake.requests
    assert "If-None-Match" not in asked.headers
    assert revalidating.headers.get("If-None-Match") == '"v1"'


def test_a_fresh_page_is_answered_without_a_request(fake: FakeTransport, tmp_path: Path) -> None:
    fake.add(
        URL, body=PAGE, headers=[("Content-Type", "text/html"), ("Cache-Control", "max-age=600")]
    )
    layer = cached(fake, tmp_path)
    assert not fetch(layer, URL, SETTINGS).cached
    assert fetch(layer, URL, SETTINGS).cached
    assert fake.sent(URL) == 1


def test_a_body_over_the_cap_is_not_stored(fake: FakeTransport, tmp_path: Path) -> None:
    fake.add(URL, body=b"x" * 2000, headers=[("ETag", '"big"'), ("Content-Length", "")])
    layer = cached(fake, tmp_path)
    small = FetchSettings(retries=0, max_bytes=1000)
    assert fetch(layer, URL, small).reason == "larger than 1000 bytes"
    fetch(layer, URL, small)
    assert all("If-None-Match" not in request.headers for request in fake.requests)


def test_closing_the_layer_closes_the_transport(fake: FakeTransport, tmp_path: Path) -> None:
    layer = cached(fake, tmp_path)
    layer.close()
    assert fake.closed and layer.cache.connection is None
