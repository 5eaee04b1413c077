"""The records of `db.txt` read back as data, for `crawl export`. Pure: it reads
an iterable of byte lines (a file opened in binary) and yields plain dicts, one
line at a time, so a file of millions of lines is never held in memory.

What a record is:
- Every line but a `run:` line: `url`, `error`, `board`, or any parser's kind
  (`NAME:<URL> {json}`). Each comes out as `{"kind": ..., "url": ..., "run": ...}`
  followed by what its line holds: for `url`, `size` (a number) and any other
  `name:[value]` fields (digits as numbers); for `error`, `reason`; for any
  other kind, the keys of its JSON object, in their order. A JSON key that is
  one of those three (a parser's own `url` field) comes out with a `_` appended
  (`url_`), so nothing is lost.
- `run` is the id of the run the line belongs to: a run is the lines from its
  `start` line to its `end` line, and a run that was killed (no end line) lasts
  until the next run's `start`, or the end of the file. A record outside any run
  (a file another tool wrote, lines before the first run) has `run` None.
- Lines written before the brackets (`url:https://... size:[N]`) read the same
  (`pipelines.records.read_line`).

The order `select_run` and `read_records` decide in:
1. Which run: `all` is every record; a run id is that run; `last` is the last run
   that has a `start` line, or every record when the file has no `run:` line.
   `select_run` finds where the chosen run starts, so `read_records` can begin
   there (a seek) and stop at its end.
2. Each line: a final line without its newline was cut short (a writer killed
   mid-line): skipped, whatever it looks like. A line that is not a record of its
   kind (a torn line a later run wrote after, `url:<...> size:[12`; a stray line)
   is skipped too. Either way `skipped(number, why)` is told; blank lines are
   passed over in silence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from pipelines.records import Line, read_line

ALL = "all"
LAST = "last"
_FIELD = re.compile(r"(\w+):\[([^\]]*)\]")
# A url line's rest: its size, then any further `name:[value]` fields.
_URL_REST = re.compile(rf"size:\[[0-9]+\](?: {_FIELD.pattern})*")

Skipped = Callable[[int, str], None]


class Selection(NamedTuple):
    """Where the chosen records are: the run's id (None: every record), and the
    byte offset and line number (1-based) of the line to start reading at."""

    run: str | None
    offset: int
    number: int


EVERY_RECORD = Selection(None, 0, 1)


def _run_event(raw: bytes) -> tuple[str, str] | None:
    """(run id, event) of a `run:` line, else None."""
    if not raw.startswith(b"run:"):
        return None
    line = read_line(raw.decode("utf-8", "replace"))
    if line is None or line.kind != "run":
        return None
    return line.key, line.rest.split(" ", 1)[0]


def select_run(lines: Iterable[bytes], which: str) -> Selection | None:
    """Where the records of `which` (`all`, `last` or a run id) start; None when
    the file has no run of that id. Reads up to the run's start line (`last`:
    the whole file, looking only at `run:` lines)."""
    if which == ALL:
        return EVERY_RECORD
    found = EVERY_RECORD if which == LAST else None
    offset = 0
    for number, raw in enumerate(lines, 1):
        event = _run_event(raw) if raw.endswith(b"\n") else None
        if event is not None and event[1] == "start":
            if which == LAST:
                found = Selection(event[0], offset, number)
            elif event[0] == which:
                return Selection(which, offset, number)
        offset += len(raw)
    return found


def read_records(
    lines: Iterable[bytes],
    run: str | None = None,
    kind: str | None = None,
    first_number: int = 1,
    skipped: Skipped | None = None,
) -> Iterator[dict[str, Any]]:
    """The records of `lines`, in file order: of the run `run` only (None: of every
    run and of none), of the kind `kind` only (None: every kind). `first_number`
    is the line number of the first line given (after a seek)."""
    current: str | None = None
    for number, raw in enumerate(lines, first_number):
        if not raw.endswith(b"\n"):
            if skipped and raw.strip():
                skipped(number, "the last line is cut short (a writer stopped mid-line)")
            return
        text = raw.decode("utf-8", "replace")
        line = read_line(text)
        if line is None:
            if skipped and text.strip():
                skipped(number, "not a record line")
            continue
        if line.kind == "run":
            event = line.rest.split(" ", 1)[0]
            if event == "start":
                if run is not None and current == run:
                    return  # the chosen run was killed; the next one began
                current = line.key
            elif event == "end":
                if run is not None and line.key == run:
                    return
                current = None
            continue
        if (run is not None and current != run) or (kind is not None and line.kind != kind):
            continue
        record = to_record(line, current)
        if record is None:
            if skipped:
                skipped(number, f"not a whole {line.kind}: line")
            continue
        yield record


def to_record(line: Line, run: str | None) -> dict[str, Any] | None:
    """One record line as a dict; None when its rest is not what its kind holds."""
    record: dict[str, Any] = {"kind": line.kind, "url": line.key, "run": run}
    if line.kind == "url":
        if not _URL_REST.fullmatch(line.rest):
            return None
        for name, value in _FIELD.findall(line.rest):
            record[_own(record, name)] = (
                int(value) if value.isascii() and value.isdigit() else value
            )
    elif line.kind == "error":
        if not line.rest:
            return None
        record["reason"] = line.rest
    else:
        try:
            entry = json.loads(line.rest)
        except ValueError:
            return None
        if not isinstance(entry, dict):
            return None
        for name, value in entry.items():
            record[_own(record, name)] = value
    return record


def _own(record: dict[str, Any], name: str) -> str:
    """`name`, or with `_` appended until it is free: the record's own keys stay."""
    while name in record:
        name += "_"
    return name
