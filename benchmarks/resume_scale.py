"""How long resuming a crawl that had found 1,000,000 URLs takes, and in how much
memory, next to the memory of the run that wrote the state.

    python benchmarks/resume_scale.py [--urls 1000000] [--done 0.5]

1. `write` (a process of its own): a frontier with `--depth inf` takes in the
   URLs as a run does, 1,000 links a page (the most it takes from one page) on
   20 hosts, its journal flushed after each page as before each page's lines;
   `db.txt` gets a `url:` line for a share (`--done`) of them, as if the run had
   fetched those when it was killed. Its peak RSS is the run's frontier.
2. `resume` (another process): what `crawl --resume` does before it fetches: the
   run's keys and counts from db.txt (`crawler.resume.finished.read_done`), then
   the frontier rebuilt from the journal (`crawler.resume.replay`), the
   URLs without a line queued again (in memory up to the look-ahead, the rest on
   disk). Its wall time and peak RSS are printed.

No network: the URLs are never fetched.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOSTS = 20
LINKS = 1000
RUN = "20261205T000000Z-bench0"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def frontier():
    from crawler.frontier import Frontier
    from crawler.frontier.policy import make_policy

    return Frontier(robots_agent=None, follow=make_policy(depth=math.inf, max_pages=10**8))


def write(folder: Path, urls: int, done_share: float) -> None:
    from crawler.frontier.core import LISTED, Entry, Fetch
    from crawler.frontier.journal import Journal
    from crawler.model import Job, Link, Page
    from crawler.page.links import PageLinks
    from crawler.resume import state

    started = time.perf_counter()
    header = state.Header(RUN, time.time(), 0, {})
    fd = state.create(folder / "db.txt.state", header)
    front = frontier()
    front.journal = journal = Journal(fd)
    seeds = [f"http://h{n}.example/" for n in range(HOSTS)]
    for line, seed in enumerate(seeds, 1):
        front.add_listed(Job(line, seed, ()), 0.0)
    journal.flush()
    every = max(1, round(1 / done_share)) if done_share else 0
    pages = -(-urls // LINKS)
    with open(folder / "db.txt", "w", encoding="utf-8") as db:
        db.write(f"run:<{RUN}> start version=bench pid=1 workers=1 urls=urls.txt\n")
        for page in range(pages):
            seed = seeds[page % HOSTS]
            entry = Entry(seed, (), LISTED, 1, scope=front_scope(front, seed))
            fetch = Fetch(LISTED, seed, seed.rstrip("/"), entry)
            links = [Link(f"{seed}p/{page}/{n}") for n in range(LINKS)]
            body = Page(seed, 200, "text/html", "", 0, 0, 1)
            front.add_links(fetch, body, PageLinks(None, links), 0.0)
            journal.flush()  # as before a page's lines
            if every:
                db.writelines(f"url:<{link.url}> size:[10]\n" for link in links[::every])
    journal.close()
    taken = front.taken
    front.close()
    seconds = time.perf_counter() - started
    print(f"write: {taken} URLs taken in {seconds:.1f} s; peak RSS {peak_mb():.0f} MB; "
          f"journal {(folder / 'db.txt.state' / 'journal').stat().st_size / 2**20:.0f} MB, "
          f"db.txt {(folder / 'db.txt').stat().st_size / 2**20:.0f} MB")  # fmt: skip


def front_scope(front, seed: str):
    from crawler.frontier.scope import make_scope

    return make_scope(front.follow.scope, seed)


def resume(folder: Path) -> None:
    from crawler.resume.finished import read_done
    from crawler.resume.replay import replay

    baseline = peak_mb()
    started = time.perf_counter()
    done = read_done(folder / "db.txt", RUN, 0)
    read = time.perf_counter()
    front = frontier()
    replayed = replay(folder / "db.txt.state" / "journal", front, done.keys, 0.0)
    ended = time.perf_counter()
    pending = front.queued + front.spill.count
    print(f"resume: {len(done.keys)} done read in {read - started:.1f} s, journal replayed "
          f"in {ended - read:.1f} s ({ended - started:.1f} s in all); {front.taken} URLs "
          f"seen again, {pending} queued again ({front.queued} in memory); "
          f"peak RSS {peak_mb():.0f} MB ({baseline:.0f} MB after imports)")  # fmt: skip
    assert replayed.admitted_done == done.admitted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--done", type=float, default=0.5, help="share of URLs with a line")
    parser.add_argument("--step", choices=("write", "resume"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "write":
        write(args.folder, args.urls, args.done)
        return 0
    if args.step == "resume":
        resume(args.folder)
        return 0
    with tempfile.TemporaryDirectory(prefix="crawl-resume-bench-") as folder:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for step in ("write", "resume"):
            subprocess.run(
                [sys.executable, __file__, "--step", step, "--folder", folder,
                 "--urls", str(args.urls), "--done", str(args.done)],
                check=True, env=env,
            )  # fmt: skip
    print(f"({os.cpu_count()} CPUs, a machine shared with other work)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
