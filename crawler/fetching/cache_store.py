"""The HTTP cache's file: one SQLite table of stored answers, and its key file.

The promises, and how each is kept:
- Private. The file, its `-wal`/`-shm`/`-journal` and the key file are made 0600
  before SQLite touches them (`create_private`; SQLite gives a database's journal
  files the database file's mode). An older file with wider bits is narrowed.
- No secret inside. A row holds the URL without its `user:password@`, the answer's
  headers without `Set-Cookie`, and the body; never a request header. Whose request
  it was is only in the row's `key`: a keyed hash (BLAKE2b in its MAC mode, which
  serves as HMAC does and costs a tenth of OpenSSL's HMAC a call), under a random key of this cache
  (`<cache>.key`, 0600), of the method, the URL and the identity headers
  (`crawler.fetching.cache_policy.identity_pairs`), so the file cannot even be
  used to test a guessed password without the key file.
- One indexed lookup a request (`lookup`: the unique index on `key`); a body is
  kept as the wire sent it when it came gzip-compressed (`WIRE`: read back
  through the same bounded decoder as a body off the network), else as it was
  read (`PLAIN`), never compressed again: zlib on every page cost a first run as
  much CPU as the rest of the cache together. `used` (when a run last used the
  row) drives the pruning (`crawler.fetching.cache_upkeep`).
- Cheap writes: a connection made by `connect` holds its writes (`save`, `touch`,
  `refresh`, `add_origin`) and commits them together, in one transaction, once
  `WRITE_BATCH` are held, once the oldest has waited `WRITE_EVERY` seconds (a
  thread of each process looks), when it is closed, and when its process exits.
  One commit a page cost more than the page's fetch. So a kill -9 may lose the
  last half second of saves (it is a cache: those pages are fetched in full
  next time); what was committed is whole, and the file opens as it is.
- Several processes at once: WAL mode (readers never wait for the writer), the
  write lock held only while a batch commits, and a bounded busy timeout: a
  batch that cannot get the file in `BUSY_TIMEOUT` is dropped (it costs the
  saving, not the pages).
- Its version is in the file (`application_id`, `user_version`): a file that is
  not ours, or of another schema, is `Unusable`, never misread. A file of schema
  2 is taken as it is (its rows mean the same in 3) and marked 3, so that an
  older crawl, which cannot read a `WIRE` body, sets it aside instead.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import multiprocessing.util
import os
import sqlite3
import threading
import time
import weakref
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

APPLICATION_ID = 0x63726C63  # "crlc": this file is crawl's HTTP cache
SCHEMA_VERSION = 3
UPGRADABLE = (2,)  # schemas whose files this one reads as they are
# How a row's body is kept (the `compressed` column):
PLAIN = 0  # as read, Content-Encoding undone
ZLIB = 1  # zlib-compressed (rows written by crawl 0.3 and before)
WIRE = 2  # as the wire sent it: its stored Content-Encoding still to undo
BUSY_TIMEOUT = 2.0  # seconds a write waits for another process's transaction
KEY_BYTES = 32
JOURNAL_SUFFIXES = ("-wal", "-shm", "-journal")
WRITE_BATCH = 64  # writes held before they are committed together
WRITE_EVERY = 0.5  # seconds the oldest held write may wait for its commit
# A hit refreshes `used` at most this often: pruning counts in days, and not
# writing on every hit keeps a revalidated page's cost to one lookup.
USED_GRANULARITY = 3600.0
# A new file's page: a stored page of ~20 KB takes 2 pages instead of 6 (SQLite's
# default is 4 KB), which made storing one 0.03 ms cheaper (0.087 -> 0.056 ms a row).
PAGE_SIZE = 16384

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY,
    key BLOB NOT NULL UNIQUE,      -- MAC(method, URL, identity headers)
    used REAL NOT NULL,            -- when a run last stored, revalidated or served it
    fresh_until REAL NOT NULL,     -- served unasked until then (0: always revalidated)
    etag TEXT,
    last_modified TEXT,
    vary TEXT NOT NULL,            -- request headers the answer varies on, "" for none
    vary_hash BLOB,                -- MAC of this request's values of those headers
    compressed INTEGER NOT NULL,   -- 0: as read, 1: zlib, 2: as the wire sent it
    origin TEXT NOT NULL,          -- scheme://host:port of the URL
    url TEXT NOT NULL,             -- for a person reading the file, without user:password@
    headers TEXT NOT NULL,         -- the answer's, as JSON [[name, value], ...]
    body BLOB NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS responses_used ON responses (used)",
    "CREATE INDEX IF NOT EXISTS responses_origin ON responses (origin)",
    # The origins that have rows: a request to any other is not looked up at all.
    "CREATE TABLE IF NOT EXISTS origins (origin TEXT PRIMARY KEY) WITHOUT ROWID",
)


class Unusable(Exception):
    """The file cannot serve as the cache: not a database, not ours, another schema,
    or locked past the wait. The message is a few words for the warning line."""


class Entry(NamedTuple):
    """A stored answer as `lookup` returns it (the body still compressed)."""

    id: int
    used: float
    fresh_until: float
    etag: str | None
    last_modified: str | None
    vary: str
    vary_hash: bytes | None
    compressed: int
    headers: str
    body: bytes

    def stored_body(self) -> bytes:
        """The body, without the zlib of old rows: a WIRE body still has its
        Content-Encoding (`crawler.fetching.body.read_body` undoes it)."""
        return zlib.decompress(self.body) if self.compressed == ZLIB else self.body

    def header_pairs(self) -> list[tuple[str, str]]:
        return [tuple(pair) for pair in json.loads(self.headers)]


def key_path(path: Path) -> Path:
    return path.with_name(path.name + ".key")


def create_private(path: Path) -> None:
    """Make `path` (empty) with mode 0600 unless it exists, and narrow the mode of
    it and its journal files if they exist with wider bits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    for name in (path, *(Path(f"{path}{suffix}") for suffix in JOURNAL_SUFFIXES)):
        narrow(name)


def narrow(path: Path) -> None:
    """Mode 0600 for `path` if it exists with more (someone else's file: left alone)."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)


def read_key(path: Path) -> bytes:
    """The cache's MAC key, made (random, 0600) if missing. Made beside and linked
    into place, so that processes starting together agree on one key and none
    reads a half-written one. Raises Unusable for a key file of the wrong size."""
    place = key_path(path)
    try:
        key = place.read_bytes()
    except FileNotFoundError:
        temporary = place.with_name(f".{place.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, os.urandom(KEY_BYTES))
        finally:
            os.close(fd)
        try:
            os.link(temporary, place)
        except FileExistsError:
            pass  # another process made it first: its key is the cache's
        finally:
            os.unlink(temporary)
        key = place.read_bytes()
    if len(key) != KEY_BYTES:
        raise Unusable(f"its key file {place.name} is damaged")
    narrow(place)
    return key


class CacheConnection(sqlite3.Connection):
    """A connection that holds its writes and commits them together (see the
    module's docstring). `lookup` finds an answer saved and still held by any
    connection of this process as it finds one in the file."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held: list[tuple[str, tuple]] = []
        self.held_since = 0.0
        self.holding = threading.Lock()  # the owner thread, the committer, the exit
        _OPEN.add(self)

    def hold(self, statement: str, parameters: tuple) -> None:
        """Queue a write; commit the batch now if it is full."""
        with self.holding:
            if not self.held:
                self.held_since = time.monotonic()
                _committer()
            self.held.append((statement, parameters))
            if statement is _SAVE:
                _HELD_SAVES[parameters[0]] = parameters
            full = len(self.held) >= WRITE_BATCH
        if full:
            self.commit_held()

    def commit_held(self, due_before: float | None = None) -> None:
        """Commit the held writes in one transaction (only if the oldest was held
        before `due_before`, when given). A batch the file refuses is dropped and
        the error raised, for the caller to stop writing."""
        with self.holding:
            if not self.held or (due_before is not None and self.held_since > due_before):
                return
            writes, self.held = self.held, []
            try:
                with _write_lock(self):
                    for statement, parameters in writes:
                        self.execute(statement, parameters)
            finally:
                for statement, parameters in writes:
                    if statement is _SAVE and _HELD_SAVES.get(parameters[0]) is parameters:
                        del _HELD_SAVES[parameters[0]]

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.commit_held()
        _OPEN.discard(self)
        super().close()

    def __del__(self) -> None:  # dropped unclosed: what it holds is still saved
        with contextlib.suppress(Exception):
            self.commit_held()


_OPEN: weakref.WeakSet[CacheConnection] = weakref.WeakSet()
_HELD_SAVES: dict[bytes, tuple] = {}  # key -> a save's parameters, until committed
_HELD_ORIGINS: set[str] = set()  # origins this process added rows of
_committing_in: int | None = None  # the process whose committer thread runs


def _committer() -> None:
    """Start this process's committer thread and register its commit at exit,
    once (a child process, which starts with neither, does it for itself)."""
    global _committing_in
    if _committing_in == os.getpid():
        return
    _committing_in = os.getpid()
    # A pool's worker process exits through multiprocessing's finalizers, not atexit.
    multiprocessing.util.Finalize(None, commit_all, exitpriority=100)
    threading.Thread(target=_commit_due, name="crawl-cache-commit", daemon=True).start()


def _commit_due() -> None:
    """Every half WRITE_EVERY, commit the batches whose oldest write is due."""
    while True:
        time.sleep(WRITE_EVERY / 2)
        due_before = time.monotonic() - WRITE_EVERY
        for connection in list(_OPEN):
            with contextlib.suppress(sqlite3.Error):
                connection.commit_held(due_before)


def commit_all() -> None:
    """Commit every connection's held writes (at the exit of a process)."""
    for connection in list(_OPEN):
        with contextlib.suppress(sqlite3.Error):
            connection.commit_held()


atexit.register(commit_all)


def connect(path: Path, wait: float = BUSY_TIMEOUT) -> CacheConnection:
    """A connection to the cache at `path`, made (0600, WAL, schema) if it is new,
    that holds its writes (`CacheConnection`). Raises Unusable for a file that is
    not a usable cache of this version, or one still locked after `wait` seconds."""
    create_private(path)
    give_up = time.monotonic() + wait
    while True:
        connection = None
        try:
            # isolation_level=None: each statement commits alone, unless BEGIN says.
            connection = sqlite3.connect(
                path,
                timeout=wait,
                isolation_level=None,
                check_same_thread=False,
                factory=CacheConnection,
            )
            _set_up(connection)
            return connection
        except sqlite3.OperationalError as error:
            if connection is not None:
                connection.close()
            if "locked" not in str(error) and "busy" not in str(error):
                raise Unusable(_words(error)) from None
            if time.monotonic() > give_up:
                raise Unusable(f"locked by another process for more than {wait:g} s") from None
            time.sleep(0.05)  # a switch to WAL is not covered by the busy timeout
        except sqlite3.DatabaseError as error:
            if connection is not None:
                connection.close()
            raise Unusable(_words(error)) from None


def _words(error: sqlite3.Error) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _set_up(connection: sqlite3.Connection) -> None:
    """Check the file's version; create the schema in an empty file (auto_vacuum
    must be chosen before the first table, so freed pages can be given back).
    Workers may be making it at the same moment: what the file is, is read in one
    statement (one snapshot), and read again under the write lock before creating."""
    state = _state(connection)
    if state == "ours":
        _per_connection(connection)
        return
    if state == "older":
        with _write_lock(connection):
            if _state(connection) == "older":
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        _per_connection(connection)
        return
    if state == "foreign":
        raise Unusable("written by another program or version")
    connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
    if connection.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
        raise sqlite3.OperationalError("database is locked")  # retried by connect
    with _write_lock(connection):
        state = _state(connection)
        if state == "foreign":
            raise Unusable("written by another program or version")
        if state == "empty":
            _create(connection)
    _per_connection(connection)


@contextlib.contextmanager
def _write_lock(connection: sqlite3.Connection) -> Iterator[None]:
    """One transaction holding the write lock from its start: committed at the end
    of the block, rolled back if it raises."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
        raise


def _create(connection: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        connection.execute(statement)
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


_STATE = (
    "SELECT (SELECT application_id FROM pragma_application_id), "
    "(SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_master)"
)


def _state(connection: sqlite3.Connection) -> str:
    """`ours` (this schema), `older` (one it reads as it is), `empty` (a new
    file), or `foreign`."""
    application, version, tables = connection.execute(_STATE).fetchone()
    if (application, version) == (APPLICATION_ID, SCHEMA_VERSION):
        return "ours"
    if application == APPLICATION_ID and version in UPGRADABLE:
        return "older"
    return "empty" if (application, version, tables) == (0, 0, 0) else "foreign"


def _per_connection(connection: sqlite3.Connection) -> None:
    # NORMAL: in WAL mode a commit does not wait for the disk; a power cut can lose
    # the last saves, which for a cache costs a fetch. (OFF, no fsync even when the
    # WAL is copied into the file, measured no cheaper: 1,000 rows of 20 KB.)
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA mmap_size = 268435456")


_LOOKUP = (
    "SELECT id, used, fresh_until, etag, last_modified, vary, vary_hash, compressed, "
    "headers, body FROM responses WHERE key = ?"
)
_SAVE = (
    "INSERT OR REPLACE INTO responses (key, used, fresh_until, etag, last_modified, vary, "
    "vary_hash, compressed, origin, url, headers, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def origins(connection: sqlite3.Connection) -> set[str]:
    """The origins the cache holds rows of (a few hundred at most, for a crawl),
    those of the rows this process holds still included."""
    stored = {row[0] for row in connection.execute("SELECT origin FROM origins")}
    return stored | _HELD_ORIGINS


_ADD_ORIGIN = "INSERT OR IGNORE INTO origins (origin) VALUES (?)"


def _write(connection: sqlite3.Connection, statement: str, parameters: tuple) -> None:
    """Hold the write on a connection of `connect`; run it now on any other."""
    if isinstance(connection, CacheConnection):
        connection.hold(statement, parameters)
    else:
        connection.execute(statement, parameters)


def add_origin(connection: sqlite3.Connection, origin: str) -> None:
    if isinstance(connection, CacheConnection):
        _HELD_ORIGINS.add(origin)
    _write(connection, _ADD_ORIGIN, (origin,))


def lookup(connection: sqlite3.Connection, key: bytes) -> Entry | None:
    """The answer stored under `key`: one held by this process (its id 0: not in
    the file yet, so a touch or refresh of it changes nothing), else the file's."""
    held = _HELD_SAVES.get(key)
    if held is not None:
        _, used, fresh_until, etag, last_modified, vary, vary_hash, compressed = held[:8]
        headers, body = held[10:12]
        return Entry(
            0, used, fresh_until, etag, last_modified, vary, vary_hash, compressed, headers, body
        )
    row = connection.execute(_LOOKUP, (key,)).fetchone()
    return None if row is None else Entry(*row)


def save(
    connection: sqlite3.Connection,
    key: bytes,
    now: float,
    fresh_until: float,
    etag: str | None,
    last_modified: str | None,
    vary: str,
    vary_hash: bytes | None,
    origin: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    kept_as: int = PLAIN,
) -> None:
    """Store an answer (replacing the key's earlier one), its body as it is:
    `kept_as` says how (PLAIN, or WIRE with `headers` naming its coding)."""
    _write(
        connection,
        _SAVE,
        (
            key,
            now,
            fresh_until,
            etag,
            last_modified,
            vary,
            vary_hash,
            kept_as,
            origin,
            url,
            json.dumps(headers, ensure_ascii=False),
            body,
        ),
    )


def touch(connection: sqlite3.Connection, entry: Entry, now: float) -> None:
    """Mark `entry` used now, when its mark is older than `USED_GRANULARITY`."""
    if now - entry.used >= USED_GRANULARITY:
        _write(connection, "UPDATE responses SET used = ? WHERE id = ?", (now, entry.id))


def refresh(
    connection: sqlite3.Connection,
    entry: Entry,
    now: float,
    fresh_until: float,
    etag: str | None,
    last_modified: str | None,
    headers: list[tuple[str, str]],
) -> None:
    """A 304 changed what the entry says about itself (validators, lifetime)."""
    _write(
        connection,
        "UPDATE responses SET used = ?, fresh_until = ?, etag = ?, last_modified = ?, "
        "headers = ? WHERE id = ?",
        (now, fresh_until, etag, last_modified, json.dumps(headers, ensure_ascii=False), entry.id),
    )
