"""A crawl killed with -9 while it archives leaves whole archives: warcio and
FastWARC read every record, digests checked, and every page db.txt has is in them;
`--resume` goes on in a new file of the same run."""

from __future__ import annotations

from pathlib import Path

import fastwarc.warc as fastwarc
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import records, run_crawl, start_crawl, write_urls
from tests.stress_util import count_kind, wait_for


def answered(folder: Path) -> set[str]:
    """The URL of every response of every archive in `folder`, each file read to its
    end by warcio (digests checked) and by FastWARC (digests verified)."""
    uris = set()
    for path in sorted(folder.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, check_digests="raise"):
                record.content_stream().read()
                if record.rec_type in ("response", "revisit"):
                    uris.add(record.rec_headers.get_header("WARC-Target-URI"))
        for record in fastwarc.ArchiveIterator(str(path), parse_http=False, fsspec_args=False):
            assert record.verify_block_digest(consume=False), path
    return uris


def test_kill_9_leaves_whole_archives_and_resume_goes_on_in_a_new_file(
    server, tmp_path: Path
) -> None:
    urls = write_urls(
        tmp_path / "urls.txt", *(server.url(f"/count/{n}?seconds=0.1") for n in range(30))
    )
    db, folder = tmp_path / "db.txt", tmp_path / "arc"
    options = ["--output", str(db), "--warc", str(folder) + "/", "--workers", "2",
               "--no-cache", "--resume", "--no-progress"]  # fmt: skip
    crawl = start_crawl(str(urls), *options)
    try:
        assert wait_for(lambda: count_kind(db, "url") >= 8, timeout=60)
    finally:
        crawl.kill()  # SIGKILL
        crawl.communicate(timeout=30)
    done = {line[5:].split(">", 1)[0] for line in records(db, "url")}
    assert done <= answered(folder)  # every page with a line has its records
    (first,) = folder.glob("*.warc.gz")

    resumed = run_crawl(str(urls), *options, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    files = sorted(path.name for path in folder.glob("*.warc.gz"))
    assert files == [first.name, first.name.replace("-00000.", "-00001.")]
    assert {line[5:].split(">", 1)[0] for line in records(db, "url")} <= answered(folder)
