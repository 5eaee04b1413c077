"""Helpers shared by the stress, signal, disk and hostile-input tests."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from pipelines.records import read_line

# Every line of db.txt, whole: a kind, a colon, no line break inside.
LINE = re.compile(r"^(url|board|error|run):<[^<>\s]*>( .*)?$")


def wait_for(condition: Callable[[], object], timeout: float, every: float = 0.05) -> bool:
    """Poll `condition` until it is true or `timeout` seconds pass; its last answer."""
    give_up = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > give_up:
            return bool(condition())
        time.sleep(every)


def db_lines(db: Path) -> list[str]:
    """The lines of db.txt split on b"\\n" only (what any reader of the log sees)."""
    if not db.exists():
        return []
    return db.read_bytes().decode("utf-8").split("\n")[:-1]


def count_kind(db: Path, kind: str) -> int:
    return sum(1 for line in db_lines(db) if line.startswith(kind + ":"))


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def run_lines(db: Path) -> dict[str, list[str]]:
    """run-id -> its run: lines, in order."""
    runs: dict[str, list[str]] = {}
    for line in db_lines(db):
        if line.startswith("run:"):
            run_id = read_line(line).key
            runs.setdefault(run_id, []).append(line)
    return runs
