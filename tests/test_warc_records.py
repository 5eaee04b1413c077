"""The archive's records and files, without a crawl: what the workers build
(`crawler.archive.records`) and what the main process writes
(`crawler.archive.writer`), read back by warcio and by FastWARC, digests checked."""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from pathlib import Path

import fastwarc.warc as fastwarc
import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.archive.records import Exchange, capture
from crawler.archive.writer import ArchiveWriter, place, surt

BODY = b"<html><body><p>caf\xc3\xa9</p></body></html>"
T0 = 1_796_000_000.25


def exchange(url: str = "http://127.0.0.1:8000/a?x=1", **changes) -> Exchange:
    base = Exchange(
        url, "GET", url.split("8000", 1)[1] or "/",
        (("Host", "127.0.0.1:8000"), ("User-Agent", "crawl/test"), ("Accept-Encoding", "gzip"),
         ("Cookie", "sid=s3cret"), ("Authorization", "Basic c2VjcmV0"), ("X-Token", "t0ken")),
        "HTTP/1.1", 200, "OK",
        (("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"),
         ("Set-Cookie", "a=s3cret; Path=/"), ("Transfer-Encoding", "chunked"),
         ("Location", "http://u:pw@127.0.0.1:8000/b"), ("X-Latin", "caf\xe9")),
        gzip.compress(BODY, mtime=0), "127.0.0.1", T0,
    )  # fmt: skip
    return base._replace(**changes)


def read_all(path: Path) -> list:
    """Every record of `path` by warcio, each block and payload digest checked."""
    found = []
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, check_digests="raise"):
            body = record.content_stream().read() if record.rec_type == "response" else b""
            found.append((record.rec_type, record.rec_headers, record.http_headers, body))
    return found


def writer(tmp_path: Path, **options) -> ArchiveWriter:
    options.setdefault("max_size", 1 << 30)
    return ArchiveWriter(tmp_path / "arc" / "site.warc.gz", "RUN", info=[("software", "crawl/t")],
                         say=options.pop("say", print), clock=lambda: T0, **options)  # fmt: skip


def test_records_read_back_by_warcio_with_their_digests_and_the_body_as_crawled(
    tmp_path: Path,
) -> None:
    archive = writer(tmp_path)
    archive.write([capture(exchange())])
    archive.close()
    (path,) = archive.files
    records = read_all(path)
    assert [kind for kind, *_ in records] == ["warcinfo", "response", "request"]
    _, info, _, _ = records[0]
    assert info.get_header("WARC-Filename") == path.name
    _, response, http, body = records[1]
    assert body == BODY  # warcio undid the Content-Encoding that was kept
    assert response.get_header("WARC-Target-URI") == "http://127.0.0.1:8000/a?x=1"
    assert response.get_header("WARC-IP-Address") == "127.0.0.1"
    assert response.get_header("WARC-Payload-Digest").startswith("sha1:")
    assert response.get_header("WARC-Date") == "2026-11-30T00:53:20.250000Z"
    assert http.get_header("Content-Encoding") == "gzip"
    assert http.get_header("X-Latin") == "caf\xe9"  # the header's bytes, as received
    assert http.get_header("Transfer-Encoding") is None  # the body is kept de-chunked
    _, request, request_http, _ = records[2]
    assert request.get_header("WARC-Concurrent-To") == response.get_header("WARC-Record-ID")
    assert request_http.protocol == "GET" and request_http.statusline.startswith("/a?x=1 ")


def test_fastwarc_reads_every_record_and_verifies_its_digests(tmp_path: Path) -> None:
    archive = writer(tmp_path)
    archive.write([capture(exchange())])
    archive.write([capture(exchange("http://127.0.0.1:8000/same"))])  # a revisit
    archive.close()
    kinds = []
    for record in fastwarc.ArchiveIterator(
        str(archive.files[0]), parse_http=False, fsspec_args=False
    ):
        assert record.verify_block_digest(consume=False), record.record_type
        if record.record_type == fastwarc.WarcRecordType.response:
            record.parse_http()
            assert record.verify_payload_digest(consume=False)
        kinds.append(record.record_type)
    kind = fastwarc.WarcRecordType
    assert kinds == [kind.warcinfo, kind.response, kind.request, kind.revisit, kind.request]


@pytest.mark.parametrize(
    ("name", "value"),
    [("Cookie", "s3cret"), ("Authorization", "c2VjcmV0"), ("Set-Cookie", "s3cret"),
     ("X-Token", "t0ken"), ("Location", "u:pw@")],
)  # fmt: skip
def test_no_secret_value_is_kept_and_each_name_stays(tmp_path: Path, name: str, value: str) -> None:
    archive = writer(tmp_path)
    archive.write([capture(exchange(), frozenset({"x-token"}))])
    archive.close()
    raw = b"".join(gzip.decompress(path.read_bytes()) for path in archive.files)
    assert value.encode() not in raw
    if name != "Location":
        assert f"{name}: redacted".encode() in raw


def test_a_body_already_archived_is_a_revisit_naming_the_first_record(tmp_path: Path) -> None:
    archive = writer(tmp_path)
    first = capture(exchange())
    archive.write([first])
    archive.write([capture(exchange("http://127.0.0.1:8000/copy", time=T0 + 1))])
    archive.write([capture(exchange("http://127.0.0.1:8000/empty", body=b""))])
    archive.write([capture(exchange("http://127.0.0.1:8000/empty2", body=b""))])
    archive.close()
    records = read_all(archive.files[0])
    revisits = [headers for kind, headers, _, _ in records if kind == "revisit"]
    assert len(revisits) == 1  # empty bodies are not deduplicated
    (copy,) = revisits
    assert copy.get_header("WARC-Profile").endswith("/identical-payload-digest")
    assert copy.get_header("WARC-Refers-To-Target-URI") == first.url
    assert copy.get_header("WARC-Refers-To-Date") == first.date
    assert copy.get_header("WARC-Payload-Digest") == first.digest


def test_a_304_is_a_revisit_server_not_modified(tmp_path: Path) -> None:
    archive = writer(tmp_path)
    archive.write([capture(exchange())])
    archive.write([capture(exchange(status=304, reason="Not Modified", body=b""))])
    archive.close()
    kinds = [(kind, headers.get_header("WARC-Profile") or "") for kind, headers, _, _ in
             read_all(archive.files[0])]  # fmt: skip
    assert kinds[-2][0] == "revisit" and kinds[-2][1].endswith("/server-not-modified")


def test_a_304_the_cache_asked_for_names_the_date_of_the_answer_it_confirms(
    tmp_path: Path,
) -> None:
    archive = writer(tmp_path)
    confirmed = "Tue, 08 Dec 2026 02:53:07 GMT"
    not_modified = exchange(status=304, reason="Not Modified", body=b"", confirms_date=confirmed)
    archive.write([capture(not_modified)])
    archive.write([capture(not_modified._replace(confirms_date="not a date"))])
    archive.close()
    revisits = [headers for kind, headers, _, _ in read_all(archive.files[0]) if kind == "revisit"]
    assert [headers.get_header("WARC-Refers-To-Date") for headers in revisits] == [
        "2026-12-08T02:53:07Z",
        None,  # a Date that cannot be read: no date rather than a wrong one
    ]


def test_files_are_0600_rotate_past_the_size_and_each_has_a_sorted_cdxj(tmp_path: Path) -> None:
    archive = writer(tmp_path, max_size=1)  # every page starts a new file
    for name in ("b", "a", "c"):
        archive.write([capture(exchange(f"http://127.0.0.1:8000/{name}", body=name.encode()))])
    archive.close()
    names = [path.name for path in archive.files]
    assert names == ["site-RUN-00000.warc.gz", "site-RUN-00001.warc.gz",
                     "site-RUN-00002.warc.gz"]  # fmt: skip
    for path in archive.files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert next(kind for kind, *_ in read_all(path)) == "warcinfo"
        index = path.with_name(path.name.replace(".warc.gz", ".cdxj"))
        assert stat.S_IMODE(os.stat(index).st_mode) == 0o600
        (line,) = index.read_text().splitlines()
        key, timestamp, fields = line.split(" ", 2)
        assert key.startswith("1,0,0,127:8000)/") and timestamp == "20261130005320"
        offset = int(fields.split('"offset": "')[1].split('"')[0])
        with open(path, "rb") as stream:  # the offset is where its record starts
            stream.seek(offset)
            record = next(iter(ArchiveIterator(stream)))
            assert record.rec_type == "response"


def test_a_resumed_run_goes_on_in_a_new_file(tmp_path: Path) -> None:
    first = writer(tmp_path)
    first.write([capture(exchange())])
    first.close()
    second = writer(tmp_path)
    second.close()
    assert [path.name for path in second.files] == ["site-RUN-00001.warc.gz"]
    assert first.files[0].stat().st_size > 0


def test_each_page_is_whole_gzip_members_in_the_file(tmp_path: Path) -> None:
    """What a kill -9 between two writes leaves: whole members, each a record."""
    archive = writer(tmp_path)
    for n in range(5):
        archive.write([capture(exchange(f"http://127.0.0.1:8000/{n}", body=bytes([n]) * 99))])
    data = archive.files[0].read_bytes()  # not closed: as a killed run leaves it
    members = 0
    while data:
        inflater = zlib.decompressobj(31)
        inflater.decompress(data)
        assert inflater.eof
        data = inflater.unused_data
        members += 1
    assert members == 1 + 5 * 2


@pytest.mark.parametrize(
    ("spec", "folder", "stem"),
    [
        ("out/arc.warc.gz", "out", "arc"),
        ("out/arc", "out/arc", "crawl"),
        ("out/", "out", "crawl"),
        ("out/.warc.gz", "out/.warc.gz", "crawl"),
    ],
)
def test_place(spec: str, folder: str, stem: str) -> None:
    assert place(spec) == (Path(folder), stem)


def test_surt() -> None:
    assert surt("http://www.Example.com/A?b=2&a=1") == "com,example)/a?a=1&b=2"
    assert surt("https://127.0.0.1:8443/") == "1,0,0,127:8443)/"


def test_a_write_that_fails_is_one_line_and_the_archive_stops(tmp_path: Path) -> None:
    said: list[str] = []
    archive = writer(tmp_path, say=said.append)
    os.close(archive._fd)  # the disk went away
    archive.write([capture(exchange())])
    archive.write([capture(exchange())])
    assert len(said) == 1 and said[0].startswith("crawl: --warc: ")
