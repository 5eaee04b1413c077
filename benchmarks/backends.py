"""Pages per second on one machine, per backend: `python benchmarks/backends.py`.

Crawls N distinct small pages of tests/server.py (on 127.0.0.1, in this process)
with the real `crawl` command, per backend, `--rounds` times in turn (process,
dask, process, dask, ...: a drift of a shared machine's speed touches both), and
prints per run the crawl's own rate (from its summary line: first task submitted
to last line written), the wall time, and pages/s over the wall time (start-up
and shut-down included: the figure a user sees), then the median ratio of dask's
whole-run pages/s to the process pool's. `--per-host` is passed to both (the
default 4 caps a one-host list at 4 fetches in flight). `--scheduler ADDRESS`
adds a run on an existing cluster. The figures measure crawl's overhead per page,
not a network: the pages are tiny and local.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.model import Page  # noqa: E402
from pipelines import records_for  # noqa: E402
from pipelines.writer import Writer  # noqa: E402
from tests.server import TestServer, page_text  # noqa: E402

BOARD = ROOT / "tests" / "pages" / "board.html"


def crawl(urls: Path, *args: str) -> tuple[float, float, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "crawler",
                str(urls),
                "--output",
                f"{folder}/db.txt",
                "-q",
                *args,
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=900,
        )
        wall = time.monotonic() - started
    summary = done.stderr.strip().splitlines()[-1]
    rate = float(re.search(r"\(([\d.]+) pages/s\)", summary).group(1))
    return rate, wall, summary


def main_process_ceiling(pages: int = 5000) -> None:
    """What the crawl process alone can take: parse and append `pages` results, no
    fetching. On a cluster, this is the ceiling of one `crawl` run."""
    for name, text, parsers in [
        ("small page", page_text("x"), ()),
        ("board page", BOARD.read_text("utf-8"), ("board",)),
    ]:
        with tempfile.TemporaryDirectory() as folder:
            writer = Writer(Path(folder) / "db.txt")
            started = time.perf_counter()
            for n in range(pages):
                page = Page(f"http://h/{n}", 200, "text/html", text, len(text), len(text), 1)
                writer.append(records_for(page, parsers)[0])
            seconds = time.perf_counter() - started
            writer.close()
        print(f"main process alone, {name:10} {pages / seconds:8.0f} pages/s parsed and written")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--scheduler", help="also crawl through this Dask scheduler")
    parser.add_argument("--per-host", type=int, default=4, help="passed to every run")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-ceiling", action="store_true", help="skip the parse-only figure")
    args = parser.parse_args()
    server = TestServer().start()
    common = ["--per-host", str(args.per_host), "--no-cache"]
    runs = [
        ("process", ["--backend", "process", "--workers", str(args.workers), *common]),
        ("dask (local cluster)", ["--backend", "dask", "--workers", str(args.workers), *common]),
    ]
    if args.scheduler:
        runs.append(("dask (--scheduler)", ["--scheduler", args.scheduler, *common]))
    whole: dict[str, list[float]] = {name: [] for name, _ in runs}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for name, extra in runs:
                urls = Path(folder) / f"urls-{len(name)}.txt"
                # distinct URLs per run, so no run is served by anything a previous one left
                tag = f"{name.split()[0]}{len(name)}r{round_}"
                urls.write_text("".join(server.url(f"/page/{tag}-{n}\n") for n in range(args.urls)))
                rate, wall, summary = crawl(urls, *extra)
                whole[name].append(args.urls / wall)
                print(
                    f"{name:22} {rate:8.1f} pages/s   wall {wall:6.1f} s "
                    f"{args.urls / wall:8.1f} pages/s whole run   | {summary}",
                    flush=True,
                )
    server.stop()
    ratios = [d / p for d, p in zip(whole[runs[1][0]], whole["process"], strict=True)]
    print(
        f"dask / process, pages/s over the whole run: median {statistics.median(ratios):.2f} "
        f"({', '.join(f'{r:.2f}' for r in ratios)})"
    )
    if not args.no_ceiling:
        main_process_ceiling()
    print(
        f"{args.urls} URLs, {args.workers} workers, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
