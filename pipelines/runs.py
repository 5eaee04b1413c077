"""The runs of `db.txt`: which lines belong to which run, read as a stream. The one
reader of runs: `crawl export` (`pipelines.export`), `crawl diff`
(`pipelines.diff`) and `--resume` (`crawler.resume.finished`) read a run the same
way. Pure: it reads an iterable of byte lines (a file opened in binary; only
`last_event` seeks in one) and never holds more than one line and the list of runs.

What a run is:
- A `run:<ID> start ...` line opens the run ID; a `run:<ID> resume ...` line (a
  run continued by `--resume`) opens it again, later in the file; a
  `run:<ID> end ...` line closes it. A run's lines are every line while it is
  open: from each of its start and resume lines to its end line, or to the next
  run's start or resume line (a run that was killed has no end line). So a URL
  written after a resume belongs to the run it resumed.
- A line outside any run (a file another tool wrote, lines before the first run)
  belongs to no run (None).
- Lines written before the brackets (`url:https://... size:[N]`) read the same
  (`pipelines.records.read_line`).

The order the readers decide in:
1. Which run: `all` is every line; a run id is that run; `last` is the last run.
   `select_run` finds where the chosen run starts, so a reader can begin there
   (a seek); `list_runs` gives every run once, in the order of their start lines.
   The last run is the run that the file's last whole `run:` line names (its
   start, a resume or its end line: a run resumed after another run is the last
   one); a file with no whole `run:` line has none (`crawl export --run last`
   then reads every line). It finished when that line is its `end` line and
   does not say `status=interrupted` (a killed run has no end line, a stopped
   one says it was interrupted): `--resume` continues a last run that did not
   finish (`crawler.resume`). `select_run` finds that line reading forwards,
   `last_event` from the end of a file (a few blocks, however long the file);
   both skip a final line cut short and every line that is not a `run:` line,
   so they agree.
2. Each line (`run_lines`): a final line without its newline was cut short (a
   writer killed mid-line): skipped, whatever it looks like. A line that is not a
   record line (a stray line) is skipped too. Either way `skipped(number, why)` is
   told (when it falls in a run asked for); blank lines are passed over in
   silence. A line outside the runs asked for
   is passed over after a look at its first bytes, so reading past a run to find
   its later resumes costs little.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import BinaryIO, NamedTuple

from pipelines.records import Line, read_line

ALL = "all"
LAST = "last"
START, RESUME, END = "start", "resume", "end"
_OPENERS = (START, RESUME)

Skipped = Callable[[int, str], None]


class Selection(NamedTuple):
    """Where the chosen records are: the run's id (None: every record), and the
    byte offset and line number (1-based) of the line to start reading at."""

    run: str | None
    offset: int
    number: int


EVERY_RECORD = Selection(None, 0, 1)


class Run(NamedTuple):
    """A run as its start line tells it: its id, where the start line is (byte
    offset, line number), and its fields (`urls`, `version`, ...: `name=value`)."""

    id: str
    offset: int
    number: int
    fields: dict[str, str]

    @property
    def urls(self) -> str | None:
        """The URL file the run read, as its command line named it (`-`: stdin)."""
        return self.fields.get("urls")


class RunEvent(NamedTuple):
    run: str
    event: str  # start, resume, end, or whatever a later version writes
    rest: str  # what follows the event word

    @property
    def finished(self) -> bool:
        """Whether this line ends its run for good: an `end` line that does not say
        `status=interrupted`."""
        return self.event == END and "status=interrupted" not in self.rest.split()


def run_event(raw: bytes) -> RunEvent | None:
    """The run id, event and fields of a whole `run:` line, else None."""
    if not raw.startswith(b"run:"):
        return None
    line = read_line(raw.decode("utf-8", "replace"))
    if line is None or line.kind != "run":
        return None
    event, _, rest = line.rest.partition(" ")
    return RunEvent(line.key, event, rest)


def parse_fields(rest: str) -> dict[str, str]:
    """`version=0.2.0 pid=1 urls=my urls.txt` as a dict. A word without `=` belongs
    to the value before it (a path with a space in it)."""
    fields: dict[str, str] = {}
    name = None
    for word in rest.split(" "):
        key, equals, value = word.partition("=")
        if equals and key.isidentifier():
            name = key
            fields[name] = value
        elif name is not None:
            fields[name] += " " + word
    return fields


def list_runs(lines: Iterable[bytes]) -> list[Run]:
    """Every run that has a start line, once, in the order of those lines."""
    runs: dict[str, Run] = {}
    offset = 0
    for number, raw in enumerate(lines, 1):
        if raw.startswith(b"run:") and raw.endswith(b"\n"):
            event = run_event(raw)
            if event is not None and event.event == START and event.run not in runs:
                runs[event.run] = Run(event.run, offset, number, parse_fields(event.rest))
        offset += len(raw)
    return list(runs.values())


BLOCK = 1 << 16


def last_event(file: BinaryIO) -> RunEvent | None:
    """The last whole `run:` line of a seekable binary file (it names the last
    run), None if it has none; read from the end backwards."""
    end = file.seek(0, os.SEEK_END)
    tail = b""  # the start of a line whose beginning is in an earlier block
    first = True
    while end > 0:
        start = max(0, end - BLOCK)
        file.seek(start)
        lines = (file.read(end - start) + tail).split(b"\n")
        tail = lines.pop(0) if start > 0 else b""
        if first:  # after the file's last newline: empty, or a line cut short
            lines.pop()
            first = False
        for line in reversed(lines):
            if line.startswith(b"run:"):
                event = run_event(line + b"\n")
                if event is not None:
                    return event
        end = start
    return None


def select_run(lines: Iterable[bytes], which: str) -> Selection | None:
    """Where the records of `which` (`all`, `last` or a run id) start; None when
    the file has no run of that id (or the last run has no start line in it).
    Reads up to the run's start line (`last`: the whole file, looking only at
    `run:` lines)."""
    if which == ALL:
        return EVERY_RECORD
    starts: dict[str, Selection] = {}
    last = None
    offset = 0
    for number, raw in enumerate(lines, 1):
        if raw.startswith(b"run:") and raw.endswith(b"\n"):
            event = run_event(raw)
            if event is not None:
                last = event
                if event.event == START:
                    if event.run == which:
                        return Selection(which, offset, number)
                    if which == LAST:
                        starts.setdefault(event.run, Selection(event.run, offset, number))
        offset += len(raw)
    if which != LAST:
        return None
    return EVERY_RECORD if last is None else starts.get(last.run)


def run_lines(
    lines: Iterable[bytes],
    runs: Collection[str] | None = None,
    first_number: int = 1,
    skipped: Skipped | None = None,
) -> Iterator[tuple[int, str | None, Line]]:
    """(line number, run id, line) of each record line (not a `run:` line) of the
    runs `runs` (None: of every run and of none), in file order. `first_number` is
    the line number of the first line given (after a seek)."""
    current: str | None = None
    wanted = runs is None
    for number, raw in enumerate(lines, first_number):
        if not raw.endswith(b"\n"):
            if skipped and wanted and raw.strip():
                skipped(number, "the last line is cut short (a writer stopped mid-line)")
            return
        if raw.startswith(b"run:"):
            event = run_event(raw)
            if event is not None:
                if event.event in _OPENERS:
                    current = event.run
                elif event.event == END:
                    current = None
                wanted = runs is None or current in runs
                continue
        if not wanted:
            continue
        text = raw.decode("utf-8", "replace")
        line = read_line(text)
        if line is None:
            if skipped and text.strip():
                skipped(number, "not a record line")
            continue
        if line.kind == "run":  # a run: line with no event: nothing to read in it
            continue
        yield number, current, line
