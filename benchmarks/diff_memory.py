"""Memory and time of `crawl diff` on two runs of a million records each.

    python benchmarks/diff_memory.py [--records 1000000] [--per-page 10] [--keep DIR]

Writes a db.txt of two runs of the same URL file: each page has a `url:` line and
`per-page - 1` board records, so a run holds `--records` lines. Between the runs
1% of the pages changed size, 1% are gone, 1% are new, 1% failed, and the board
of 1% was reordered (each entry's index moved). Then runs `crawl diff` on it
(the real command, a child process), with and without `--key board.title`, and
prints for each: the changes printed, the exit status, the child's peak resident
memory (its ru_maxrss, from wait4) and the wall time. The machine may be loaded
by others: say so next to every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.records import board_line, error_line, run_line, url_line

ROOT = Path(__file__).resolve().parent.parent

RUNS = ("20261201T100000Z-aaaaaa", "20261201T110000Z-bbbbbb")


def board(page: int, entries: int, reordered: bool) -> list[dict[str, str]]:
    rows = []
    for n in range(entries):
        index = entries - n if reordered else n + 1
        rows.append(
            {
                "index": str(index),
                "title": f"电影 {page}-{n}",
                "actor": "张国荣,张丰毅,巩俐",
                "time": "1993-01-01",
                "score": f"9.{n % 10}",
            }
        )
    return rows


def write_run(out, run: int, pages: int, per_page: int) -> int:
    """One run's lines; the number of record lines written."""
    run_id = RUNS[run]
    fields = {"version": "0.2.0", "pid": 1, "workers": 4, "urls": "urls.txt"}
    out.write(run_line(run_id, "start", fields) + "\n")
    written = 0
    for page in range(pages + pages // 100):
        bucket = page % 100
        if page >= pages and run == 0:
            continue  # the new pages: only in the second run
        if bucket == 1 and run == 1:
            continue  # gone
        url = f"https://site{page % 50}.example/page/{page}"
        if bucket == 2 and run == 1:
            out.write(error_line(url, "HTTP 404") + "\n")
            written += 1
            continue
        size = 5000 + page % 997 + (7 if bucket == 3 and run == 1 else 0)
        lines = [url_line(url, size)]
        reordered = bucket == 4 and run == 1
        lines += [board_line(url, entry) for entry in board(page, per_page - 1, reordered)]
        out.write("".join(line + "\n" for line in lines))
        written += len(lines)
    out.write(run_line(run_id, "end", {"status": "finished"}) + "\n")
    return written


def measure(db: Path, *args: str) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "crawler", "diff", str(db), *args]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        changes = sum(1 for _ in out)
    return {
        "args": " ".join(args) or "(none)",
        "exit": child.returncode,
        "changes": changes,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="lines a run")
    parser.add_argument("--per-page", type=int, default=10, help="lines a page")
    parser.add_argument("--keep", type=Path, help="write db.txt in this folder and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="diff-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "db.txt"
    pages = args.records // args.per_page
    started = time.perf_counter()
    with open(db, "w", encoding="utf-8") as out:
        counts = [write_run(out, run, pages, args.per_page) for run in (0, 1)]
    print(
        f"db.txt: {db.stat().st_size / 2**20:.0f} MB, {counts[0]} + {counts[1]} record lines, "
        f"written in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    try:
        for extra in ((), ("--key", "board.title"), ("-q",)):
            print(json.dumps(measure(db, *extra)), flush=True)
    finally:
        if args.keep is None:
            db.unlink()
            folder.rmdir()


if __name__ == "__main__":
    main()
