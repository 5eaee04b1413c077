"""A real run without a terminal (stderr a pipe) writes progress lines while a slow
page holds it, and none with -q."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from tests.conftest import run_crawl, start_crawl, write_urls
from tests.server import TestServer
from tests.stress_util import wait_for

LINE = re.compile(
    r"crawl: (\d+) pages done in \d+s \(\d+\.\d pages/s over the last \d+ s\): (\d+) failed, "
    r"(\d+) in flight, (\d+) waiting, (\d+) found by following"
)


def test_progress_lines_while_a_slow_page_holds_the_run(server: TestServer, tmp_path: Path) -> None:
    urls = write_urls(
        tmp_path / "urls.txt",
        server.url("/page/quick"),
        server.url("/status/404"),
        server.url("/slow-headers?every=0.05&until=go"),
    )
    crawl = start_crawl(
        str(urls), "--output", str(tmp_path / "db.txt"), "--workers", "2", "--log-every", "0.2"
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(crawl.stderr), daemon=True)
    reader.start()
    try:
        # The quick pages are done; the slow one is in flight, and the log says so.
        said = wait_for(
            lambda: any((m := LINE.match(line)) and m.groups()[:3] == ("2", "1", "1")
                        for line in list(lines)),
            timeout=30,
        )  # fmt: skip
        server.release("go")
        assert crawl.wait(timeout=60) == 1  # the 404
    finally:
        if crawl.poll() is None:
            crawl.kill()
    reader.join(10)
    assert said, "".join(lines)
    progress = [line for line in lines if LINE.match(line)]
    assert progress and all(LINE.fullmatch(line.rstrip("\n")) for line in progress)
    assert lines[-1].startswith("crawl: 2 ok, 1 failed")  # the summary comes last


def test_quiet_and_zero_mean_no_progress_lines(server: TestServer, tmp_path: Path) -> None:
    urls = write_urls(tmp_path / "urls.txt", server.url("/slow?seconds=0.6"))
    for option in (("-q",), ("--log-every", "0")):
        db = str(tmp_path / "db.txt")
        result = run_crawl(str(urls), "--output", db, "--log-every", "0.05", *option)
        assert result.returncode == 0, result.stderr
        assert "pages done" not in result.stderr
        assert "1 ok, 0 failed" in result.stderr
