"""Fuzzing the URL file parser: whatever the bytes, reading never raises, never
hangs, gives a Job or a BadLine for every non-blank line, and no BadLine shows a
password."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.model import BadLine, Job
from crawler.urlfile import MAX_LINE, read_jobs, read_lines
from crawler.urls import check_url, redact_url
from pipelines.parsers import Registry

PARSERS = Registry()  # the built-in parsers

FUZZ = settings(max_examples=300, deadline=2000)  # a hang fails on the deadline

hosts = st.one_of(
    st.just("example.com"),
    st.just("127.0.0.1"),
    st.just("[::1]"),
    st.just("[2001:db8::1]"),
    st.just("[::1"),  # unclosed
    st.just("[zz::1]"),
    st.just("bücher.example"),  # IDNA
    st.just("例え.テスト"),
    st.just("xn--bcher-kva.example"),
    st.text(min_size=0, max_size=20),
)
schemes = st.sampled_from(["http", "https", "HTTP", "ftp", "javascript", "", "http:", "file"])
credentials = st.one_of(
    st.just(""),
    st.builds(lambda u, p: f"{u}:{p}@", st.text(max_size=8), st.text(max_size=8)),
    st.just("user:secret@"),
    st.just("user@"),
)
ports = st.one_of(st.just(""), st.just(":80"), st.just(":99999"), st.just(":x"), st.just(":"))
paths = st.text(max_size=30)
fragments = st.one_of(st.just(""), st.builds(lambda f: "#" + f, st.text(max_size=10)))
urls = st.builds(
    lambda s, c, h, p, path, f: f"{s}://{c}{h}{p}/{path}{f}",
    schemes,
    credentials,
    hosts,
    ports,
    paths,
    fragments,
)
parser_lists = st.one_of(
    st.just(""), st.just(" board"), st.just(" board,nope"), st.text(max_size=10)
)


def jobs_of(data: bytes) -> list[Job | BadLine]:
    return list(read_jobs(read_lines(io.BytesIO(data)), (), PARSERS))


def check_items(items: list[Job | BadLine]) -> None:
    numbers = [item.line for item in items]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    for item in items:
        if isinstance(item, Job):
            assert check_url(item.url) is None
            assert all(name in PARSERS for name in item.parsers)
        else:
            assert isinstance(item, BadLine)
            assert "\n" not in item.text and item.reason
            assert len(item.text) <= 400


@FUZZ
@given(st.binary(max_size=2000))
def test_any_bytes(data: bytes) -> None:
    check_items(jobs_of(data))


@FUZZ
@given(st.lists(st.tuples(urls, parser_lists), max_size=20))
def test_url_shaped_lines(lines: list[tuple[str, str]]) -> None:
    data = "\n".join(url + parsers for url, parsers in lines).encode("utf-8", "surrogatepass")
    items = jobs_of(data)
    check_items(items)
    for item in items:
        if isinstance(item, BadLine):
            assert "secret" not in item.text


@FUZZ
@given(st.lists(st.binary(max_size=100), max_size=10), st.integers(1, 3))
def test_very_long_lines_are_bad_lines_and_reading_goes_on(parts: list[bytes], which: int) -> None:
    lines = [b"http://127.0.0.1/ok"] * 3
    lines[which - 1] = b"http://127.0.0.1/" + b"a" * (MAX_LINE + 10)
    data = b"\n".join([*lines, b"\n".join(parts)])
    items = jobs_of(data)
    check_items(items)
    long = [item for item in items if item.line == which]
    assert isinstance(long[0], BadLine) and long[0].reason == "line too long"
    assert sum(isinstance(item, Job) and item.url == "http://127.0.0.1/ok" for item in items) >= 2


@FUZZ
@given(urls)
def test_redacted_url_never_holds_the_password(url: str) -> None:
    secret_url = url.replace("://", "://user:Zq9secret@", 1)
    assert "Zq9secret" not in redact_url(secret_url)
    items = jobs_of(secret_url.encode("utf-8", "surrogatepass"))
    assert all("Zq9secret" not in item.text for item in items if isinstance(item, BadLine))
