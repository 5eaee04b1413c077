"""The entries of a sitemap or sitemap index, read from its bytes. Pure, no I/O.

- gzip is found by its magic bytes (`1f 8b`), whatever the file's name or type
  says, and inflated as a stream, at most `MAX_INFLATED` bytes (50 MiB, the
  protocol's limit): a gzip bomb stops there, with what was read before it.
- The XML is read as a stream by lxml's `iterparse` with entities left
  unexpanded (`resolve_entities=False`), no DTD loaded and no network access: a
  DOCTYPE's entities (the "billion laughs", an external `file:` entity) expand to
  nothing and fetch nothing.
- `<urlset><url><loc>` are pages, `<sitemapindex><sitemap><loc>` are sitemaps,
  whatever the namespace. At most `MAX_LOCS` (50,000) `<loc>` a file are kept;
  those past it are counted in `over`.
- A file that is not XML, or breaks off, gives what was read before the fault,
  and `problem` says what it was.
"""

from __future__ import annotations

import io
import zlib
from typing import NamedTuple

MAX_INFLATED = 50 * 1024 * 1024
MAX_LOCS = 50_000
GZIP_MAGIC = b"\x1f\x8b"
MAX_LEVELS = 5  # an index's sitemaps are followed this deep, the first sitemap being 1


class Sitemap(NamedTuple):
    pages: list[str]
    sitemaps: list[str]
    over: int = 0  # <loc> past MAX_LOCS, not kept
    problem: str | None = None


class _TooLarge(Exception):
    pass


class _Inflating(io.RawIOBase):
    """A gzip stream inflated as it is read, never past `limit` bytes out."""

    def __init__(self, data: bytes, limit: int) -> None:
        self._data = memoryview(data)
        self._at = 0
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._left = limit
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = len(buffer)
        while not self._pending:
            if self._inflater.unconsumed_tail:
                chunk = self._inflater.unconsumed_tail
            elif self._at < len(self._data) and not self._inflater.eof:
                chunk = self._data[self._at : self._at + 65536]
                self._at += len(chunk)
            else:
                return 0
            self._pending = self._inflater.decompress(chunk, want)
        out, self._pending = self._pending[:want], self._pending[want:]
        self._left -= len(out)
        if self._left < 0:
            raise _TooLarge()
        buffer[: len(out)] = out
        return len(out)


def read_sitemap(
    body: bytes, max_inflated: int = MAX_INFLATED, max_locs: int = MAX_LOCS
) -> Sitemap:
    """The pages and sitemaps a sitemap file lists (see the module docstring)."""
    from lxml import etree  # only --sitemaps needs it

    if body.startswith(GZIP_MAGIC):
        source: io.BufferedIOBase = io.BufferedReader(_Inflating(body, max_inflated), 65536)
    else:  # white space before `<?xml ...?>` is an XML error lxml would stop at
        source = io.BytesIO(body[:max_inflated].lstrip(b" \t\r\n"))
    pages: list[str] = []
    sitemaps: list[str] = []
    over = 0
    problem = None
    try:
        events = etree.iterparse(
            source,
            events=("end",),
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
        )
        for _, element in events:
            tag = element.tag
            if not isinstance(tag, str):
                continue
            local = tag.rpartition("}")[2]
            if local == "loc":
                above = element.getparent()
                kind = above.tag.rpartition("}")[2] if above is not None else ""
                text = (element.text or "").strip()
                if text and kind in ("url", "sitemap"):
                    if len(pages) + len(sitemaps) >= max_locs:
                        over += 1
                    else:
                        (pages if kind == "url" else sitemaps).append(text)
            elif local in ("url", "sitemap"):
                _forget(element)
        if problem is None and len(body) > max_inflated and not body.startswith(GZIP_MAGIC):
            problem = f"larger than {max_inflated} bytes"
    except _TooLarge:
        problem = f"larger than {max_inflated} bytes inflated"
    except zlib.error:
        problem = "bad gzip data"
    except etree.XMLSyntaxError as error:
        problem = f"not valid XML ({error.msg})" if (pages or sitemaps) else "not a sitemap"
    except EOFError:
        problem = "gzip data cut short"
    return Sitemap(pages, sitemaps, over, problem)


def _forget(element) -> None:
    """Free an entry once read, and the entries before it, so memory stays flat."""
    element.clear()
    above = element.getparent()
    if above is not None:
        while element.getprevious() is not None:
            del above[0]
