"""Reading an answer's body within the bounds, Content-Encoding undone: one place,
whichever transport brought the bytes.

`read_body` reads the wire bytes a `Response` streams, undoes each coding its
`Content-Encoding` names (the last applied first; `identity` and names it does not
know are passed over, as urllib3 passes them), and stops:
- past `max_bytes` of decoded body (`TooLarge`): a decoder never makes more than
  what is left under the cap plus one byte from one chunk, so a small gzip bomb
  costs no memory (brotli's decoder cannot be bounded so: a chunk of it may
  inflate whole);
- past the deadline (`TransportError("timed out")`), checked after each read,
  and a read returns after at most one read from the network;
- on bytes that are not what the coding says (`TransportError("body does not match
  its Content-Encoding")`, final).
Once read whole, the body is handed to the response's layers (`Response.body_read`).

`ACCEPT_ENCODING` is what a request says it can read: exactly the codings this
module decodes here (gzip and deflate always; br and zstd when their libraries are
installed, as with requests).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

from crawler.fetching.transports.base import Response, TransportError

CHUNK = 64 * 1024
BAD_CODING = "body does not match its Content-Encoding"


class TooLarge(Exception):
    """The body is over the size cap."""


class _Zlib:
    """gzip (members one after another, as `gzip` and urllib3 read them) or deflate
    (zlib-wrapped, or raw as some servers send it)."""

    def __init__(self, gzip: bool) -> None:
        self.gzip = gzip
        self.bits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
        self.inner = zlib.decompressobj(self.bits)
        self.started = False  # deflate: whether the zlib header was read (else: raw)
        self.pending = b""

    def decode(self, data: bytes, limit: int) -> bytes:
        data = self.pending + data
        self.pending = b""
        out: list[bytes] = []
        while data and limit > 0:
            try:
                chunk = self.inner.decompress(data, limit)
            except zlib.error:
                if self.gzip or self.started:
                    raise
                self.bits = -zlib.MAX_WBITS  # raw deflate, without the zlib header
                self.inner = zlib.decompressobj(self.bits)
                chunk = self.inner.decompress(data, limit)
            self.started = True
            out.append(chunk)
            limit -= len(chunk)
            if self.inner.unconsumed_tail:
                data = self.inner.unconsumed_tail
                continue
            if self.gzip and self.inner.eof and self.inner.unused_data:
                data = self.inner.unused_data  # the next member
                if not data.strip(b"\x00"):
                    break  # padding after the last member
                self.inner = zlib.decompressobj(self.bits)
                continue
            data = b""
        self.pending = data  # what the cap did not let through yet
        return b"".join(out)

    def finish(self) -> bytes:
        return self.inner.flush()  # a stream cut short gives what it had, as urllib3's does


class _Brotli:
    def __init__(self, module: object) -> None:
        self.inner = module.Decompressor()  # type: ignore[attr-defined]
        self.step = getattr(self.inner, "process", None) or self.inner.decompress

    def decode(self, data: bytes, limit: int) -> bytes:
        return self.step(data) if data else b""

    def finish(self) -> bytes:
        flush = getattr(self.inner, "flush", None)
        return (flush() or b"") if flush is not None else b""


class _Zstd:
    """Zstandard frames one after another, each bounded as zlib's are."""

    def __init__(self, module: object) -> None:
        self.module = module
        self.inner = module.ZstdDecompressor()  # type: ignore[attr-defined]

    def decode(self, data: bytes, limit: int) -> bytes:
        out: list[bytes] = []
        while limit > 0:
            chunk = self.inner.decompress(data, max_length=limit)
            data = b""
            out.append(chunk)
            limit -= len(chunk)
            if self.inner.eof:
                data = self.inner.unused_data
                self.inner = self.module.ZstdDecompressor()  # type: ignore[attr-defined]
                if not data:
                    break
            elif self.inner.needs_input:
                break
        return b"".join(out)

    def finish(self) -> bytes:
        return b""


def _optional(*names: str) -> object | None:
    for name in names:
        try:
            return __import__(name, fromlist=["_"])
        except ImportError:
            continue
    return None


_BROTLI = _optional("brotli", "brotlicffi")
_ZSTD = _optional("compression.zstd", "backports.zstd")

DECODERS: dict[str, Callable[[], object]] = {
    "gzip": lambda: _Zlib(True),
    "x-gzip": lambda: _Zlib(True),
    "deflate": lambda: _Zlib(False),
}
if _BROTLI is not None:
    DECODERS["br"] = lambda: _Brotli(_BROTLI)
if _ZSTD is not None:
    DECODERS["zstd"] = lambda: _Zstd(_ZSTD)

# What each decoder raises on bytes that are not its coding.
_LIBRARY_ERRORS = ((_BROTLI, "error"), (_BROTLI, "Error"), (_ZSTD, "ZstdError"))
CODING_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error,
    EOFError,
    *(
        error
        for module, name in _LIBRARY_ERRORS
        if module is not None and isinstance(error := getattr(module, name, None), type)
    ),
)
ACCEPT_ENCODING = ", ".join(name for name in ("gzip", "deflate", "br", "zstd") if name in DECODERS)


def decoders(content_encoding: str | None) -> list:
    """The decoders for a `Content-Encoding` value, in the order to apply them."""
    if not content_encoding:
        return []
    names = [name.strip().lower() for name in content_encoding.split(",")]
    return [DECODERS[name]() for name in reversed(names) if name in DECODERS]


def _through(chain: list, data: bytes, limit: int) -> bytes:
    for decoder in chain:
        data = decoder.decode(data, limit)
    return data


def _finish(chain: list, limit: int) -> bytes:
    data = b""
    for decoder in chain:
        data = (decoder.decode(data, limit) if data else b"") + decoder.finish()
    return data


def read_body(response: Response, max_bytes: int, deadline: float) -> bytes:
    """The body of `response`, decoded (see the module's docstring); TooLarge
    past `max_bytes`, TransportError past `deadline` or for a bad coding."""
    chain = [] if response.decoded else decoders(response.headers.get("Content-Encoding"))
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            wire = response.read1(CHUNK)
            if time.monotonic() > deadline:
                raise TransportError("timed out", True)
            chunk = _through(chain, wire, max_bytes - total + 1) if chain else wire
            if not wire:
                chunk = _finish(chain, max_bytes - total + 1) if chain else b""
            total += len(chunk)
            if total > max_bytes:
                raise TooLarge(f"larger than {max_bytes} bytes")
            chunks.append(chunk)
            if not wire:
                break
    except CODING_ERRORS as error:
        raise TransportError(BAD_CODING, False) from error
    body = b"".join(chunks)
    if response.on_body:
        response.body_read(body)
    return body
