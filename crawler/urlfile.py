"""Read a URL file as a stream of jobs. Pure over an iterable of byte lines.

Format, one entry a line:

    # a comment
    https://www.maoyan.com/board/7   board
    https://example.com/

- Blank lines and lines whose first non-blank character is `#` are skipped.
- A line is a URL, then optionally whitespace and comma-separated parser names.
  A line that names none gets the run's default (`--parse`).
- The URL must be http or https with a host, and must be valid UTF-8. Anything else
  (more fields, an unknown parser, a line over `MAX_LINE` bytes) is a `BadLine`
  with its 1-based line number; reading goes on.
- Duplicates are not removed here: that needs memory of what was seen, which the
  scheduler keeps.

This is the one reader of the URL file: a run reads it once, as a stream, through
`UrlFile.read`, which tells where each line is (its byte offsets), so that the
stages after it can say how far the file is handled. The stages, in turn
(`crawler.runner`): `--resume` passes over what a killed run handled
(`crawler.resume`), `crawler.identity` takes each URL's `user:password@` out, then
the dispatch loop takes the jobs. A resumed run reads on from where the killed one
had handled the file (`UrlFile.read(Place(...))`), and asks again, by their offsets,
for the few lines it must see once more (`UrlFile.read_at`: the first line of each
origin with a password, which no state holds).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import BinaryIO, NamedTuple

from crawler.model import BadLine, Job
from crawler.urls import check_url, redact_url

MAX_LINE = 64 * 1024


def _bad(number: int, text: str, reason: str) -> BadLine:
    first = text.split(maxsplit=1)[0] if text.strip() else text
    return BadLine(number, redact_url(first)[:200], reason)  # cut after: a cut may hide the @


def parse_line(
    number: int, raw: bytes, default_parsers: tuple[str, ...], known_parsers: Collection[str]
) -> Job | BadLine | None:
    """One line of a URL file: a Job, a BadLine, or None for a blank or comment line."""
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return _bad(number, raw.decode("utf-8", "replace"), "not valid UTF-8")
    if not text or text.startswith("#"):
        return None
    fields = text.split()
    if len(fields) > 2:
        return _bad(number, text, "expected a URL and at most one list of parsers")
    url = fields[0]
    problem = check_url(url)
    if problem:
        return _bad(number, text, problem)
    if len(fields) == 1:
        return Job(number, url, default_parsers)
    parsers = tuple(name for name in fields[1].split(",") if name)
    unknown = [name for name in parsers if name not in known_parsers]
    if unknown:
        return _bad(number, text, f"unknown parser {', '.join(unknown)}")
    return Job(number, url, parsers)


def read_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of `stream`, never holding more than `MAX_LINE` bytes of one;
    an over-long line comes out as its first `MAX_LINE + 1` bytes."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass
        yield number, raw


def read_jobs(
    lines: Iterable[tuple[int, bytes]],
    default_parsers: tuple[str, ...],
    known_parsers: Collection[str],
) -> Iterator[Job | BadLine]:
    for number, raw in lines:
        item = _line_job(number, raw, default_parsers, known_parsers)
        if item is not None:
            yield item


def _line_job(
    number: int, raw: bytes, default_parsers: tuple[str, ...], known_parsers: Collection[str]
) -> Job | BadLine | None:
    """`parse_line`, for a line as `read_lines` gives it (an over-long one cut)."""
    if len(raw) > MAX_LINE:
        return _bad(number, raw.decode("utf-8", "replace"), "line too long")
    return parse_line(number, raw, default_parsers, known_parsers)


def holds_credentials(stream: BinaryIO) -> bool:
    """Whether a line of `stream` starts with a URL holding `user:password@` (read
    before a run that must not send one in clear)."""
    for _, raw in read_lines(stream):
        first = raw.split(None, 1)[0].decode("utf-8", "replace") if raw.strip() else ""
        if "@" in first and redact_url(first) != first:
            return True
    return False


class Place(NamedTuple):
    """Where a line of the URL file starts: its byte offset, and its 1-based number."""

    offset: int
    number: int


FIRST_LINE = Place(0, 1)


class Listed(NamedTuple):
    """A line of the URL file as read: its job, or why it is bad (either knows its
    line number), the byte offset where its line starts, and where the next line
    starts (how far the file is handled once the job is taken)."""

    item: Job | BadLine
    start: int
    end: int


class UrlFile:
    """The URL file of a run (`stream`, named `source` on the command line: `-` is
    standard input), its lines read as jobs with the run's default parsers and the
    parsers known (`read_jobs`)."""

    def __init__(
        self,
        stream: BinaryIO,
        source: str,
        default_parsers: tuple[str, ...],
        known_parsers: Collection[str],
    ) -> None:
        self.stream = stream
        self.source = source
        self.default_parsers = default_parsers
        self.known_parsers = known_parsers

    def read(self, first: Place = FIRST_LINE) -> Iterator[Listed]:
        """The jobs of the lines from `first` on (a seek, or reading past what a pipe
        gives), each with where its line is."""
        skip_to(self.stream, first.offset)
        counting = _Counting(self.stream, first.offset)
        start = first.offset
        for number, raw in read_lines(counting):  # type: ignore[arg-type]
            item = _line_job(first.number - 1 + number, raw, self.default_parsers,
                             self.known_parsers)  # fmt: skip
            if item is not None:
                yield Listed(item, start, counting.offset)
            start = counting.offset

    def read_at(self, places: Iterable[Place]) -> Iterator[Job | BadLine]:
        """The jobs of the lines at `places`, read again; a line that is not there
        any more gives nothing."""
        for offset, number in places:
            try:
                self.stream.seek(offset)
                raw = self.stream.readline(MAX_LINE + 1)
            except (OSError, ValueError):  # not a file: cannot be read again
                return
            item = _line_job(number, raw, self.default_parsers, self.known_parsers) if raw else None
            if item is not None:
                yield item


class _Counting:
    """A stream that counts the bytes read through `readline`."""

    def __init__(self, stream: BinaryIO, offset: int) -> None:
        self.stream = stream
        self.offset = offset

    def readline(self, limit: int = -1) -> bytes:
        raw = self.stream.readline(limit)
        self.offset += len(raw)
        return raw


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
