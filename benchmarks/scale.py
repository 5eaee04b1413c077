"""Scale: does the crawler's memory stay flat as the URL list grows?

Runs the real `crawl` command on URL files of (by default) 1,000 and 1,000,000
distinct URLs against tests/fast_server.py, samples the resident memory of
the whole process tree (crawl and its workers) with psutil every 0.1 s, and
prints the peak of each run, the ratio, and whether every distinct URL has its
line in db.txt. The issue's target: the big run's peak within 1.5x the small one's.

    python benchmarks/scale.py                     # 1,000 vs 1,000,000 (many minutes)
    python benchmarks/scale.py --sizes 1000 20000  # quicker look

The tree's memory is the sum of RSS (pages a forked worker shares with its parent
count twice, the same way in every run) and also the sum of USS (pages private to
each process), the fairer figure when it can be read.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from pipelines.records import read_line

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def start_server() -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fast_server.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(server.stdout.readline())
    return server, port


def write_urls(path: Path, port: int, count: int) -> None:
    with path.open("w") as out:
        for number in range(count):
            out.write(f"http://127.0.0.1:{port}/p/{number}\n")


def tree_memory(root: psutil.Process) -> tuple[int, int]:
    """(sum of RSS, sum of USS) over `root` and its descendants; USS is 0 if unreadable."""
    rss = uss = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for process in processes:
        try:
            info = process.memory_full_info()
            rss += info.rss
            uss += info.uss
        except psutil.Error:
            continue
    return rss, uss


def measure(port: int, count: int, workers: int, folder: Path) -> dict[str, float]:
    urls, db = folder / f"urls-{count}.txt", folder / f"db-{count}.txt"
    write_urls(urls, port, count)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "crawler", str(urls), "--output", str(db), "--quiet"]
    command += ["--workers", str(workers), "--timeout", "30"]
    started = time.monotonic()
    crawl = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(crawl.pid)
    peak_rss = peak_uss = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_uss
        while not done.wait(0.1):
            rss, uss = tree_memory(root)
            peak_rss, peak_uss = max(peak_rss, rss), max(peak_uss, uss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = crawl.communicate()
    done.set()
    sampler.join()
    seconds = time.monotonic() - started
    urls_written = set()
    with db.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith(("url:", "error:")):
                urls_written.add(read_line(line).key)
    missing = count - len(urls_written)
    summary = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    urls.unlink()
    db.unlink()
    return {
        "count": count,
        "exit": crawl.returncode,
        "seconds": seconds,
        "peak_rss": peak_rss / MB,
        "peak_uss": peak_uss / MB,
        "missing": missing,
        "summary": summary,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 1_000_000])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    server, port = start_server()
    results = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for count in args.sizes:
                result = measure(port, count, args.workers, Path(folder))
                results.append(result)
                print(
                    f"{count:>9} lines: exit {result['exit']}, {result['seconds']:.1f} s, "
                    f"peak tree RSS {result['peak_rss']:.1f} MB, USS {result['peak_uss']:.1f} MB, "
                    f"URLs without a line: {result['missing']}",
                    flush=True,
                )
                print(f"{'':>17}{result['summary']}", flush=True)
    finally:
        server.terminate()
        server.wait(10)
    if len(results) >= 2:
        small, big = results[0], results[-1]
        rss_ratio = big["peak_rss"] / small["peak_rss"]
        uss_ratio = big["peak_uss"] / small["peak_uss"] if small["peak_uss"] else float("nan")
        ok = rss_ratio <= 1.5 and all(r["missing"] == 0 for r in results)
        print(
            f"peak ratio {big['count']}/{small['count']} lines: RSS {rss_ratio:.2f}x, "
            f"USS {uss_ratio:.2f}x (target <= 1.5x): {'OK' if ok else 'FAIL'}"
        )
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
