"""The records of `db.txt` read back as data, for `crawl export`. Pure: it reads
an iterable of byte lines (a file opened in binary) and yields plain dicts, one
line at a time, so a file of millions of lines is never held in memory. Which
lines belong to which run is `pipelines.runs`'s to say (`crawl diff` reads runs
the same way).

What a record is:
- Every line but a `run:` line: `url`, `error`, `board`, or any parser's kind
  (`NAME:<URL> {json}`). Each comes out as `{"kind": ..., "url": ..., "run": ...}`
  followed by what its line holds: for `url`, `size` (a number) and any other
  `name:[value]` fields (digits as numbers); for `error`, `reason`; for any
  other kind, the keys of its JSON object, in their order. A JSON key that is
  one of those three (a parser's own `url` field) comes out with a `_` appended
  (`url_`), so nothing is lost.
- `run` is the id of the run the line belongs to (`pipelines.runs`: from its
  `start` or `resume` line to its `end` line or the next run's start); a record
  outside any run has `run` None.
- A line that is not a whole record of its kind (a torn line a later run wrote
  after, `url:<...> size:[12`) is skipped, and `skipped(number, why)` told, as
  `pipelines.runs.run_lines` does for a line cut short or a stray line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from pipelines.records import Line
from pipelines.runs import ALL, EVERY_RECORD, LAST, Selection, Skipped, run_lines, select_run

__all__ = ["ALL", "EVERY_RECORD", "LAST", "Selection", "read_records", "select_run", "to_record"]
_FIELD = re.compile(r"(\w+):\[([^\]]*)\]")
# A url line's rest: its size, then any further `name:[value]` fields.
_URL_REST = re.compile(rf"size:\[[0-9]+\](?: {_FIELD.pattern})*")


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
    runs = None if run is None else (run,)
    for number, current, line in run_lines(lines, runs, first_number, skipped):
        if kind is not None and line.kind != kind:
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
