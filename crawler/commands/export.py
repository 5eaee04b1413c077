"""`crawl export [DB] [--kind KIND] [--run last|all|RUN-ID] [--format jsonl|csv]`:
the records of `db.txt` on stdout as JSON Lines or CSV (`pipelines.export` reads
them; this module opens the file and writes the format).

- `jsonl`: one JSON object a line, UTF-8, non-ASCII as is.
- `csv`: one kind at a time (`--kind` is required), a header row, the columns in
  the order of the first record's keys; a field a later record adds is left out,
  with a note on stderr (`jsonl` keeps everything). A cell that is not text
  (a parser's list, say) is written as JSON; an absent one is empty.
- A line that is not a whole record is skipped with a note on stderr (the first
  ten, then a count); the exit status stays 0. 2: the arguments or the file are
  unusable, or no run has the id asked for.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from crawler.settings import DEFAULT_OUTPUT
from pipelines.export import ALL, LAST, read_records, select_run
from pipelines.records import read_line

EXIT_OK = 0
EXIT_UNUSABLE = 2
NOTES_SHOWN = 10


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crawl export",
        description="Print the records of DB (run: lines excepted; each record carries its "
        "run's id) as JSON Lines or CSV.",
    )
    add_db_argument(parser)
    parser.add_argument(
        "--kind",
        metavar="KIND",
        help="only records of this kind: url, error, board, or a parser's name "
        "(default: every kind; required with --format csv)",
    )
    parser.add_argument(
        "--run",
        default=LAST,
        metavar="last|all|RUN-ID",
        help="the records of the last run, of every run, or of the run with this id "
        "(default: last)",
    )
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        default="jsonl",
        help="JSON Lines, one object a record, or CSV with a header row (default: jsonl)",
    )
    return parser


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """DB, the file crawl wrote, as every command that reads runs takes it."""
    parser.add_argument(
        "db",
        nargs="?",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="DB",
        help=f"the file crawl wrote (default: {DEFAULT_OUTPUT})",
    )


class Notes:
    """The skipped lines, said on stderr: the first few, then how many in all."""

    def __init__(self, db: Path, tell: Callable[[str], None] | None = None) -> None:
        """`tell` says a note (default: `crawl export: ...` on stderr)."""
        self.db = db
        self.count = 0
        self.tell = tell or say

    def __call__(self, number: int, why: str) -> None:
        self.count += 1
        if self.count <= NOTES_SHOWN:
            self.tell(f"{self.db} line {number}: {why}; skipped")

    def close(self) -> None:
        if self.count > NOTES_SHOWN:
            self.tell(f"{self.db}: {self.count} lines skipped in all")


def say(message: str) -> None:
    print(f"crawl export: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.kind is not None:
        line = read_line(f"{args.kind}:<x>")  # a kind is what a db.txt line may start with
        if line is None or line.kind != args.kind:
            parser.error(f"--kind {args.kind!r}: a kind is a lowercase name (url, error, board)")
        if args.kind == "run":
            parser.error("run: lines are not records; each record carries its run's id")
    if args.format == "csv" and args.kind is None:
        parser.error("--format csv needs --kind: one kind of record at a time (url, error, ...)")
    try:
        db = open(args.db, "rb")  # noqa: SIM115 - closed below
    except OSError as error:
        say(f"cannot read {args.db}: {error.strerror}")
        return EXIT_UNUSABLE
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    notes = Notes(args.db)
    try:
        with db:
            selection = select_run(db, args.run)
            if selection is None:
                say(f"no run {args.run} in {args.db} (--run last, all, or a run's id)")
                return EXIT_UNUSABLE
            db.seek(selection.offset)
            run = None if args.run == ALL else selection.run
            records = read_records(db, run, args.kind, selection.number, notes)
            if args.format == "csv":
                write_csv(records, out)
            else:
                write_jsonl(records, out)
            out.flush()
    except BrokenPipeError:  # `crawl export | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except OSError as error:
        say(f"cannot read {args.db}: {error.strerror}")
        return EXIT_UNUSABLE
    finally:
        out.detach()  # sys.stdout stays open
        notes.close()
    return EXIT_OK


def write_jsonl(records: Iterable[dict[str, Any]], out: TextIO) -> None:
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_csv(records: Iterable[dict[str, Any]], out: TextIO) -> None:
    writer: csv.DictWriter | None = None
    left_out: set[str] = set()
    for record in records:
        if writer is None:
            writer = csv.DictWriter(out, list(record), restval="", extrasaction="ignore")
            writer.writeheader()
        for name in record.keys() - set(writer.fieldnames) - left_out:
            left_out.add(name)
            say(f"field {name!r} is not a column (the first record had none); left out")
        writer.writerow({name: cell(value) for name, value in record.items()})


def cell(value: Any) -> str:
    """A CSV cell: text as is, numbers in decimal, anything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
