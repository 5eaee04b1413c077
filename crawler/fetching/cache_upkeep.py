"""The HTTP cache's upkeep, once a run, in the main process: a usable file before
the workers open it (`prepare`), a bounded one after they are gone (`keep_bounded`).

`prepare`, before the workers start:
- a file that is not a database, not crawl's cache (requests-cache's, of crawl 0.2
  and before), of another schema version, or locked by another process for more
  than `OPEN_WAIT` seconds is renamed aside with its journal files and key
  (`NAME.broken-STAMP`, 0600) and a fresh cache is made in its place: one warning
  line, never a failed run;
- a folder where no cache can be made at all is one warning line, and the run
  fetches without a cache.

`keep_bounded`, after the workers stopped, within `BUDGET` seconds in all:
1. rows no run has used for `max_age_days` are deleted, oldest first;
2. past `max_size` bytes, the least recently used rows are deleted until the file's
   live pages fit;
3. the freed pages are given back to the file system (`auto_vacuum=INCREMENTAL`,
   then `incremental_vacuum`), and the WAL is checkpointed and truncated,
   so that the file does not grow from run to run while the URL set stays the same.
Each step works in batches of its own short transaction and stops when the budget
is spent: what is left is done by the next run. It returns the file's size and how
many rows went, for the end line, the summary and `--stats`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from crawler.fetching import cache_store

OPEN_WAIT = 2.0  # seconds another process may hold the file locked before it is set aside
BUDGET = 1.0  # seconds the end-of-run pruning may take
BATCH = 500  # rows deleted per transaction
VACUUM_PAGES = 1024  # pages given back per step
DAY = 86400.0


class CacheReport(NamedTuple):
    """The cache at the end of a run: its size on disk (database and WAL) and the
    entries evicted (too old, or past the size bound)."""

    bytes: int
    evicted: int


def files_of(path: Path) -> list[Path]:
    """The cache's files: the database, its journal files, its key."""
    return [
        path,
        *(Path(f"{path}{suffix}") for suffix in cache_store.JOURNAL_SUFFIXES),
        cache_store.key_path(path),
    ]


def set_aside(path: Path, clock: Callable[[], float] = time.time) -> Path:
    """Rename the cache's files to `NAME.broken-STAMP...` (0600: they may hold
    pages); returns the database's new name. The journal files go with it, so a
    stale WAL is never replayed into the fresh database."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock()))
    aside = path.with_name(f"{path.name}.broken-{stamp}")
    for n in range(1, 100):
        if not any(
            Path(str(old).replace(str(path), str(aside), 1)).exists() for old in files_of(path)
        ):
            break
        aside = path.with_name(f"{path.name}.broken-{stamp}-{n}")
    for old in files_of(path):
        new = Path(str(old).replace(str(path), str(aside), 1))
        with contextlib.suppress(FileNotFoundError):
            os.rename(old, new)
            cache_store.narrow(new)
    return aside


def _check(path: Path, wait: float) -> None:
    """Raise Unusable unless the cache at `path` can be read and written now."""
    cache_store.read_key(path)
    connection = cache_store.connect(path, wait)
    try:
        connection.execute("BEGIN IMMEDIATE")  # another writer stuck on it shows here
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError:
        raise cache_store.Unusable(f"locked by another process for more than {wait:g} s") from None
    except sqlite3.DatabaseError as error:
        raise cache_store.Unusable(str(error)) from None
    finally:
        connection.close()


def prepare(
    path: Path,
    say: Callable[[str], None],
    wait: float = OPEN_WAIT,
    clock: Callable[[], float] = time.time,
) -> None:
    """Make the cache at `path` usable before the workers open it (see the module's
    docstring); what went wrong is one line through `say`."""
    try:
        _check(path, wait)
        return
    except cache_store.Unusable as error:
        problem = str(error)
    except OSError as error:
        say(
            f"crawl: cannot use the HTTP cache {path}: {error.strerror or error}; "
            "fetching without it"
        )
        return
    aside = set_aside(path, clock)
    say(
        f"crawl: the HTTP cache {path} cannot be used ({problem}); "
        f"kept it as {aside.name} and started a fresh one"
    )
    with contextlib.suppress(cache_store.Unusable, OSError, sqlite3.Error):
        _check(path, wait)  # the workers would make it too; made once here


def size_on_disk(path: Path) -> int:
    total = 0
    for name in (path, Path(f"{path}-wal")):
        with contextlib.suppress(OSError):
            total += os.path.getsize(name)
    return total


def _live_bytes(connection: sqlite3.Connection) -> int:
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * connection.execute("PRAGMA page_size").fetchone()[0]


def evict_old(connection: sqlite3.Connection, cutoff: float, deadline: float) -> int:
    """Delete rows used before `cutoff`, oldest first, batch by batch, until none
    is left or `deadline` (monotonic) passes. Returns how many went."""
    evicted = 0
    while time.monotonic() < deadline:
        gone = connection.execute(
            "DELETE FROM responses WHERE id IN "
            "(SELECT id FROM responses WHERE used < ? ORDER BY used LIMIT ?)",
            (cutoff, BATCH),
        ).rowcount
        evicted += gone
        if gone < BATCH:
            break
    return evicted


def evict_past(connection: sqlite3.Connection, max_size: int, deadline: float) -> int:
    """Delete the least recently used rows until the live pages fit in `max_size`
    bytes or `deadline` passes. Each batch is sized from the average row, so the
    file is not emptied further than it needs."""
    evicted = 0
    while time.monotonic() < deadline:
        live = _live_bytes(connection)
        if live <= max_size:
            break
        rows = connection.execute("SELECT count(*) FROM responses").fetchone()[0]
        if rows == 0:
            break
        batch = min(BATCH, max(1, math.ceil((live - max_size) / (live / rows))))
        evicted += connection.execute(
            "DELETE FROM responses WHERE id IN (SELECT id FROM responses ORDER BY used LIMIT ?)",
            (batch,),
        ).rowcount
    return evicted


def forget_origins(connection: sqlite3.Connection) -> None:
    """Drop the origins whose rows all went: a request there is not looked up."""
    connection.execute(
        "DELETE FROM origins WHERE NOT EXISTS "
        "(SELECT 1 FROM responses WHERE responses.origin = origins.origin)"
    )


def give_back(connection: sqlite3.Connection, deadline: float) -> None:
    """Return free pages to the file system, then empty the WAL into the file."""
    while time.monotonic() < deadline:
        if connection.execute("PRAGMA freelist_count").fetchone()[0] == 0:
            break
        # One page per step of the statement: fetchall() runs it to the end.
        connection.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})").fetchall()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def keep_bounded(
    path: Path,
    max_age_days: float,
    max_size: int | None,
    say: Callable[[str], None],
    budget: float = BUDGET,
    clock: Callable[[], float] = time.time,
) -> CacheReport:
    """The end-of-run pruning (see the module's docstring). Never raises for the
    cache's sake: a busy file is pruned by a later run, a damaged one is set aside
    (one line through `say`) and the next run starts a fresh one."""
    deadline = time.monotonic() + budget
    evicted = 0
    try:
        connection = cache_store.connect(path, wait=budget / 2)
    except (cache_store.Unusable, sqlite3.Error, OSError):
        return CacheReport(size_on_disk(path), 0)  # prepare() warned already
    try:
        evicted += evict_old(connection, clock() - max_age_days * DAY, deadline)
        if max_size is not None:
            evicted += evict_past(connection, max_size, deadline)
        if evicted:
            forget_origins(connection)
        give_back(connection, deadline)
    except sqlite3.OperationalError:
        pass  # busy (a run sharing this cache): the next run prunes
    except sqlite3.DatabaseError as error:
        connection.close()
        aside = set_aside(path, clock)
        say(f"crawl: the HTTP cache {path} is damaged ({error}); kept it as {aside.name}")
        return CacheReport(0, evicted)
    finally:
        connection.close()
    return CacheReport(size_on_disk(path), evicted)
