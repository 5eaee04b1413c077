"""`crawl diff [DB] [--from RUN] [--to RUN] [--key KIND.FIELD] [--kind KIND]
[--format jsonl|text] [-q]`: what changed between two runs of `db.txt`
(`pipelines.diff` compares; `pipelines.diff_reader` reads both runs as a stream).

Which runs, in this order:
1. `--to`: a run's id, or `last` (the default): the last run that has a start line.
2. `--from`: a run's id or `last`; by default the last run before `--to` that read
   the same URL file (the `urls=` of their start lines), so two crawls that share
   one output are not compared with each other.

The output: JSON Lines, one change a line (`pipelines.diff.Change.as_json`), or
with `--format text` the same for a person: a line naming both runs, then a line
a change. `-q` prints nothing: only the exit status says.

Exit status, as `diff`'s: 0 no change, 1 changes, 2 trouble (the arguments, a file
that cannot be read, no such run, no earlier run to compare with), with one line on
stderr.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from crawler.commands.export import Notes, add_db_argument
from pipelines.diff import PAGE_KINDS, Change, PageState, url_changes
from pipelines.diff_reader import by_url, read_rows
from pipelines.records import escape, is_kind
from pipelines.runs import ALL, LAST, Run, list_runs

EXIT_SAME = 0
EXIT_CHANGED = 1
EXIT_TROUBLE = 2


class Trouble(Exception):
    """What keeps the comparison from being made: one line for stderr."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crawl diff",
        description="Print what changed between two runs of DB: pages new, gone, failed or "
        "changed in size, and records added, removed or (with --key) changed. Exit status "
        "0: no change, 1: changes, 2: trouble.",
    )
    add_db_argument(parser)
    parser.add_argument(
        "--from",
        dest="before",
        metavar="RUN",
        help="the earlier run: an id, or last (default: the last run before --to that "
        "read the same URL file)",
    )
    parser.add_argument(
        "--to",
        dest="after",
        default=LAST,
        metavar="RUN",
        help="the later run: an id, or last (default: last)",
    )
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KIND.FIELD",
        help="pair the records of KIND by FIELD (repeatable: several fields make one key), "
        "so a record whose other fields differ is one change, e.g. board.title",
    )
    parser.add_argument(
        "--kind",
        action="append",
        metavar="KIND",
        help="only these kinds (repeatable or comma-separated): url for the pages, board, "
        "or a parser's name (default: every kind)",
    )
    parser.add_argument(
        "--format",
        choices=("jsonl", "text"),
        default="jsonl",
        help="JSON Lines, one change a line, or text for a person (default: jsonl)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing; only the exit status says (for `crawl diff -q || mail ...`)",
    )
    return parser


def parse_keys(specs: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, tuple]:
    """`board.title`, `board.index` -> {"board": ("title", "index")}."""
    keys: dict[str, list[str]] = {}
    for spec in specs:
        kind, dot, field = spec.partition(".")
        if not dot or not field or not is_kind(kind):
            parser.error(f"--key {spec!r}: KIND.FIELD, as board.title")
        if kind in PAGE_KINDS or kind == "run":
            parser.error(f"--key {spec!r}: {kind}: lines have no fields to pair by")
        keys.setdefault(kind, []).append(field)
    return {kind: tuple(fields) for kind, fields in keys.items()}


def parse_kinds(given: Sequence[str] | None, parser: argparse.ArgumentParser) -> set | None:
    if not given:
        return None
    kinds = {name.strip() for text in given for name in text.split(",") if name.strip()}
    for kind in kinds:
        if not is_kind(kind) or kind == "run":
            parser.error(f"--kind {kind!r}: url, board, or a parser's name")
        if kind == "error":
            parser.error("--kind error: a failure is a change of its page (failed): --kind url")
    return kinds


def choose_runs(runs: list[Run], before: str | None, after: str, db: Path) -> tuple[Run, Run]:
    """The runs to compare (the module docstring gives the order); Trouble if
    there is no such run."""
    if not runs:
        raise Trouble(f"no runs in {db} (no run: start line) to compare")
    later = _find(runs, after, "--to", db)
    if before is not None:
        return _find(runs, before, "--from", db), later
    earlier = [run for run in runs[: runs.index(later)] if run.urls == later.urls]
    if not earlier:
        raise Trouble(
            f"no run before {later.id} in {db} read {later.urls or 'the same URL file'}; "
            "nothing to compare with (--from RUN names one)"
        )
    return earlier[-1], later


def _find(runs: list[Run], which: str, option: str, db: Path) -> Run:
    if which == ALL:
        raise Trouble(f"{option} {which}: a run's id or last")
    if which == LAST:
        return runs[-1]
    for run in runs:
        if run.id == which:
            return run
    raise Trouble(f"no run {which} in {db} ({option} last, or a run's id)")


def say(message: str) -> None:
    print(f"crawl diff: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    keys = parse_keys(args.key, parser)
    kinds = parse_kinds(args.kind, parser)
    notes = Notes(args.db, (lambda message: None) if args.quiet else say)
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        with open(args.db, "rb") as db:
            before, after = choose_runs(list_runs(db), args.before, args.after, args.db)
            rows = read_rows(db, before, after, kinds, notes)
            changed = False
            if args.format == "text" and not args.quiet:
                out.write(f"crawl diff: from run {before.id} to run {after.id}\n")
            with by_url(rows) as groups:
                for url, group in groups:
                    for change in url_changes(url, group, keys):
                        changed = True
                        if args.quiet:
                            return EXIT_CHANGED  # the answer is known
                        write(change, args.format, out)
            if args.format == "text" and not changed:
                out.write("no change\n")
            out.flush()
    except Trouble as trouble:
        say(str(trouble))
        return EXIT_TROUBLE
    except BrokenPipeError:  # `crawl diff | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CHANGED
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except OSError as error:
        say(f"cannot read {args.db}: {error.strerror or error}")
        return EXIT_TROUBLE
    finally:
        out.detach()  # sys.stdout stays open
        notes.close()
    return EXIT_CHANGED if changed else EXIT_SAME


def write(change: Change, form: str, out: TextIO) -> None:
    if form == "text":
        out.write(as_text(change) + "\n")
    else:
        out.write(json.dumps(change.as_json(), ensure_ascii=False) + "\n")


def as_text(change: Change) -> str:
    """One change for a person: what, which kind and URL, then the versions."""
    head = f"{change.change:<8} {change.url}"
    if change.kind != "url":
        head = f"{change.change:<8} {change.kind} {change.url}"
    if change.key is not None:
        key = ", ".join(f"{name} {_value(value)}" for name, value in change.key.items())
        return escape(f"{head} ({key}): {_fields_changed(change.before, change.after)}")
    versions = [_version(version) for version in (change.before, change.after) if version]
    return escape(f"{head} {' -> '.join(versions)}")


def _version(version: Any) -> str:
    if isinstance(version, PageState):
        if version.reason is not None and version.size is not None:
            return f"size {version.size}, {version.reason}"
        return version.reason if version.reason is not None else f"size {version.size}"
    return json.dumps(version, ensure_ascii=False)


def _fields_changed(before: dict[str, Any], after: dict[str, Any]) -> str:
    names = [*before, *(name for name in after if name not in before)]
    return ", ".join(
        f"{name} {_value(before.get(name))} -> {_value(after.get(name))}"
        for name in names
        if before.get(name) != after.get(name)
    )


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
