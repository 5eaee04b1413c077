"""Two runs of `db.txt` read as one stream and brought together URL by URL, in
bounded memory, for `crawl diff` (`pipelines.diff` compares each URL).

1. One pass over the file, from the earlier run's start line to the end
   (`pipelines.runs.run_lines`, as `crawl export` reads runs: killed runs,
   resumed runs, lines without brackets): each record line of either run becomes
   a row (URL, kind, side, line number, the rest of the line as written). No
   record is parsed here: a record is compared as the text its line holds.
2. The rows go into a temporary SQLite file (created 0600 in `$TMPDIR`, removed
   when done), and come back ordered by URL, then file order: SQLite sorts on
   disk past its cache, so memory stays a few tens of MB for a million records
   a run (benchmarks/diff_memory.py measures it). Only one URL's rows are held at
   a time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Collection, Iterable, Iterator
from typing import BinaryIO

from pipelines.diff import FROM, PAGE_KINDS, TO, Row
from pipelines.runs import Run, Skipped, run_lines

# SQLite's page cache for the sort, in KiB (its negative cache_size form): past
# it the sort spills to temporary files.
CACHE_KIB = 32 * 1024
BATCH = 10_000  # rows inserted per executemany call


def read_rows(
    db: BinaryIO,
    before: Run,
    after: Run,
    kinds: Collection[str] | None = None,
    skipped: Skipped | None = None,
) -> Iterator[tuple[str, Row]]:
    """(URL, row) of every record line of the runs `before` (side FROM) and `after`
    (side TO), in file order; only of `kinds` when given (`url` stands for the
    page: its `url:` and `error:` lines). `db` is seeked to the earlier start."""
    first = min(before, after, key=lambda run: run.offset)
    db.seek(first.offset)
    wanted = None
    if kinds is not None:
        wanted = set(kinds) | (set(PAGE_KINDS) if "url" in kinds else set())
    both = before.id == after.id  # a run against itself: no change, read as such
    for number, run, line in run_lines(db, (before.id, after.id), first.number, skipped):
        if wanted is not None and line.kind not in wanted:
            continue
        side = TO if run == after.id else FROM
        yield line.key, Row(line.kind, side, number, line.rest)
        if both:
            yield line.key, Row(line.kind, FROM, number, line.rest)


@contextlib.contextmanager
def by_url(rows: Iterable[tuple[str, Row]]) -> Iterator[Iterator[tuple[str, list[Row]]]]:
    """The rows grouped by URL, URLs in order, each URL's rows in file order. The
    rows are all read (into a temporary file) before the first group comes."""
    fd, path = tempfile.mkstemp(prefix="crawl-diff-", suffix=".sqlite")  # 0600
    os.close(fd)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{CACHE_KIB}"):
            connection.execute(f"PRAGMA {pragma}")
        connection.execute(
            "CREATE TABLE rows (url TEXT, kind TEXT, side INTEGER, number INTEGER, rest TEXT)"
        )
        connection.execute("BEGIN")
        insert = "INSERT INTO rows VALUES (?, ?, ?, ?, ?)"
        batch: list[tuple] = []
        for url, row in rows:
            batch.append((url, *row))
            if len(batch) >= BATCH:
                connection.executemany(insert, batch)
                batch.clear()
        connection.executemany(insert, batch)
        connection.execute("COMMIT")
        cursor = connection.execute(
            "SELECT url, kind, side, number, rest FROM rows ORDER BY url, number"
        )
        yield _groups(cursor)
    finally:
        connection.close()
        with contextlib.suppress(OSError):
            os.unlink(path)


def _groups(cursor: sqlite3.Cursor) -> Iterator[tuple[str, list[Row]]]:
    url: str | None = None
    group: list[Row] = []
    for found, kind, side, number, rest in cursor:
        if found != url:
            if url is not None:
                yield url, group
            url, group = found, []
        group.append(Row(kind, side, number, rest))
    if url is not None:
        yield url, group
