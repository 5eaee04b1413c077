"""crawler.fetching.body: a body's Content-Encoding undone under the size cap, the same for
every transport (the answers here are in memory, as a fake's or a replay's are)."""

from __future__ import annotations

import gzip
import time
import zlib

import pytest

from crawler.fetching.body import ACCEPT_ENCODING, DECODERS, TooLarge, read_body
from crawler.fetching.transports.base import BytesResponse, Headers, Request, TransportError

TEXT = b"<p>" + b"a page of text " * 200 + b"</p>"


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def answer(body: bytes, coding: str | None = None) -> BytesResponse:
    headers = Headers([("Content-Encoding", coding)] if coding else [])
    return BytesResponse(Request("http://site.example/", Headers()), 200, headers, body)


def read(body: bytes, coding: str | None = None, cap: int = 100_000) -> bytes:
    return read_body(answer(body, coding), cap, time.monotonic() + 10)


CODED = [
    ("identity", TEXT, None),
    ("identity", TEXT, "identity"),
    ("unknown coding, passed over", TEXT, "x-unknown"),
    ("gzip", gzip.compress(TEXT), "gzip"),
    ("x-gzip", gzip.compress(TEXT), "x-gzip"),
    ("gzip, two members", gzip.compress(TEXT[:100]) + gzip.compress(TEXT[100:]), "gzip"),
    ("deflate, zlib-wrapped", zlib.compress(TEXT), "deflate"),
    ("deflate, raw as some servers send it", raw_deflate(TEXT), "Deflate"),
    ("two codings, the last applied first", gzip.compress(zlib.compress(TEXT)), "deflate, gzip"),
]
if "br" in DECODERS:
    import brotli

    CODED.append(("br", brotli.compress(TEXT), "br"))
if "zstd" in DECODERS:
    from backports import zstd

    CODED.append(("zstd, two frames", zstd.compress(TEXT[:9]) + zstd.compress(TEXT[9:]), "zstd"))


@pytest.mark.parametrize(
    ("body", "coding"), [case[1:] for case in CODED], ids=[c[0] for c in CODED]
)
def test_each_coding_is_undone(body: bytes, coding: str | None) -> None:
    assert read(body, coding) == TEXT


def test_what_a_request_accepts_is_what_is_decoded() -> None:
    assert set(ACCEPT_ENCODING.split(", ")) == set(DECODERS) - {"x-gzip"}


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_bomb_stops_at_the_cap(coding: str) -> None:
    bomb = (
        gzip.compress(b"\0" * 50_000_000) if coding == "gzip" else zlib.compress(b"\0" * 50_000_000)
    )
    assert len(bomb) < 100_000
    with pytest.raises(TooLarge, match="larger than 1000 bytes"):
        read(bomb, coding, cap=1000)


def test_a_body_at_the_cap_is_kept() -> None:
    assert read(gzip.compress(b"y" * 1000), "gzip", cap=1000) == b"y" * 1000


@pytest.mark.parametrize(
    ("body", "coding"),
    [(b"not gzip", "gzip"), (b"not deflate at all", "deflate")]
    + ([(b"not brotli", "br")] if "br" in DECODERS else []),
)
def test_bytes_that_are_not_their_coding(body: bytes, coding: str) -> None:
    with pytest.raises(TransportError, match="body does not match its Content-Encoding"):
        read(body, coding)


def test_a_stored_body_is_not_decoded_again() -> None:
    stored = answer(TEXT, "gzip")
    stored.decoded = True  # a cache's answer: its body was decoded when stored
    assert read_body(stored, 100_000, time.monotonic() + 10) == TEXT


def test_the_layers_get_the_body_once_it_is_whole() -> None:
    got: list[bytes] = []
    response = answer(gzip.compress(TEXT), "gzip")
    response.on_body.append(lambda _, body: got.append(body))
    read_body(response, 100_000, time.monotonic() + 10)
    assert got == [TEXT]
    over = answer(TEXT)
    over.on_body.append(lambda _, body: got.append(body))
    with pytest.raises(TooLarge):
        read_body(over, 10, time.monotonic() + 10)
    assert got == [TEXT]  # a body over the cap is nobody's


def test_past_the_deadline_is_a_timeout() -> None:
    with pytest.raises(TransportError, match="timed out") as raised:
        read_body(answer(TEXT), 100_000, time.monotonic() - 1)
    assert raised.value.transient
