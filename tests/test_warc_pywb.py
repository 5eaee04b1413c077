"""pywb, the archive world's replay server, replays an archive crawl wrote: the
archive is indexed by pywb's own `wb-manager`, served by `wayback` on 127.0.0.1,
and each page asked for through pywb gives the body that was crawled (a body that
came gzipped, and one kept as a revisit of another, included).

One test, bounded: pywb takes seconds to start."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import run_crawl, write_urls
from tests.site_server import Site

PAGES = {
    "/plain": b"<p>plain page</p>",
    "/zipped": b"<p>zipped page</p>",
    "/first": b"<p>one body, two URLs</p>",
    "/second": b"<p>one body, two URLs</p>",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pywb_tool(name: str) -> list[str]:
    """The pywb command `name`, from this Python's scripts (as pip installs them)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"pywb's {name} is not installed (pip install -e '.[test]')"
    return [found]


def test_pywb_indexes_and_replays_each_page_with_the_body_crawled(tmp_path: Path) -> None:
    site = Site().start()
    try:
        for path, body in PAGES.items():
            if path == "/zipped":
                site.page(path, gzip.compress(body, mtime=0), headers={"Content-Encoding": "gzip"})
            else:
                site.page(path, body)
        urls = write_urls(tmp_path / "urls.txt", *(site.url(path) for path in PAGES))
        crawled = run_crawl(str(urls), "--output", str(tmp_path / "db.txt"),
                            "--warc", str(tmp_path / "arc/"), "--workers", "1")  # fmt: skip
        assert crawled.returncode == 0, crawled.stderr
    finally:
        site.stop()
    (archive,) = (tmp_path / "arc").glob("*.warc.gz")
    home = tmp_path / "pywb"
    home.mkdir()
    for step in (["init", "site"], ["add", "site", str(archive)]):
        done = subprocess.run([*pywb_tool("wb-manager"), *step], cwd=home, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
    indexed = (home / "collections/site/indexes").glob("*.cdxj")
    stamps = {json.loads(line.split(" ", 2)[2])["url"]: line.split(" ", 2)[1]
              for index in indexed for line in index.read_text().splitlines()}  # fmt: skip
    port = free_port()
    wayback = subprocess.Popen(
        [*pywb_tool("wayback"), "-p", str(port), "-b", "127.0.0.1", "-t", "2"],
        cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        give_up = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < give_up and wayback.poll() is None, "pywb did not start"
                time.sleep(0.1)
        for path, body in PAGES.items():
            url = site.url(path)
            replayed = requests.get(f"http://127.0.0.1:{port}/site/{stamps[url]}id_/{url}",
                                    timeout=30)  # fmt: skip
            assert replayed.status_code == 200, (path, replayed.status_code)
            assert replayed.content == body, path
    finally:
        wayback.terminate()
        wayback.wait(timeout=30)
