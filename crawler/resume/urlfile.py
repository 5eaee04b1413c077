"""The URL file read with its byte offsets, so that a resumed run reads on from where
the killed one had handled it, and finds a listed URL's line again."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import BinaryIO

from crawler.model import BadLine, Job
from crawler.urlfile import MAX_LINE, parse_line, read_lines
from crawler.urls import host_key, redact_url


class _Counting:
    """A stream that counts the bytes read through `readline`."""

    def __init__(self, stream: BinaryIO, offset: int) -> None:
        self.stream = stream
        self.offset = offset

    def readline(self, limit: int = -1) -> bytes:
        raw = self.stream.readline(limit)
        self.offset += len(raw)
        return raw


class TrackedLines:
    """`crawler.urlfile.read_lines` from byte `offset` (after line `number`), telling
    where the last line read starts (`start`) and ends (`end`)."""

    def __init__(self, offset: int = 0, number: int = 0) -> None:
        self.start = self.end = offset
        self.number = number

    def read(self, stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
        skip_to(stream, self.end)
        counting = _Counting(stream, self.end)
        base = self.number
        for number, raw in read_lines(counting):  # type: ignore[arg-type]
            self.start, self.end, self.number = self.end, counting.offset, base + number
            yield self.number, raw

    def start_of(self, number: int) -> int | None:
        """Where line `number` starts, if it is the last line read."""
        return self.start if number == self.number else None


def skip_to(stream: BinaryIO, offset: int) -> None:
    """Put `stream` at byte `offset`: a seek, or reading past what a pipe gives."""
    if offset <= 0:
        return
    try:
        stream.seek(offset)
    except (OSError, ValueError):
        left = offset
        while left > 0:
            chunk = stream.read(min(left, 1 << 16))
            if not chunk:
                return
            left -= len(chunk)


def _line_at(path: Path, offset: int) -> bytes | None:
    """The URL file's line at byte `offset` (at most MAX_LINE + 1 bytes), None if it
    cannot be read."""
    try:
        with open(path, "rb") as urls:
            urls.seek(offset)
            return urls.readline(MAX_LINE + 1)
    except OSError:
        return None


def reread_url(path: Path, offset: int) -> str | None:
    """The URL of the URL file line at byte `offset` (a listed URL whose password
    the journal does not hold), None if it cannot be read."""
    raw = _line_at(path, offset)
    fields = raw.decode("utf-8", "replace").split() if raw is not None else []
    return fields[0] if fields else None


def reread_job(
    path: Path | None, offset: int, number: int, parsers: tuple[str, ...], known: Collection[str]
) -> Job | BadLine | None:
    """The URL file line at byte `offset` (line `number`) read again, as a job."""
    raw = _line_at(path, offset) if path is not None else None
    return parse_line(number, raw, parsers, known) if raw is not None else None


class KnownOrigins:
    """The origins the listed URLs so far were on, and those given a password."""

    def __init__(self) -> None:
        self._prefixes: set[str] = set()  # scheme://host:port as the lines write it
        self._seen: set[str] = set()
        self._with_userinfo: set[str] = set()

    def first(self, url: str) -> bool:
        """Whether `url` is the first listed URL of its origin, or the first there with
        `user:password@` (what `crawler.identity` learns from the URL file)."""
        clean = redact_url(url)
        end = clean.find("/", clean.find("//") + 2)
        prefix = clean if end < 0 else clean[:end]  # the origin as written: a quick look
        if clean == url and prefix in self._prefixes:
            return False
        self._prefixes.add(prefix)
        try:
            origin = host_key(clean)
        except ValueError:
            return False
        new = origin not in self._seen
        self._seen.add(origin)
        if clean != url and origin not in self._with_userinfo:
            self._with_userinfo.add(origin)
            new = True
        return new
