"""Benchmark a recursive crawl: `crawl --depth inf` against Scrapy's CrawlSpider and
`wget -r`, on the linked pages of the benchmark site (benchmarks/site.py, `/site/N`).

    python benchmarks/follow.py [--pages 2000] [--concurrency 3,16] [--repeats 3]

Every contender is given one URL, `/site/0`, and finds the rest by following links
(about 38 a page: a navigation bar, neighbours, children, and links to other sites,
a fragment and a mail address that none of them follows):

- `crawl`: the real command, `python -m crawler URLS --depth inf --workers N
  --per-host 2N+2` (robots.txt obeyed, HTTP cache on; `crawl-nocache` without it;
  `crawl-resume` with `--resume`, which keeps the journal a killed run is resumed
  from: not in the default list, ask for it with `--contenders crawl,crawl-resume`);
- `crawlspider`: Scrapy's CrawlSpider with one `Rule(LinkExtractor(), follow=True)`,
  `allowed_domains`, robots.txt obeyed, `CONCURRENT_REQUESTS = N`, writing the same
  `url:` line per page (benchmarks/follow_contenders.py);
- `wget`: `wget -r -l inf -np -nd --delete-after` (one connection at a time: it
  has no concurrency), for the set of pages it finds.

Each repeat runs every pair once, in an order rotated between repeats; the table
shows medians. Columns as in benchmarks/run.py: pages/s over the site's busy window,
wall/s over the whole command, CPU seconds per 1,000 pages of the whole process
tree, peak summed PSS. `found` is how many pages each found, and the last line says
whether they all found the same set.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402 - benchmarks/run.py: the site, the measuring

WGET_URL = re.compile(r"URL: ?(\S+) ")


def command_for(name: str, start: str, concurrency: int, out: Path) -> list[str]:
    if name in ("crawl", "crawl-nocache", "crawl-resume"):
        url_file = out.parent / "urls.txt"
        url_file.write_text(start + "\n", encoding="utf-8")
        return [
            sys.executable, "-m", "crawler", str(url_file), "--depth", "inf",
            "--workers", str(concurrency), "--per-host", str(2 * concurrency + 2),
            "--output", str(out), "--no-progress", "-q",
            *(["--no-cache"] if name == "crawl-nocache" else []),
            *(["--resume"] if name == "crawl-resume" else []),
        ]  # fmt: skip
    if name == "wget":
        return ["wget", "-r", "-l", "inf", "-np", "-nd", "--delete-after", "-nv",
                "-o", str(out), "-P", str(out.parent / "files"), start]  # fmt: skip
    return [sys.executable, str(BENCH / "follow_contenders.py"), name, start, str(concurrency),
            str(out)]  # fmt: skip


def pages_found(name: str, out: Path) -> set[str]:
    if not out.exists():
        return set()
    text = out.read_text(encoding="utf-8", errors="replace")
    if name == "wget":
        return {url for url in WGET_URL.findall(text) if "/site/" in url}
    return {line[5:].split("> ", 1)[0] for line in text.splitlines() if line.startswith("url:<")}


def measure(name: str, site: bench.Site, concurrency: int, pages: int, work: Path):
    out = work / f"{name}-{concurrency}" / "out.txt"
    shutil.rmtree(out.parent, ignore_errors=True)
    out.parent.mkdir(parents=True)
    site._get(f"/__reset?latency_ms=0&pages={pages}")
    command = command_for(name, site.base + "/site/0", concurrency, out)
    wall, cpu, peak, status = bench.run_measured(command, work)
    stats = site.stats()
    window = (stats["last"] - stats["first"]) if stats["first"] and stats["last"] else wall
    found = pages_found(name, out)
    if status != 0:
        print(f"  ! {name} at {concurrency} exited with {status}", file=sys.stderr)
    return found, bench.Measure(len(found), window, wall, cpu, peak)


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark a recursive crawl.")
    parser.add_argument("--pages", type=int, default=2000, help="pages of the linked site")
    parser.add_argument("--concurrency", default="3,16", help="comma-separated levels")
    parser.add_argument("--repeats", type=int, default=3, help="runs per pair; medians shown")
    parser.add_argument("--contenders", default="crawl,crawl-nocache,crawlspider,wget")
    args = parser.parse_args()
    levels = [int(n) for n in args.concurrency.split(",") if n]
    names = [n for n in args.contenders.split(",") if n != "wget" or shutil.which("wget")]
    pairs = [(name, n) for n in levels for name in names if name != "wget"]
    pairs += [("wget", 1)] if "wget" in names else []
    work = Path(tempfile.mkdtemp(prefix="crawl-follow-bench-"))
    site = bench.Site()
    runs: dict[tuple[str, int], list[bench.Measure]] = {}
    sets: dict[tuple[str, int], set[str]] = {}
    try:
        for repeat in range(args.repeats):
            shift = repeat % len(pairs)
            for name, n in pairs[shift:] + pairs[:shift]:
                found, result = measure(name, site, n, args.pages, work)
                runs.setdefault((name, n), []).append(result)
                sets[name, n] = sets.get((name, n), found) & found if (name, n) in sets else found
                print(f"  repeat {repeat + 1} {name:12} x{n:<3} {result.pages / result.window:8.1f}"
                      f" pages/s  cpu {result.cpu:6.2f} s  found {result.pages}",
                      file=sys.stderr)  # fmt: skip
    finally:
        site.close()
        shutil.rmtree(work, ignore_errors=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\nrecursive crawl of {args.pages} linked pages from one URL, median of "
          f"{args.repeats}, {os.cpu_count()} CPUs, {stamp}")  # fmt: skip
    print(f"{'contender':12} {'N':>3} {'pages/s':>8} {'wall/s':>8} {'CPU s/1000':>10} "
          f"{'peak PSS MB':>11} {'found':>6}")  # fmt: skip
    for name, n in sorted(runs, key=lambda pair: (pair[1], names.index(pair[0]))):
        measures = runs[name, n]
        rate = statistics.median(m.pages / m.window for m in measures)
        wall = statistics.median(m.pages / m.wall for m in measures)
        cpu = statistics.median(m.cpu / max(m.pages, 1) * 1000 for m in measures)
        peak = statistics.median(m.peak_pss for m in measures) / 2**20
        found = min(m.pages for m in measures)
        print(f"{name:12} {n:>3} {rate:8.0f} {wall:8.0f} {cpu:10.2f} {peak:11.1f} {found:>6}")
    reference = sets.get(("wget", 1)) or next(iter(sets.values()))
    same = all(found == reference for found in sets.values())
    print(
        f"same set of pages found by all (each run): {'yes' if same else 'NO'}"
        f" ({len(reference)} pages)"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
