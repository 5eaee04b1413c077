"""Reading the URL file: pure over byte lines (crawler.urlfile)."""

from __future__ import annotations

import io

import pytest

from crawler.model import BadLine, Job
from crawler.urlfile import (
    MAX_LINE,
    Listed,
    Place,
    UrlFile,
    holds_credentials,
    read_jobs,
    read_lines,
    skip_to,
)
from crawler.urls import check_url

KNOWN = {"board": object(), "other": object()}


def jobs(data: bytes, default: tuple[str, ...] = ()) -> list[Job | BadLine]:
    return list(read_jobs(read_lines(io.BytesIO(data)), default, KNOWN))


def test_blank_and_comment_lines_are_skipped_but_counted() -> None:
    data = b"\n# a comment\n   \n\t# indented comment\nhttp://a.example/\r\n\nhttps://b.example/x\n"
    assert jobs(data) == [Job(5, "http://a.example/", ()), Job(7, "https://b.example/x", ())]


def test_last_line_without_newline() -> None:
    assert jobs(b"http://a.example/") == [Job(1, "http://a.example/", ())]


@pytest.mark.parametrize(
    ("line", "default", "parsers"),
    [
        (b"http://a.example/", (), ()),
        (b"http://a.example/", ("board",), ("board",)),
        (b"http://a.example/  board", (), ("board",)),
        (b"http://a.example/\tboard,other", ("other",), ("board", "other")),
        (b"  http://a.example/ board,  ", (), ("board",)),
        (b"http://a.example/ board,", (), ("board",)),
    ],
)
def test_parser_names(line: bytes, default: tuple[str, ...], parsers: tuple[str, ...]) -> None:
    assert jobs(line + b"\n", default) == [Job(1, "http://a.example/", parsers)]


@pytest.mark.parametrize(
    ("line", "text", "reason"),
    [
        (b"not a url", "not", "expected a URL and at most one list of parsers"),
        (b"example.com/page", "example.com/page", "not an http(s) URL"),
        (b"ftp://example.com/file", "ftp://example.com/file", "not an http(s) URL"),
        (b"mailto:someone", "mailto:someone", "not an http(s) URL"),
        (b"http:///path", "http:///path", "no host in URL"),
        (b"http://", "http://", "no host in URL"),
        (b"http://host:port/", "http://host:port/", "not a valid URL"),
        (b"http://[::1/", "http://[::1/", "not a valid URL"),
        (b"http://a.example/ bored", "http://a.example/", "unknown parser bored"),
        (b"http://a.example/ board a b", "http://a.example/", "expected a URL"),
        (b"http://a.example/\x01x", "http://a.example/\x01x", "not a valid URL (control"),
    ],
)
def test_bad_lines_say_why_with_their_number(line: bytes, text: str, reason: str) -> None:
    (bad,) = jobs(b"# first\n" + line + b"\n")
    assert isinstance(bad, BadLine)
    assert bad.line == 2
    assert bad.text == text
    assert bad.reason.startswith(reason)


def test_reading_goes_on_after_a_bad_line() -> None:
    data = b"http://a.example/\nnope\nhttp://b.example/\n"
    assert [type(item).__name__ for item in jobs(data)] == ["Job", "BadLine", "Job"]
    assert [item.line for item in jobs(data)] == [1, 2, 3]


def test_a_line_that_is_not_utf8() -> None:
    (bad,) = jobs(b"http://a.example/caf\xe9\n")
    assert bad == BadLine(1, "http://a.example/caf\ufffd", "not valid UTF-8")


def test_an_over_long_line_is_skipped_whole_and_reading_goes_on() -> None:
    long_line = b"http://a.example/" + b"x" * (3 * MAX_LINE)
    data = long_line + b"\nhttp://b.example/\n"
    bad, job = jobs(data)
    assert isinstance(bad, BadLine)
    assert (bad.line, bad.reason) == (1, "line too long")
    assert len(bad.text) <= 200
    assert job == Job(2, "http://b.example/", ())


def test_a_line_of_exactly_max_line_bytes_is_read() -> None:
    url = b"http://a.example/" + b"x" * (MAX_LINE - len(b"http://a.example/") - 1)
    (job,) = jobs(url + b"\n")
    assert isinstance(job, Job)


def test_read_lines_never_holds_more_than_a_line() -> None:
    class Stream(io.BytesIO):
        biggest = 0

        def readline(self, size: int | None = -1) -> bytes:
            assert size is not None and 0 < size <= MAX_LINE + 1
            line = super().readline(size)
            Stream.biggest = max(Stream.biggest, len(line))
            return line

    lines = list(read_lines(Stream(b"a\n" + b"y" * (10 * MAX_LINE) + b"\nb\n")))
    assert [number for number, _ in lines] == [1, 2, 3]
    assert lines[2] == (3, b"b\n")
    assert Stream.biggest <= MAX_LINE + 1


@pytest.mark.parametrize(
    "line",
    [
        b"http://user:secret@a.example/ bored",
        b"http://user:secret@a.example/ board extra",
        b"ftp://user:secret@a.example/",
        b"user:secret@a.example/x",
        b"http//user:secret@a.example/",
        b"http://user:secret@a.example/caf\xe9",
        b"http://user:secret@a.example/" + b"x" * (2 * MAX_LINE),
        b"http://user:" + b"secret" * 50 + b"@a.example/ board extra",
        b"http://user:" + b"secret" * 50 + b"@a.example/" + b"x" * (2 * MAX_LINE),
    ],
    ids=[
        "unknown parser",
        "too many fields",
        "not http",
        "no scheme",
        "no colon",
        "not UTF-8",
        "too long",
        "long password, too many fields",
        "long password, too long",
    ],
)
def test_credentials_are_never_shown(line: bytes) -> None:
    (bad,) = jobs(line + b"\n")
    assert isinstance(bad, BadLine)
    assert "secret" not in bad.text
    assert "user" not in bad.text


def test_credentials_are_kept_for_the_fetch() -> None:
    # The URL to fetch keeps them (a site may need them); records hide them.
    assert jobs(b"http://user:secret@a.example/\n") == [Job(1, "http://user:secret@a.example/", ())]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://a.example/", True),
        ("HTTPS://A.EXAMPLE/x?y=1#z", True),
        ("http://127.0.0.1:8080/", True),
        ("http://[::1]:8080/", True),
        ("http://a.example/ x", False),
        ("javascript:alert(1)", False),
        ("http://a.example:99999/", False),
    ],
)
def test_check_url(url: str, ok: bool) -> None:
    assert (check_url(url) is None) is ok


DATA = b"# head\nhttp://a/1\n\nhttp://a/2  board\nnope\nhttp://a/3\n"


def at(text: bytes) -> int:
    return DATA.index(text)


def test_the_reader_tells_where_each_line_is() -> None:
    """What a resumed run needs: where each job's line starts and where the next
    one starts, with the line numbers counting the blank and comment lines."""
    listed = list(UrlFile(io.BytesIO(DATA), "u.txt", (), KNOWN).read())
    starts = [at(b"http://a/1"), at(b"http://a/2"), at(b"nope"), at(b"http://a/3"), len(DATA)]
    assert listed == [
        Listed(Job(2, "http://a/1", ()), starts[0], starts[0] + len(b"http://a/1\n")),
        Listed(Job(4, "http://a/2", ("board",)), starts[1], starts[2]),
        Listed(BadLine(5, "nope", "not an http(s) URL"), starts[2], starts[3]),
        Listed(Job(6, "http://a/3", ()), starts[3], starts[4]),
    ]


def test_the_reader_reads_on_from_a_line_and_again_at_offsets() -> None:
    url_file = UrlFile(io.BytesIO(DATA), "u.txt", ("board",), KNOWN)
    assert [listed.item.line for listed in url_file.read(Place(at(b"nope"), 5))] == [5, 6]
    again = [Place(at(b"http://a/3"), 6), Place(at(b"http://a/1"), 2), Place(len(DATA) + 9, 9)]
    assert list(url_file.read_at(again)) == [
        Job(6, "http://a/3", ("board",)),
        Job(2, "http://a/1", ("board",)),
    ]


def test_a_pipe_is_read_past_instead_of_seeked() -> None:
    class Pipe(io.BytesIO):
        def seek(self, *args: object) -> int:
            raise OSError("illegal seek")

    stream = Pipe(b"0123456789" * 20000)
    skip_to(stream, 150001)
    assert stream.read(3) == b"123"


@pytest.mark.parametrize(
    ("data", "holds"),
    [
        (b"http://a/1\nhttp://u:p@a/2  board\n", True),
        (b"http://a/1 board\nhttp://a/x@y\n# http://u:p@a/\n", False),  # an @ in the path
        (b"http://a/" + b"x" * (3 * MAX_LINE) + b"\nu:p@a\n", True),  # after an over-long line
    ],
)
def test_whether_a_line_holds_a_password(data: bytes, holds: bool) -> None:
    assert holds_credentials(io.BytesIO(data)) is holds
