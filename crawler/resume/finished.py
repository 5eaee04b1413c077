"""What `db.txt` says of a run that may be continued: whether the last run finished,
and what an unfinished one has done. Read through `pipelines.runs`, the one reader
of runs (what "the last run" is, and when it finished, is written there).
Streams the file; holds a digest per URL.

- The last run: `last_run`, read from the end of the file backwards, so a long
  file costs a few blocks.
- What a run has done: every `url:` or `error:` key of its lines from its start
  line on (`pipelines.runs.run_lines`: the lines of its resumes too; a key is a
  URL that has its line: the resumed run does not fetch it again), and the counts
  its end line would have: a key with an `error:` line failed (its first one
  says why), else it is ok. A page's lines are one append, so they are adjacent.
  A final line cut short is not read.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from crawler.frontier.seen import SeenUrls, digest
from crawler.run_report import error_kind
from pipelines.runs import START, RunEvent, last_event, run_event, run_lines, select_run

_BAD_LINE = re.compile(r"line (\d+): ")


def last_run(path: Path) -> RunEvent | None:
    """The last run's last whole `run:` line (`pipelines.runs.last_event`), None if
    the file has none (or there is no file)."""
    try:
        with open(path, "rb") as db:
            return last_event(db)
    except FileNotFoundError:
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
    with open(path, "rb") as db:
        db.seek(offset)
        line = db.readline()
        if line == b"\n":  # the writer's newline after a torn last line
            offset, line = offset + 1, db.readline()
        event = run_event(line) if line.endswith(b"\n") else None
        if event is not None and (event.run, event.event) == (run, START):
            return offset
        db.seek(0)
        found = select_run(db, run)
    return found.offset if found is not None else None


def read_done(path: Path, run: str, offset: int) -> Done:
    """What the run `run`, whose start line is at `offset`, has done."""
    size = os.stat(path).st_size - offset
    done = Done(SeenUrls(min(max(size, 0) // 64, 1 << 24)))  # about a line a URL
    key: str | None = None
    error: str | None = None
    fetched = False

    def settle() -> None:
        if key is None or not done.keys.add_digest(digest(key)):
            return
        if error is not None:
            done.failed += 1
            done.errors[error_kind(error)] += 1
            bad = _BAD_LINE.match(error)
            if bad and not fetched:
                done.bad_lines.add(int(bad.group(1)))
        elif fetched:
            done.ok += 1

    with open(path, "rb") as db:
        db.seek(offset)
        for _, _, line in run_lines(db, (run,)):
            if line.kind not in ("url", "error"):
                continue
            if line.key != key:
                settle()
                key, error, fetched = line.key, None, False
            if line.kind == "url":
                fetched = True
            elif error is None:
                error = line.rest
        settle()
    return done
