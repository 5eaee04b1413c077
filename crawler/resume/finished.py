"""What `db.txt` says of a run that may be continued: whether the last run finished,
and what an unfinished one has done. Streams the file; holds a digest per URL.

- The last run is the one of the last whole `run:` line in the file (read from the
  end backwards, so a long file costs a few blocks). It is unfinished when that
  line is its `start` or `resume` line, or an `end` line that says
  `status=interrupted`.
- What a run has done: every `url:` or `error:` key from its start line on (a key
  is a URL that has its line: the resumed run does not fetch it again), and the
  counts its end line would have: a key with an `error:` line failed (its first
  one says why), else it is ok. A page's lines are one append, so they are
  adjacent. A final line cut short is not read.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from crawler.frontier.seen import SeenUrls, digest_bytes
from crawler.run_report import error_kind

BLOCK = 1 << 16
_BAD_LINE = re.compile(rb"line (\d+): ")
_RUN_LINE = re.compile(rb"run:<([^<>\s]+)> (\w+)(.*)")


@dataclass(frozen=True)
class LastRun:
    id: str
    event: str  # start, resume or end
    rest: str  # the line after the event word

    @property
    def finished(self) -> bool:
        return self.event == "end" and "status=interrupted" not in self.rest.split()


def last_run(path: Path) -> LastRun | None:
    """The last whole `run:` line of the file, None if it has none (or no file)."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with file:
        end = os.fstat(file.fileno()).st_size
        tail = b""
        first = True
        while end > 0:
            start = max(0, end - BLOCK)
            file.seek(start)
            data = file.read(end - start) + tail
            lines = data.split(b"\n")
            tail = lines[0] if start > 0 else b""
            whole = lines[1:] if start > 0 else lines
            if first:  # the file's last line is whole only if the file ends in \n
                whole = whole[:-1]
                first = False
            for line in reversed(whole):
                match = _RUN_LINE.fullmatch(line)
                if match:
                    run, event, rest = (part.decode("utf-8", "replace") for part in match.groups())
                    return LastRun(run, event, rest.strip())
            end = start
    return None


@dataclass
class Done:
    """The URLs of a run that have their line, and the run's counts so far."""

    keys: SeenUrls = field(default_factory=SeenUrls)
    ok: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    bad_lines: set[int] = field(default_factory=set)  # URL file lines answered as bad

    @property
    def admitted(self) -> int:
        """How many of the keys the frontier must have admitted (bad lines were not)."""
        return len(self.keys) - len(self.bad_lines)


def find_start(path: Path, run: str, offset: int) -> int | None:
    """The byte offset of the run's start line: `offset` if it is there (what the
    state says), else found by reading the file from its beginning."""
    head = f"run:<{run}> start ".encode()
    with open(path, "rb") as db:
        db.seek(offset)
        line = db.readline()
        if line == b"\n":  # the writer's newline after a torn last line
            offset, line = offset + 1, db.readline()
        if line.startswith(head):
            return offset
        db.seek(0)
        at = 0
        for line in db:
            if line.startswith(head):
                return at
            at += len(line)
    return None


def read_done(path: Path, run: str, offset: int) -> Done:
    """What the run `run`, whose start line is at `offset`, has done."""
    size = os.stat(path).st_size - offset
    done = Done(SeenUrls(min(max(size, 0) // 64, 1 << 24)))  # about a line a URL
    key: bytes | None = None
    error: bytes | None = None
    fetched = False

    def settle() -> None:
        if key is None or not done.keys.add_digest(digest_bytes(key)):
            return
        if error is not None:
            done.failed += 1
            done.errors[error_kind(error.decode("utf-8", "replace"))] += 1
            bad = _BAD_LINE.match(error)
            if bad and not fetched:
                done.bad_lines.add(int(bad.group(1)))
        elif fetched:
            done.ok += 1

    with open(path, "rb") as db:
        db.seek(offset)
        for raw in db:
            if not raw.endswith(b"\n"):
                break  # cut short by a kill: not written
            if raw.startswith(b"url:<"):
                kind, start = b"url", 5
            elif raw.startswith(b"error:<"):
                kind, start = b"error", 7
            else:
                continue
            close = raw.find(b"> ", start)
            if close < 0:
                continue
            this = raw[start:close]
            if this != key:
                settle()
                key, error, fetched = this, None, False
            if kind == b"url":
                fetched = True
            elif error is None:
                error = raw[close + 2 : -1]
        settle()
    return done
