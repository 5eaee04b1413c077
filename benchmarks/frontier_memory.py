"""Memory of a frontier that discovers a million URLs: the seen-set stays compact and
the look-ahead bounded, whatever the crawl finds.

    python benchmarks/frontier_memory.py [--urls 1000000] [--hosts 10] [--lookahead 10000]

In-process, no network: the frontier (crawler.frontier) is driven as the dispatch
loop drives it, with a fake clock. Each host is listed once; every page handed out
"has" 1,000 new links on its host (the most taken from one page) until `--urls`
URLs were found; then every queued URL is handed out and reported done. Printed:
the peak resident memory of the process (ru_maxrss) against a baseline taken
before the frontier was made, the seen-set's own bytes, the most entries queued in
memory at once, the spill file's size on disk, and the time taken.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.frontier import Frontier, Refused, make_policy
from crawler.frontier.politeness import HostQueues
from crawler.model import Job, Link, Page
from crawler.page.links import PageLinks


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--lookahead", type=int, default=10_000)
    args = parser.parse_args()
    baseline = current_mb()
    frontier = Frontier(
        HostQueues(per_host=4),
        lookahead=args.lookahead,
        follow=make_policy(depth=math.inf, max_pages=args.urls + args.hosts),
    )
    for number in range(args.hosts):
        frontier.add_listed(Job(number + 1, f"http://host{number}.example/", ()), 0.0)
    started = time.monotonic()
    handed = most_queued = 0
    while frontier.pending():
        ready = frontier.next_ready(0.0)
        if ready is None or isinstance(ready, Refused):
            continue
        handed += 1
        most_queued = max(most_queued, frontier.queued)
        page = Page(ready.url, 200, "text/html", "", 0, 0, 1)
        frontier.done(ready, page, 0.0)
        if frontier.found < args.urls:
            base = f"{ready.url.rstrip('/')}/{handed}/"
            links = [Link(f"{base}{n}") for n in range(1000)]
            frontier.add_links(ready, page, PageLinks(None, links), 0.0)
        if handed == args.hosts + args.urls // 1000:
            peak_found = current_mb()
    seconds = time.monotonic() - started
    seen = frontier.seen
    seen_bytes = seen._high.itemsize * len(seen._high) + seen._low.itemsize * len(seen._low)
    print(f"{frontier.found:,} URLs found and handed out ({handed:,} in all) in {seconds:.1f} s")
    print(f"memory: baseline {baseline:.1f} MB, when all were found {peak_found:.1f} MB, "
          f"peak {rss_mb():.1f} MB (ru_maxrss)")  # fmt: skip
    print(f"seen-set: {len(seen):,} keys in {seen_bytes / 2**20:.1f} MB "
          f"({seen_bytes / max(len(seen), 1):.1f} bytes a key)")  # fmt: skip
    print(f"queued in memory at most: {most_queued:,} (look-ahead {args.lookahead:,})")
    spill = frontier.spill._file
    size = os.fstat(spill.fileno()).st_size if spill is not None else 0
    print(f"spill file at the end: {size / 2**20:.1f} MB on disk (an anonymous temporary file)")
    frontier.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
