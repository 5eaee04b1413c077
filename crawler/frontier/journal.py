"""The frontier's journal: what a run admitted, written as it goes, so that a run
killed at any instant can be continued (`--resume`, `crawler.resume`).

`db.txt` is the log of URLs finished (each has its one `url:` or `error:` line);
the journal is the log of URLs admitted and of what the frontier decided about
links. A URL admitted but without a line in `db.txt` is pending: the resumed run
fetches it. Records are text lines, fields split by tabs:

    + SEEN KEY HOST FLAG ENTRY
                          an admitted URL: the digests of its seen-set key and of its
                          db.txt key and its host (so a resume need not work them out
                          again), and the frontier's `Entry.to_line()`, its URL
                          without `user:password@` (FLAG: empty; `-` when one was
                          taken out: a found link's, as `crawler.identity` takes
                          those of listed URLs out before the frontier sees them)
    = DIGEST              a key marked seen (a redirect's URLs)
    p KEY                 the links of the page KEY (its db.txt key) were taken: the
                          lines after it, to the group's end, are its admitted links
    s HOST                the sitemaps of HOST's robots.txt were taken
    r HOST JSON           HOST's robots.txt was read: what it gave (its text, or
                          why it could not be read), so a resume does not ask again
    d REASON N            N links not followed, for REASON
    @ OFFSET NUMBER       the URL file was handled up to byte OFFSET, line NUMBER
    k OFFSET NUMBER       the URL file line at byte OFFSET (line NUMBER) is the first
                          of its origin, or the first with `user:password@` there: a
                          resume reads it again, for who the crawl is there
                          (`crawler.identity`), since the journal holds no secret
    b COUNTERS            the run's counters that db.txt cannot tell (bytes, retries...),
                          as of this flush, in the form the caller's `snapshot` gives
    .                     commit: every record since the previous `.` holds

The order of writes makes a kill at any instant harmless:
1. `flush()` comes before every append to `db.txt` (`JournaledWriter`): a page
   whose lines are in db.txt has its links, and every URL with a line in db.txt
   was admitted in the journal first. (Every `FLUSH_AT` records it also flushes
   on its own: a commit may come early, never late.)
2. One `flush()` is one `write` ending in `.`; what follows the last `.` (a write a
   kill cut short) is ignored, and cut off before the resumed run appends.
3. A page's links are one group (`begin` ... `end`), kept apart until `end` and
   then put in the buffer at once, so no flush from another thread splits it: a
   group in the journal is all of a page's links. (The frontier is called under
   the loop's lock, so one group is open at a time.)
4. A page whose links are in the journal but whose line is not in db.txt (the
   kill came between the two) is fetched again, and its links are not taken a
   second time (`begin` says False): they, and their counts, are in already.

The journal holds URLs without credentials and nothing of headers or cookies. It is
flushed (to the kernel, which keeps it through a kill of the process), not
synced page by page; `close()` syncs (see docs/between-runs.md, Killed runs, for power cuts).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from crawler.frontier.entry import Entry
from crawler.frontier.seen import digest
from crawler.urls import record_key, redact_url

FORMAT = "crawl-journal 1"
FLUSH_AT = 4096  # records kept before a flush that no page asked for
COMMIT = b".\n"


def digest_hex(pair: tuple[int, int]) -> str:
    high, low = pair
    return f"{high:016x}{low:08x}"


def digest_pair(text: str) -> tuple[int, int]:
    return int(text[:16], 16), int(text[16:], 16)


class Journal:
    """The writing side. Thread-safe: the frontier calls it under the loop's lock,
    the writer's `flush` comes from whichever thread appends to db.txt."""

    def __init__(self, fd: int, links_taken: set[str] | None = None) -> None:
        """`fd`: the journal file, open for appending; `links_taken`: the keys of
        pages whose links the journal holds though their line is not in db.txt."""
        self._fd = fd
        self._lock = threading.RLock()
        self._buffer: list[str] = []
        self._group: list[str] | None = None
        self._depth = 0
        self._dropped: Counter[str] = Counter()
        self.links_taken = links_taken if links_taken is not None else set()
        self.snapshot: Callable[[], str] | None = None  # the `b` record of each flush
        self._position: tuple[int, int] | None = None
        self.broken: OSError | None = None
        self.closed = False

    # -- what the frontier tells ---------------------------------------------------
    def admitted(self, seen: tuple[int, int], host: str, entry: Entry) -> None:
        """An entry was taken into the run; `seen`: the digest of its seen-set key."""
        url = redact_url(entry.url)
        flag = ""
        if url != entry.url:
            entry = entry._replace(url=url)
            flag = "-"
        key = digest_hex(digest(record_key(url)))
        self._add(f"+\t{digest_hex(seen)}\t{key}\t{host}\t{flag}\t{entry.to_line()}")

    def seen(self, digest: tuple[int, int]) -> None:
        self._add(f"=\t{digest_hex(digest)}")

    def position(self, offset: int, number: int) -> None:
        """The URL file is handled up to `offset` (after line `number`); the next
        flush says so, once."""
        self._position = (offset, number)

    def robots(self, host: str, read: Mapping[str, str | None]) -> None:
        self._add(f"r\t{host}\t{json.dumps(read, ensure_ascii=False)}")

    def identity_line(self, offset: int, number: int) -> None:
        self._add(f"k\t{offset}\t{number}")

    def begin(self, mark: str, value: str, dropped: Mapping[str, int]) -> bool:
        """Open the group of a page's links (`mark` p, its db.txt key) or of a host's
        sitemaps (`s`, the host); `dropped`: the frontier's counts of links not
        followed, which `end` compares. False: the journal holds this page's links
        from before a kill already; take none (nothing is opened)."""
        with self._lock:
            if mark == "p" and value in self.links_taken:
                self.links_taken.discard(value)
                return False
            self._depth += 1
            if self._group is None:
                self._group = [f"{mark}\t{value}"]
                self._dropped = Counter(dropped)
            return True

    def end(self, dropped: Mapping[str, int]) -> None:
        """Close the group: its records, and the links not followed since `begin`."""
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._group is not None:
                group = self._group
                before = self._dropped
                group += [f"d\t{reason}\t{n - before[reason]}"
                          for reason, n in dropped.items() if n != before[reason]]  # fmt: skip
                self._group = None
                self._buffer.extend(group)

    def _add(self, record: str) -> None:
        with self._lock:
            if self._group is not None:
                self._group.append(record)
                return
            self._buffer.append(record)
            if len(self._buffer) >= FLUSH_AT:  # a URL file read far ahead of the pages
                with contextlib.suppress(OSError):  # kept in `broken`: the next page stops
                    self.flush()

    # -- what the writer asks --------------------------------------------------------
    def flush(self) -> None:
        """Write what was recorded, with a commit mark, in one write. Before every
        append to db.txt. Raises OSError when the disk says no, then and ever after
        (what could not be written cannot be left out of a later commit)."""
        with self._lock:
            if self.broken is not None:
                raise self.broken
            if self.closed:
                return
            if self.snapshot is not None:
                self._buffer.append("b\t" + self.snapshot())
            if self._position is not None:
                self._buffer.append("@\t{}\t{}".format(*self._position))
                self._position = None
            if not self._buffer:
                return
            data = ("\n".join(self._buffer) + "\n").encode("utf-8", "surrogatepass") + COMMIT
            self._buffer.clear()
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError as error:
                self.broken = error
                raise

    def close(self, sync: bool = True) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self.flush()
                if sync:
                    os.fsync(self._fd)
            finally:
                self.closed = True
                os.close(self._fd)


# -- the reading side -----------------------------------------------------------------
def committed_groups(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The records of the journal at `path` after its header line, one commit at a
    time, with the byte offset just past each commit mark. What follows the last
    mark (a write a kill cut short) is not given."""
    with open(path, "rb") as journal:
        journal.readline()  # the header
        offset = journal.tell()
        yield offset, []  # nothing committed yet: the journal ends after its header
        pending: list[str] = []
        for raw in journal:
            offset += len(raw)
            if raw == COMMIT:
                yield offset, pending
                pending = []
            elif raw.endswith(b"\n"):
                pending.append(raw[:-1].decode("utf-8", "surrogatepass"))
