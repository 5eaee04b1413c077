"""WARC/1.1 records, each its own gzip member: pure functions from what was sent
and received to bytes a file can take as they are.

- `capture(exchange)` turns one request that reached a server, and its answer,
  into a `Capture`: the `request` record and the `response` record (or, for a
  304, no response record: the main process writes a `revisit` for it), each a
  whole gzip member, with what the archive's index and its revisits need (for a
  304 to the cache's revalidation, the confirmed answer's date: `refers_to_date`). It runs
  in the fetch worker, so the compression costs the coordinator nothing.
- `revisit(capture, profile, refers_to_uri, refers_to_date)` is the `revisit`
  record the main process writes in place of a response: a 304
  (`server-not-modified`) or a body already in this run's archive
  (`identical-payload-digest`); its block is the HTTP header block alone.
- `warcinfo(fields)` is the first record of every file.

What a record holds, in order of decisions:
1. Secrets go first: the values of `Authorization`, `Proxy-Authorization`,
   `Cookie`, `Set-Cookie` (and `Set-Cookie2`), and of every header the run's
   identity binds to a site (`secret_names`: a `--header`, a `[sites]` header),
   become `redacted`, the name kept; a `user:password@` in any URI (the target,
   `Location`, `Content-Location`, `Referer`) is taken out.
2. The HTTP blocks are the bytes of the request and of the answer as they went
   over the wire: the request line with the exact target, the status line, each
   header in the order received (Latin-1, as HTTP/1.1 carries them), and the body
   with its `Content-Encoding` still on. The one change: a chunked body is kept
   de-chunked, so its `Transfer-Encoding: chunked` header is left out (readers
   would otherwise try to de-chunk it again). A body not read to its end (over the
   size cap, past a deadline) is kept as far as it was read, and its record says
   `WARC-Truncated: length`.
3. Digests are `sha1:` in base32, as the IIPC tools write them: the block digest
   over the whole block, the payload digest over the body.

Built by hand rather than with warcio's writer: warcio percent-encodes a header
value that is not ASCII (the record would then not be what came over the wire),
gzips everything at level 9 (see GZIP_LEVEL for what is done here), and takes ~3x
the time per record (176 us against 61 us for a
40 kB page, measured here); warcio reads every record back in the tests, and reads
archives for `--replay` and `crawl parse`.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
import zlib
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import NamedTuple

from crawler.model import Capture
from crawler.page import media_type
from crawler.urls import redact_url

WARC_VERSION = b"WARC/1.1"
REDACTED = "redacted"
# Headers whose values are secrets whoever set them (see the module's docstring).
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "set-cookie2"}
)
URI_HEADERS = frozenset({"location", "content-location", "referer"})
PROFILES = {
    "server-not-modified": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
    "identical-payload-digest": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
}
# How hard each record is gzipped. A body that came compressed (a Content-Encoding,
# or a media type that is compressed in itself) is stored in its member as it is:
# deflating it again gains 0.2% and costs ~100x the time (measured on the Python
# docs served gzipped: 9 us a page stored, 940 us at level 1). Anything else at
# level 1: 17% of its size against level 6's 14%, at a third of the time.
GZIP_LEVEL = 1
STORED = 0
COMPRESSED_TYPES = ("image/", "video/", "audio/", "font/woff", "application/zip",
                    "application/gzip", "application/x-gzip", "application/pdf",
                    "application/zstd", "application/x-brotli")  # fmt: skip

Pairs = tuple[tuple[str, str], ...]


class Exchange(NamedTuple):
    """One request that reached a server and the answer it got, as the transport
    saw them. `url`: the absolute URL sent (no `user:password@`); `target`: the
    request target exactly as sent; `body`: the bytes after the header block as
    they came (content-coding kept, transfer-coding removed); `ip`: the peer's
    address ("" when unknown); `time`: when the request was sent (epoch seconds)."""

    url: str
    method: str
    target: str
    request_headers: Pairs
    http_version: str
    status: int
    reason: str
    response_headers: Pairs
    body: bytes
    ip: str
    time: float
    truncated: bool = False  # the body was not read to its end (the size cap, a deadline)
    # A 304 to a cache's revalidation: the `Date` (HTTP-date) of the answer it confirms.
    confirms_date: str = ""


def warc_date(epoch: float) -> str:
    """WARC/1.1's date: UTC, microseconds (`2026-12-07T23:40:05.123456Z`)."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def warc_date_of(http_date: str) -> str:
    """An HTTP-date (`Tue, 08 Dec 2026 02:53:07 GMT`) as a WARC date to the second
    (`2026-12-08T02:53:07Z`); "" for one that cannot be read."""
    from email.utils import parsedate_to_datetime  # only for a 304's revisit

    try:
        moment = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def digest(*parts: bytes) -> str:
    """`sha1:` and the base32 SHA-1 of `parts` joined, as the IIPC tools write it."""
    hashed = hashlib.sha1()
    for part in parts:
        hashed.update(part)
    return "sha1:" + base64.b32encode(hashed.digest()).decode("ascii")


def record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def redact_headers(headers: Iterable[tuple[str, str]], secret_names: frozenset[str]) -> Pairs:
    """`headers` with every secret value `redacted` and no `user:password@` in a
    URI header (see the module's docstring); names and order kept."""
    kept = []
    for name, value in headers:
        lower = name.lower()
        if lower in SECRET_HEADERS or lower in secret_names:
            value = REDACTED
        elif lower in URI_HEADERS:
            value = redact_url(value)
        kept.append((name, value))
    return tuple(kept)


def header_block(first_line: str, headers: Pairs) -> bytes:
    """A start line and headers as HTTP/1.1 sends them, ending in the empty line."""
    lines = [first_line, *(f"{name}: {value}" for name, value in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1", "replace")


def gzip_member(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """`data` as one whole gzip member."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def already_compressed(headers: Pairs) -> bool:
    """Whether a body with these headers is compressed already (see GZIP_LEVEL)."""
    for name, value in headers:
        lower = name.lower()
        if lower == "content-encoding" and value.strip().lower() not in ("", "identity"):
            return True
        if lower == "content-type" and value.strip().lower().startswith(COMPRESSED_TYPES):
            return True
    return False


def record(
    fields: list[tuple[str, str]], block: bytes, content_type: str, level: int = GZIP_LEVEL
) -> bytes:
    """One WARC record (named `fields` first, then the type, digest and length),
    gzipped at `level`."""
    head = [
        *fields,
        ("Content-Type", content_type),
        ("WARC-Block-Digest", digest(block)),
        ("Content-Length", str(len(block))),
    ]
    text = b"\r\n".join(
        [WARC_VERSION, *(f"{name}: {value}".encode() for name, value in head), b"", b""]
    )
    return gzip_member(text + block + b"\r\n\r\n", level)


def _media_type(headers: Pairs) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            return media_type.essence(value)
    return ""


def capture(exchange: Exchange, secret_names: frozenset[str] = frozenset()) -> Capture:
    """The records of `exchange` (see the module's docstring). `secret_names`: the
    lower-case names of the headers the run's identity binds to sites."""
    url = redact_url(exchange.url)
    date = warc_date(exchange.time)
    request_id, response_id = record_id(), record_id()
    sent = redact_headers(exchange.request_headers, secret_names)
    request_block = header_block(
        f"{exchange.method} {exchange.target} {exchange.http_version}", sent
    )
    received = redact_headers(
        (
            (name, value)
            for name, value in exchange.response_headers
            if not (name.lower() == "transfer-encoding" and value.lower().strip() == "chunked")
        ),
        secret_names,
    )
    status_line = f"{exchange.http_version} {exchange.status} {exchange.reason}".rstrip()
    head = header_block(status_line, received)
    common = [("WARC-Target-URI", url), ("WARC-Date", date)]
    if exchange.ip:
        common.append(("WARC-IP-Address", exchange.ip))
    request = record(
        [("WARC-Type", "request"), ("WARC-Record-ID", request_id), *common,
         ("WARC-Concurrent-To", response_id)],
        request_block,
        "application/http; msgtype=request",
    )  # fmt: skip
    payload_digest = digest(exchange.body)
    response = b""
    if exchange.status != 304:  # a revisit, written by the main process
        cut = [("WARC-Truncated", "length")] if exchange.truncated else []
        response = record(
            [("WARC-Type", "response"), ("WARC-Record-ID", response_id), *common,
             ("WARC-Concurrent-To", request_id), ("WARC-Payload-Digest", payload_digest), *cut],
            head + exchange.body,
            "application/http; msgtype=response",
            STORED if already_compressed(received) else GZIP_LEVEL,
        )  # fmt: skip
    confirms = warc_date_of(exchange.confirms_date) if exchange.confirms_date else ""
    return Capture(
        url, date, exchange.status, _media_type(received), payload_digest, len(exchange.body),
        response_id, request_id, exchange.ip, head, response, request, confirms,
    )  # fmt: skip


def revisit(capture: Capture, profile: str, refers_to_uri: str, refers_to_date: str) -> bytes:
    """The `revisit` record standing for `capture`'s response (same record id, so
    its request's `WARC-Concurrent-To` still names it): the HTTP header block as
    received, and the record it repeats (`refers_to_date` "" when unknown)."""
    fields = [("WARC-Type", "revisit"), ("WARC-Record-ID", capture.record_id),
              ("WARC-Target-URI", capture.url), ("WARC-Date", capture.date)]  # fmt: skip
    if capture.ip:
        fields.append(("WARC-IP-Address", capture.ip))
    fields += [("WARC-Concurrent-To", capture.request_id), ("WARC-Profile", PROFILES[profile]),
               ("WARC-Refers-To-Target-URI", refers_to_uri)]  # fmt: skip
    if refers_to_date:
        fields.append(("WARC-Refers-To-Date", refers_to_date))
    if profile == "identical-payload-digest":
        fields.append(("WARC-Payload-Digest", capture.digest))
    return record(fields, capture.head, "application/http; msgtype=response")


def warcinfo(filename: str, fields: Iterable[tuple[str, str]], epoch: float) -> bytes:
    """The `warcinfo` record that opens a file: `fields` as `application/warc-fields`."""
    block = "".join(f"{name}: {value}\r\n" for name, value in fields).encode("utf-8")
    return record(
        [("WARC-Type", "warcinfo"), ("WARC-Record-ID", record_id()),
         ("WARC-Date", warc_date(epoch)), ("WARC-Filename", filename)],
        block,
        "application/warc-fields",
    )  # fmt: skip
