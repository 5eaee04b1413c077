"""Two runs of `db.txt` read as one stream and brought together URL by URL, in
bounded memory, for `crawl diff` (`pipelines.diff` compares each URL).

1. One pass over the file, from the earlier run's start line to the end
   (`pipelines.runs.run_lines`, as `crawl export` reads runs: killed runs,
   resumed runs, lines without brackets): each record line of either run becomes
   a row (URL, kind, side, line number, the rest of the line as written). No
   record is parsed here: a record is compared as the text its line holds.
2. The rows go into a temporary SQLite database, and come back ordered by URL,
   then file order. SQLite makes its file itself (0600, in `$SQLITE_TMPDIR` or
   `$TMPDIR`, else /var/tmp or /tmp) and unlinks it as soon as it is open, so
   nothing is left behind even by a kill -9; it holds `cache_kib` of pages in
   memory and spills the rest, and sorts on disk past that too. So memory stays
   under a hundred MB for a million records a run (benchmarks/diff_memory.py
   measures it). Only one URL's rows are held at a time.
3. SQLite groups equal lines (URL, kind, text) and counts them on each side, so
   the records that are in both runs as many times, most of them between two
   hourly runs, cancel there and never come back to Python: a record is a change
   only in its excess on one side (`pipelines.diff` cancels the same way, so the
   result is the same). A page's `url:` and `error:` lines always come back.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from typing import BinaryIO

from pipelines.diff import FROM, PAGE_KINDS, TO, Row
from pipelines.runs import Run, Skipped, run_lines

# SQLite's page cache, in KiB (its negative cache_size form): past it the table
# and the sort spill to disk. 16 MB: 73 MB peak for 2 x 1M records; 32 MB cost
# 105 MB and no time (benchmarks/diff_memory.py).
CACHE_KIB = 16 * 1024
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
def by_url(
    rows: Iterable[tuple[str, Row]], cache_kib: int = CACHE_KIB
) -> Iterator[Iterator[tuple[str, list[Row]]]]:
    """The rows grouped by URL, URLs in order, each URL's rows in file order, less
    the records that are in both runs as often (step 3 above). The rows are all
    read (into a temporary database) before the first group comes."""
    connection = sqlite3.connect("", isolation_level=None)  # "": a temporary database
    try:
        pragmas = ("journal_mode = OFF", "temp_store = FILE", f"cache_size = -{cache_kib}")
        for pragma in pragmas:
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
        yield _groups(connection.execute(GROUPED, PAGE_KINDS))
    finally:
        connection.close()


# Each distinct line of a URL, counted on each side, with where it first stood on
# each; records that are in both runs as often are left out (step 3 above).
GROUPED = f"""
    SELECT url, kind, rest, SUM(side = {FROM}), SUM(side = {TO}),
           MIN(CASE WHEN side = {FROM} THEN number END),
           MIN(CASE WHEN side = {TO} THEN number END)
    FROM rows GROUP BY url, kind, rest
    HAVING kind IN ({", ".join("?" * len(PAGE_KINDS))}) OR SUM(side = {FROM}) != SUM(side = {TO})
    ORDER BY url
"""


def _groups(cursor: sqlite3.Cursor) -> Iterator[tuple[str, list[Row]]]:
    """The rows of each URL in file order: a page's lines on each side; a record
    as many times as it is in excess on its side."""
    url: str | None = None
    group: list[Row] = []
    for found, kind, rest, on_from, on_to, first_from, first_to in cursor:
        if found != url:
            if url is not None:
                yield url, sorted(group, key=_number)
            url, group = found, []
        if kind not in PAGE_KINDS:
            on_from, on_to = max(0, on_from - on_to), max(0, on_to - on_from)
        group += [Row(kind, FROM, first_from, rest)] * on_from
        group += [Row(kind, TO, first_to, rest)] * on_to
    if url is not None:
        yield url, sorted(group, key=_number)


def _number(row: Row) -> int:
    return row.number
