"""The runs of `db.txt`: which lines belong to which run, read as a stream. Shared by
`crawl export` (`pipelines.export`) and `crawl diff` (`pipelines.diff`), so both
read a run the same way. Pure: it reads an iterable of byte lines (a file opened in
binary) and never holds more than one line and the list of runs.

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
1. Which run: `all` is every line; a run id is that run; `last` is the last run
   that has a `start` line, or every line when the file has no `run:` line.
   `select_run` finds where the chosen run starts, so a reader can begin there
   (a seek); `list_runs` gives every run once, in the order of their start lines.
2. Each line (`run_lines`): a final line without its newline was cut short (a
   writer killed mid-line): skipped, whatever it looks like. A line that is not a
   record line (a stray line) is skipped too. Either way `skipped(number, why)` is
   told (when it falls in a run asked for); blank lines are passed over in
   silence. A line outside the runs asked for
   is passed over after a look at its first bytes, so reading past a run to find
   its later resumes costs little.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from typing import NamedTuple

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


def select_run(lines: Iterable[bytes], which: str) -> Selection | None:
    """Where the records of `which` (`all`, `last` or a run id) start; None when
    the file has no run of that id. Reads up to the run's start line (`last`:
    the whole file, looking only at `run:` lines)."""
    if which == ALL:
        return EVERY_RECORD
    found = EVERY_RECORD if which == LAST else None
    offset = 0
    for number, raw in enumerate(lines, 1):
        if raw.startswith(b"run:") and raw.endswith(b"\n"):
            event = run_event(raw)
            if event is not None and event.event == START:
                if which == LAST:
                    found = Selection(event.run, offset, number)
                elif event.run == which:
                    return Selection(which, offset, number)
        offset += len(raw)
    return found


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
