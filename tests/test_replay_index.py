"""Replay without a crawl: the index of archives (`crawler.archive.replay`) and the
replay transport (`crawler.fetching.transports.replay`) that answers from it."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from crawler.archive.records import Exchange, capture
from crawler.archive.replay import ReplayError, archive_files, build_index
from crawler.archive.writer import ArchiveWriter
from crawler.fetching.body import read_body
from crawler.fetching.transports.base import Headers, Request, TransportError
from crawler.fetching.transports.replay import ReplayTransport

BASE = "http://127.0.0.1:8000"


def answer(path: str, body: bytes = b"<p>hi</p>", status: int = 200, **changes) -> Exchange:
    return Exchange(
        BASE + path, "GET", path, (("Host", "127.0.0.1:8000"),), "HTTP/1.1", status,
        "OK" if status == 200 else "Found",
        (("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("X-N", path)),
        gzip.compress(body, mtime=0), "127.0.0.1", 1_796_000_000.0,
    )._replace(**changes)  # fmt: skip


def archive(folder: Path, run: str, *exchanges: Exchange) -> Path:
    writer = ArchiveWriter(folder / "arc.warc.gz", run, 1 << 30, [("software", "t")], print)
    for one in exchanges:
        writer.write([capture(one)])
    writer.close()
    return writer.files[0]


def replay(index, path: str) -> tuple[int, Headers, bytes]:
    response = ReplayTransport(index).send(Request(BASE + path, Headers()))
    return response.status, response.headers, read_body(response, 1 << 20, math.inf)


def test_each_url_is_answered_as_it_came_and_the_layers_decode_it(tmp_path: Path) -> None:
    archive(tmp_path, "R1", answer("/a", b"<p>A</p>"), answer("/b", b"<p>B</p>"),
            answer("/to", b"", 302)._replace(response_headers=(("Location", "/a"),)))  # fmt: skip
    index = build_index(archive_files(str(tmp_path)), print)
    status, headers, body = replay(index, "/a")
    assert (status, headers.get("X-N"), headers.get("Content-Encoding")) == (200, "/a", "gzip")
    assert body == b"<p>A</p>"
    status, headers, _ = replay(index, "/to")
    assert (status, headers.get("Location")) == (302, "/a")


def test_a_url_not_in_the_archive_fails_for_good(tmp_path: Path) -> None:
    archive(tmp_path, "R1", answer("/a"))
    index = build_index(archive_files(str(tmp_path)), print)
    with pytest.raises(TransportError) as raised:
        ReplayTransport(index).send(Request(BASE + "/missing", Headers()))
    assert (raised.value.reason, raised.value.transient) == ("not in the archive", False)


def test_a_revisit_takes_the_body_it_repeats_and_keeps_its_own_headers(tmp_path: Path) -> None:
    archive(tmp_path, "R1", answer("/a", b"<p>same</p>"), answer("/copy", b"<p>same</p>"))
    index = build_index(archive_files(str(tmp_path)), print)
    status, headers, body = replay(index, "/copy")
    assert (status, headers.get("X-N"), body) == (200, "/copy", b"<p>same</p>")


def test_a_304_stands_for_the_last_full_answer_and_a_later_run_wins(tmp_path: Path) -> None:
    archive(tmp_path, "R1", answer("/a", b"<p>old</p>"), answer("/b", b"<p>one</p>"))
    archive(tmp_path, "R2", answer("/a", b"", 304), answer("/b", b"<p>two</p>"))
    index = build_index(archive_files(str(tmp_path / "*.warc.gz")), print)
    assert replay(index, "/a")[::2] == (200, b"<p>old</p>")
    assert replay(index, "/b")[::2] == (200, b"<p>two</p>")


@pytest.mark.parametrize("damage", ["cut", "not warc"])
def test_a_damaged_file_is_one_line_and_the_records_before_it_and_other_files_replay(
    tmp_path: Path, damage: str
) -> None:
    path = archive(tmp_path / "one", "R1", answer("/a"), answer("/b", b"<p>B</p>"))
    other = archive(tmp_path / "two", "R2", answer("/c", b"<p>C</p>"))
    data = path.read_bytes()
    if damage == "cut":  # killed in the middle of the last record
        path.write_bytes(data[:-40])
    else:
        path.write_bytes(data + gzip.compress(b"HTTP/1.1 200 OK\r\n\r\nnot a WARC record\r\n"))
    said: list[str] = []
    index = build_index([path, other], said.append)
    assert len(said) == 1, said
    assert said[0].startswith(f"crawl: --replay: {path} is damaged at offset ")
    offset = int(said[0].split("offset ")[1].split()[0])
    assert 0 < offset <= len(data)
    assert "/a" in {url.removeprefix(BASE) for url in index.where}
    assert replay(index, "/c")[2] == b"<p>C</p>"


def test_replay_names_nothing(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="no WARC file"):
        archive_files(str(tmp_path / "nothing-*.warc.gz"))
    with pytest.raises(ReplayError):
        archive_files(str(tmp_path))  # a folder without archives
