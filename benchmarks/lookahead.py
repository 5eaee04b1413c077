"""How the scheduler's per-host queues behave on a long URL list: peak queued jobs
(the look-ahead bound), peak memory of the main process, and where in the output
the URLs of small hosts land when one big host dominates the list.

    python benchmarks/lookahead.py [N_BIG] [LOOKAHEAD]

Tasks run in a thread pool and return at once (no network), so the figures are
the scheduler's own; robots.txt is off. Prints one line per layout.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from multiprocessing.pool import ThreadPool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.frontier import Frontier
from crawler.frontier.politeness import HostQueues
from crawler.loop import DispatchLoop, Limits
from crawler.model import Job, Page
from crawler.report import Reporter
from crawler.results import Outputs
from pipelines.writer import Writer


def instant(url: str, task_id: int = 0, max_bytes: int | None = None) -> Page:
    return Page(url, 200, "text/plain", "x", 1, 1, 1)


def jobs(n_big: int, small_first: bool):
    small = [f"http://small{h}.test/{i}" for h in range(10) for i in range(1)]
    big = (f"http://big.test/page/{i}" for i in range(n_big))
    number = 0
    if small_first:
        for url in small:
            number += 1
            yield Job(number, url, ())
    for url in big:
        number += 1
        yield Job(number, url, ())
    if not small_first:
        for url in small:
            number += 1
            yield Job(number, url, ())


class PeakQueues(HostQueues):
    peak = 0

    def add(self, key, item, now):
        super().add(key, item, now)
        self.peak = max(self.peak, self.queued)


def run(n_big: int, lookahead: int, small_first: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "db.txt"
        writer = Writer(db)
        pool = ThreadPool(8)
        hosts = PeakQueues(per_host=4)
        scheduler = DispatchLoop(pool, Outputs(writer, Reporter(progress=False, quiet=True)),
                                 Limits(max_in_flight=18, watchdog_limit=600), task=instant,
                                 frontier=Frontier(hosts, lookahead=lookahead))  # fmt: skip
        started = time.monotonic()
        outcome = scheduler.run(jobs(n_big, small_first))
        seconds = time.monotonic() - started
        pool.close()
        pool.join()
        writer.close()
        lines = [line for line in db.read_text().splitlines() if line.startswith("url:")]
        last_small = max(i for i, line in enumerate(lines) if "small" in line)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    layout = "small hosts first" if small_first else "small hosts last "
    print(
        f"{layout}: {n_big} big + 10 small URLs, lookahead {lookahead}: "
        f"{outcome.stats.ok} ok in {seconds:.1f} s, peak queued {hosts.peak}, "
        f"last small-host line at {last_small + 1} of {len(lines)}, max RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    n_big = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    lookahead = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    run(n_big, lookahead, small_first=True)
    run(n_big, lookahead, small_first=False)
