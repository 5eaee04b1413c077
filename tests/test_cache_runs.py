"""The HTTP cache across real runs of `crawl` against the test server: bounded from run
to run, reported in the end line, the summary and --stats, and never the reason a
run fails."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import records, run_crawl, write_urls


def crawl(tmp_path: Path, urls: list[str], *extra: str):
    url_file = write_urls(tmp_path / "urls.txt", *urls)
    db = tmp_path / "db.txt"
    result = run_crawl(str(url_file), "--output", str(db), "--workers", "2", *extra)
    return result, db


def end_fields(db: Path) -> dict[str, str]:
    end = [line for line in records(db, "run") if " end " in line][-1]
    return dict(field.split("=", 1) for field in end.split(" end ", 1)[1].split())


def test_the_file_stays_the_same_size_run_after_run(server, tmp_path: Path) -> None:
    urls = [server.url(f"/etag/{n}?bytes=30000") for n in range(30)]
    urls += [server.url(f"/lastmod/{n}") for n in range(10)]
    cache = tmp_path / "http-cache.sqlite"
    sizes = []
    for run in range(5):
        server.version = 1 + run % 2  # every /etag/ page changes: stored again each run
        result, db = crawl(tmp_path, urls)
        assert result.returncode == 0, result.stderr
        sizes.append(cache.stat().st_size)
        assert int(end_fields(db)["cache"]) == sizes[-1]
    assert max(sizes[1:]) - min(sizes[1:]) <= 8 * 4096, sizes  # a few pages, not a run's worth


def test_the_end_line_summary_and_stats_tell_the_cache_s_size(server, tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    result, db = crawl(
        tmp_path, [server.url("/etag/a"), server.url("/etag/b")], "--stats", str(stats)
    )
    assert result.returncode == 0, result.stderr
    size = (tmp_path / "http-cache.sqlite").stat().st_size
    fields = end_fields(db)
    assert (fields["status"], fields["cache"], fields["evicted"]) == ("finished", str(size), "0")
    assert f"; cache {size} bytes, 0 evicted" in result.stderr
    report = json.loads(stats.read_text(encoding="utf-8"))
    assert (report["cache"], report["evicted"]) == (size, 0)
    result, db = crawl(tmp_path, [server.url("/etag/a")], "--no-cache")
    assert "cache" not in end_fields(db) and "cache" not in result.stderr.split("(cache)")[-1]


def test_entries_unused_for_max_age_days_are_evicted(server, tmp_path: Path) -> None:
    old = [server.url(f"/etag/old-{n}") for n in range(4)]
    result, db = crawl(tmp_path, old)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "http-cache.sqlite") as connection:
        connection.execute("UPDATE responses SET used = used - 8 * 86400")  # a week passes
    result, db = crawl(tmp_path, [server.url("/etag/new")], "--cache-max-age", "7")
    assert result.returncode == 0, result.stderr
    assert end_fields(db)["evicted"] == "4"
    with sqlite3.connect(tmp_path / "http-cache.sqlite") as connection:
        kept = [row[0] for row in connection.execute("SELECT url FROM responses")]
    assert kept == [server.url("/etag/new")]


def test_max_size_keeps_the_file_under_it(server, tmp_path: Path) -> None:
    urls = [server.url(f"/etag/{n}?bytes=3000") for n in range(60)]
    result, db = crawl(tmp_path, urls)
    assert int(end_fields(db)["cache"]) > 240 * 1024 and end_fields(db)["evicted"] == "0"
    result, db = crawl(tmp_path, urls[:1], "--cache-max-size", "192K")
    assert result.returncode == 0, result.stderr
    assert int(end_fields(db)["cache"]) <= 192 * 1024  # an empty cache is 112 KB (16 KB pages)
    assert 0 < int(end_fields(db)["evicted"]) < 60


def test_a_bad_max_size_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for bad in ("ten", "-5M", "12X", "0"):
        result, _db = crawl(tmp_path, ["http://127.0.0.1:9/"], "--cache-max-size", bad)
        assert result.returncode == 2
        assert "--cache-max-size" in result.stderr and "Traceback" not in result.stderr


def test_a_broken_cache_costs_a_warning_not_the_run(server, tmp_path: Path) -> None:
    (tmp_path / "http-cache.sqlite").write_bytes(b"\x00garbage" * 512)
    result, db = crawl(tmp_path, [server.url("/etag/a")])
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "HTTP cache" in line]
    assert len(warnings) == 1 and "started a fresh one" in warnings[0]
    assert len(records(db, "url")) == 1
    assert list(tmp_path.glob("http-cache.sqlite.broken-*"))
    again, _db = crawl(tmp_path, [server.url("/etag/a")])
    assert "HTTP cache" not in again.stderr and "1 unchanged (cache)" in again.stderr
