"""`--depth 0` (the default) is the crawl as it was before following links existed:
the same lines, byte for byte, apart from run ids, pids and times. The expected
lines (tests/pages/depth-zero.txt) were written by the code of main before issue 11,
on this same run."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import records, run_crawl, write_urls
from tests.server import TestServer

EXPECTED = (Path(__file__).parent / "pages" / "depth-zero.txt").read_text(encoding="utf-8")


def normalise(text: str, base: str, urls: str) -> str:
    text = text.replace(base, "BASE").replace(urls, "URLS")
    text = re.sub(r"run:<[^>]+>", "run:<RUN>", text)
    text = re.sub(r"version=\S+", "version=VERSION", text)
    text = re.sub(r"pid=\d+", "pid=PID", text)
    text = re.sub(r"bytes=\d+", "bytes=BYTES", text)
    return re.sub(r"seconds=[\d.]+", "seconds=SECONDS", text)


def test_depth_0_writes_what_crawl_always_wrote(tmp_path: Path, server: TestServer) -> None:
    server.robots = "User-agent: *\nDisallow: /private\n"
    base = server.base
    url_file = write_urls(
        tmp_path / "urls.txt",
        f"{base}/page/one",
        f"{base}/page/one",  # listed twice: once
        "nope",
        f"{base}/page/one?b=2&a=1",  # another spelling: fetched, as before
        f"{base}/page/one?a=1&b=2",
        f"{base}/board board",
        f"{base}/status/404",
        f"{base}/private/x",
        f"{base}/redirect/2",
        f"{base}/image.png",
        f"{base}/page/links",
    )
    db = tmp_path / "db.txt"
    result = run_crawl(
        str(url_file), "--workers", "1", "--per-host", "1", "--no-cache", "--output", str(db)
    )
    assert result.returncode == 1, result.stderr
    assert normalise(db.read_text(encoding="utf-8"), base, str(url_file)) == EXPECTED
    assert len(records(db)) == len(EXPECTED.splitlines())
