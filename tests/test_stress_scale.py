"""Scale in the suite: a 20,000-line URL file (with duplicates) against a fast local
server. Every distinct URL gets exactly one line. (The million-line run, with its
memory figures, is benchmarks/scale.py.)"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.records import read_line
from tests.conftest import run_crawl
from tests.stress_util import LINE, db_lines

FAST_SERVER = Path(__file__).parent / "fast_server.py"
DISTINCT = 20_000


@pytest.fixture
def fast_port() -> Iterator[int]:
    server = subprocess.Popen([sys.executable, str(FAST_SERVER)], stdout=subprocess.PIPE, text=True)
    try:
        yield int(server.stdout.readline())
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.timeout(300)
def test_twenty_thousand_lines_each_url_once(fast_port: int, tmp_path: Path) -> None:
    urls_file, db = tmp_path / "urls.txt", tmp_path / "db.txt"
    with urls_file.open("w") as out:
        for number in range(DISTINCT):
            out.write(f"http://127.0.0.1:{fast_port}/p/{number}\n")
            if number % 10 == 0:  # a duplicate of an earlier line, every tenth line
                out.write(f"http://127.0.0.1:{fast_port}/p/{number // 2}\n")
    result = run_crawl(str(urls_file), "--output", str(db), "--workers", "2", timeout=280)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = db_lines(db)
    assert all(LINE.match(line) for line in lines)
    per_url = Counter(read_line(line).key for line in lines if line.startswith("url:"))
    assert len(per_url) == DISTINCT
    assert set(per_url.values()) == {1}
    assert f"crawl: {DISTINCT} ok, 0 failed" in result.stderr
