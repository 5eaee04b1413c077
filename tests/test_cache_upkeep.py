"""crawler.fetching.cache_upkeep: the cache file stays bounded, and one that cannot be
used is set aside for a fresh one. The clock is a fake: days pass in a test."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from crawler.fetching import cache_store
from crawler.fetching.cache_upkeep import DAY, keep_bounded, prepare, size_on_disk

NOW = 1_800_000_000.0


def fill(path: Path, used: list[float], body_bytes: int = 2000) -> None:
    """One row per `used` time, each with an incompressible body of `body_bytes`."""
    connection = cache_store.connect(path)
    for n, when in enumerate(used):
        cache_store.save(
            connection, f"key-{n}".encode(), when, 0.0, f'"{n}"', None, "", None,
            "http://127.0.0.1", f"http://127.0.0.1/{n}", [("ETag", f'"{n}"')],
            os.urandom(body_bytes),
        )  # fmt: skip
    connection.close()


def urls(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT url FROM responses ORDER BY url")]


def test_entries_no_run_used_for_max_age_days_go(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    fill(cache, [NOW - 31 * DAY, NOW - 29 * DAY, NOW - 40 * DAY, NOW])
    report = keep_bounded(cache, 30, None, print, clock=lambda: NOW)
    assert report.evicted == 2
    assert urls(cache) == ["http://127.0.0.1/1", "http://127.0.0.1/3"]
    assert report.bytes == size_on_disk(cache) > 0


def test_the_file_gives_its_space_back(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    fill(cache, [NOW - 60 * DAY] * 300 + [NOW] * 10, body_bytes=4000)
    big = keep_bounded(cache, 90, None, print, clock=lambda: NOW).bytes
    small = keep_bounded(cache, 30, None, print, clock=lambda: NOW).bytes
    assert big > 1_000_000 and small < 250_000  # the pages went back (an empty file: 112 KB)
    assert os.path.getsize(cache) == small and not Path(f"{cache}-wal").exists()


def test_past_max_size_the_least_recently_used_go(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    fill(cache, [NOW - n for n in range(100)], body_bytes=5000)  # row 0 the most recent
    report = keep_bounded(cache, 30, 300_000, print, clock=lambda: NOW)
    kept = sorted(int(url.rsplit("/", 1)[1]) for url in urls(cache))
    assert report.bytes <= 300_000
    assert kept == list(range(len(kept))) and 25 <= len(kept) < 40  # the newest, not fewer
    assert report.evicted == 100 - len(kept)


def test_pruning_keeps_to_its_time_budget(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    fill(cache, [NOW - 90 * DAY] * 20_000, body_bytes=10)
    started = time.monotonic()
    first = keep_bounded(cache, 30, None, print, budget=0.02, clock=lambda: NOW)
    assert time.monotonic() - started < 1.0
    assert 0 < first.evicted < 20_000  # what is left, the next run does
    second = keep_bounded(cache, 30, None, print, budget=5.0, clock=lambda: NOW)
    assert first.evicted + second.evicted == 20_000


def _not_a_database(path: Path) -> None:
    path.write_bytes(b"this is not a database" * 100)


def _another_program_s(path: Path) -> None:
    with sqlite3.connect(path) as connection:  # as requests-cache's file would be
        connection.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, value BLOB)")


def _another_version(path: Path) -> None:
    cache_store.connect(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")


def test_a_file_of_the_previous_schema_is_kept_and_marked(tmp_path: Path) -> None:
    """Schema 2's rows mean the same in 3: no warning, nothing lost; the file is
    marked 3, so that an older crawl sets it aside instead of misreading it."""
    cache = tmp_path / "c.sqlite"
    fill(cache, [NOW, NOW])
    with sqlite3.connect(cache) as connection:
        connection.execute("PRAGMA user_version = 2")
    said: list[str] = []
    prepare(cache, said.append)
    assert said == []
    assert len(urls(cache)) == 2
    with sqlite3.connect(cache) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 3


@pytest.mark.parametrize(
    ("spoil", "words"),
    [
        (_not_a_database, "not a database"),
        (_another_program_s, "another program or version"),
        (_another_version, "another program or version"),
    ],
)
def test_an_unusable_file_is_set_aside_for_a_fresh_one(tmp_path: Path, spoil, words) -> None:
    cache = tmp_path / "c.sqlite"
    spoil(cache)
    said: list[str] = []
    prepare(cache, said.append)
    assert len(said) == 1 and words in said[0] and "kept it as c.sqlite.broken-" in said[0]
    aside = [path for path in tmp_path.iterdir() if ".broken-" in path.name]
    assert aside and all(path.stat().st_mode & 0o777 == 0o600 for path in aside)
    fill(cache, [NOW])  # the fresh one works
    assert urls(cache) == ["http://127.0.0.1/0"]
    prepare(cache, said.append)
    assert len(said) == 1  # and is not set aside again


def test_a_file_locked_too_long_is_set_aside(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    fill(cache, [NOW])
    holder = sqlite3.connect(cache, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a stuck process holding the write lock
    try:
        said: list[str] = []
        started = time.monotonic()
        prepare(cache, said.append, wait=0.2)
        assert time.monotonic() - started < 2.0
        assert len(said) == 1 and "locked by another process" in said[0]
        fill(cache, [NOW, NOW])
        assert len(urls(cache)) == 2
    finally:
        holder.close()


def test_a_folder_where_no_cache_can_be_made_is_one_line(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    said: list[str] = []
    prepare(blocked / "c.sqlite", said.append)
    assert len(said) == 1 and "fetching without it" in said[0]


def test_an_origin_whose_pages_all_went_is_forgotten(tmp_path: Path) -> None:
    """Requests to an origin the cache holds nothing of skip the lookup."""
    cache = tmp_path / "c.sqlite"
    fill(cache, [NOW - 60 * DAY] * 3)
    with sqlite3.connect(cache) as connection:
        connection.execute("INSERT INTO origins VALUES ('http://127.0.0.1')")
    keep_bounded(cache, 30, None, print, clock=lambda: NOW)
    with sqlite3.connect(cache) as connection:
        assert connection.execute("SELECT count(*) FROM origins").fetchone()[0] == 0
