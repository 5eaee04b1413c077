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
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import BinaryIO

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
        if len(raw) > MAX_LINE:
            yield _bad(number, raw.decode("utf-8", "replace"), "line too long")
            continue
        item = parse_line(number, raw, default_parsers, known_parsers)
        if item is not None:
            yield item
