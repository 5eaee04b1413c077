"""`--replay ARCHIVE`: where each URL's answer is in a set of WARC files, and the
answer read back from there, as a server sent it.

- `archive_files(spec)`: the files `ARCHIVE` names: a file, a folder (its
  `*.warc.gz` and `*.warc` files) or a glob; `ReplayError` when it names none.
- `build_index(files, say)`: URL -> where its answer is. Files are read in name
  order, records in file order, and the last answer to a URL wins (a later run,
  a later retry). A `revisit` that repeats a body (`identical-payload-digest`)
  takes the body of the record its digest names; a 304's revisit
  (`server-not-modified`) stands for the last full answer to its URL the
  archives hold, or is served as the 304 it was when they hold none. `request`,
  `warcinfo` and other records are skipped.
- A damaged file (a gzip member cut short, a record that is not WARC, a block
  shorter than its `Content-Length`) costs one line through `say`, naming the file
  and the offset; the records before it are indexed and the other files read.
- `Index.load(url)`: the `Stored` answer (status line, headers in order, the body
  as it came over the wire, `Content-Encoding` still on, and the peer's address),
  or None when the archives do not hold `url`. Reading it opens the file and
  seeks: nothing is kept in memory but the index.
"""

from __future__ import annotations

import glob
import os
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

PATTERNS = ("*.warc.gz", "*.warc")
SERVED = ("response", "revisit")
NOT_MODIFIED = "server-not-modified"


class ReplayError(Exception):
    """`--replay` cannot be used; the message is one line."""


class Stored(NamedTuple):
    """An answer as the archive holds it."""

    http_version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    ip: str


class Where(NamedTuple):
    """A record in a file: `body_at` is the record whose payload is the body (the
    record itself, or the original a revisit repeats; -1: no body)."""

    file: str
    offset: int
    body_file: str
    body_at: int


def archive_files(spec: str) -> list[Path]:
    """The WARC files `spec` names (see the module's docstring), sorted by name."""
    path = Path(spec).expanduser()
    if path.is_dir():
        found = {match for pattern in PATTERNS for match in path.glob(pattern)}
    elif path.is_file():
        found = {path}
    else:
        found = {Path(match) for match in glob.glob(str(path)) if os.path.isfile(match)}
    if not found:
        raise ReplayError(f"--replay {spec}: no WARC file there")
    return sorted(found)


class Index:
    """URL -> `Where` its answer is; picklable, so each worker gets a copy."""

    def __init__(self, where: dict[str, Where]) -> None:
        self.where = where

    def __len__(self) -> int:
        return len(self.where)

    def __contains__(self, url: str) -> bool:
        return url in self.where

    def load(self, url: str) -> Stored | None:
        where = self.where.get(url)
        if where is None:
            return None
        with open(where.file, "rb") as stream:
            stream.seek(where.offset)
            record = next(iter(ArchiveIterator(stream)))
            http = record.http_headers
            ip = record.rec_headers.get_header("WARC-IP-Address") or ""
            same = (where.body_file, where.body_at) == (where.file, where.offset)
            body = record.raw_stream.read() if same else b""
        if where.body_at >= 0 and not same:
            body = _payload(where.body_file, where.body_at)
        return Stored(
            http.protocol or "HTTP/1.1",
            int(http.get_statuscode() or 0),
            http.statusline.partition(" ")[2],
            tuple(http.headers),
            body,
            ip,
        )


def _payload(file: str, offset: int) -> bytes:
    """The body of the record at `offset` of `file`, as it came over the wire."""
    with open(file, "rb") as stream:
        stream.seek(offset)
        return next(iter(ArchiveIterator(stream))).raw_stream.read()


class _Entry(NamedTuple):
    file: str
    offset: int
    kind: str
    profile: str
    digest: str
    url: str


def whole_members(path: Path) -> tuple[int, str]:
    """How many bytes at the start of gzip file `path` are whole gzip members, and
    what is wrong after them ("" when nothing: the file is whole)."""
    offset = 0
    with open(path, "rb") as stream:
        pending = b""
        while True:
            if not pending:
                pending = stream.read(1 << 16)
                if not pending:
                    return offset, ""
            inflater = zlib.decompressobj(31)
            used = 0
            while not inflater.eof:
                try:
                    inflater.decompress(pending)
                except zlib.error as error:
                    return offset, f"not gzip: {error}"
                if inflater.eof:
                    used += len(pending) - len(inflater.unused_data)
                    pending = inflater.unused_data
                    break
                used += len(pending)
                pending = stream.read(1 << 16)
                if not pending:
                    return offset, "gzip member cut short"
            offset += used


def _entries(path: Path, say: Callable[[str], None]) -> Iterable[_Entry]:
    """Each record of `path` that can answer a request, until the file ends or is
    damaged (then one line through `say`)."""
    offset, damage = 0, ""
    whole = None
    if path.name.endswith(".gz"):
        whole, damage = whole_members(path)
    try:
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream, no_record_parse=True)
            for record in records:
                offset = records.offset  # where this record starts (read_to_end not yet run)
                if whole is not None and offset >= whole:
                    break
                headers = record.rec_headers
                declared = int(headers.get_header("Content-Length") or 0)
                read = 0
                while chunk := record.raw_stream.read(1 << 16):
                    read += len(chunk)
                if read < declared:
                    raise ArchiveLoadFailed(f"record cut short ({read} of {declared} bytes)")
                records.read_to_end(record)
                start, offset = offset, records.offset  # damage after it is past its end
                if record.rec_type not in SERVED:
                    continue
                profile = headers.get_header("WARC-Profile") or ""
                yield _Entry(
                    str(path),
                    start,
                    record.rec_type,
                    NOT_MODIFIED if profile.endswith(NOT_MODIFIED) else profile,
                    headers.get_header("WARC-Payload-Digest") or "",
                    headers.get_header("WARC-Target-URI") or "",
                )
    except Exception as error:  # noqa: BLE001 - zlib's, warcio's, the OS's: a damaged file
        damage = _one_line(error)
    else:
        offset = whole if whole is not None else offset
    if damage:
        say(f"crawl: --replay: {path} is damaged at offset {offset} ({damage}); "
            "replaying the records before it")  # fmt: skip


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__


def build_index(files: Iterable[Path], say: Callable[[str], None]) -> Index:
    """The index of `files` (see the module's docstring)."""
    where: dict[str, Where] = {}
    bodies: dict[str, tuple[str, int]] = {}  # payload digest -> the record holding it
    full: dict[str, Where] = {}  # URL -> its last answer with a body
    for path in files:
        for entry in _entries(path, say):
            url = entry.url
            if entry.kind == "response":
                if entry.digest:
                    bodies.setdefault(entry.digest, (entry.file, entry.offset))
                where[url] = full[url] = Where(entry.file, entry.offset, entry.file, entry.offset)
            elif entry.profile == NOT_MODIFIED:
                where[url] = full.get(url) or Where(entry.file, entry.offset, "", -1)
            else:
                original = bodies.get(entry.digest)
                if original is None:  # its original is not in these archives
                    continue
                where[url] = full[url] = Where(entry.file, entry.offset, *original)
    return Index(where)
