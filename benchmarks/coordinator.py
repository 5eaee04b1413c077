"""One coordinator's ceiling: the real loop fed by a simulated cluster.

    python benchmarks/coordinator.py [--rounds 5] [--urls 3000] [--docs DIR]

The main process of a crawl decides for every worker, on one machine or on a Dask
cluster, so what it spends a page bounds any crawl however many machines fetch.
This runs the real `crawler.loop.DispatchLoop` with the real frontier and writer,
as `crawl` builds them, over a pool whose "workers" answer at once from pages held
in memory (one thread hands the answers back, as a real pool's result thread
does): the fetching costs nothing, so what is measured is the main process alone.

- `listing`: `--urls` listed URLs of 20 KB pages, no links (`--depth 0`).
- `following`: the Python documentation (`--docs`, by default where Debian's
  `python3.11-doc` puts it) crawled from its index page with `--depth 20`, scope
  host: each page comes back as a worker returns it, its links taken
  (`crawler.fetching.worker.with_links`, done once before the clock starts) and
  judged for the task's page (`crawler.frontier.link_verdicts.with_verdicts`, in
  the simulated cluster's thread, for each task, as a worker does), so the main
  process does what it does in a real crawl: dedupes, queues, writes.

Each answer is pickled in the cluster's thread and unpickled by the loop's, as a
pool's result thread in the main process does. Prints, per case, the medians of
`--rounds` rounds of:
- pages/s through the coordinator: pages over the wall time less the simulated
  cluster's CPU (its workers' part, which here holds the same interpreter's lock
  the coordinator needs, where a cluster's workers run elsewhere);
- the main process's CPU a page (the process's CPU, less the cluster's thread);
- in brackets, pages/s over the whole wall time, and the cluster's CPU a page.
Nothing goes on the network.
"""

from __future__ import annotations

import argparse
import io
import pickle
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.fetching.worker import with_links  # noqa: E402
from crawler.frontier import Frontier  # noqa: E402
from crawler.frontier.link_verdicts import with_verdicts  # noqa: E402
from crawler.frontier.policy import policy_for  # noqa: E402
from crawler.frontier.politeness import HostQueues  # noqa: E402
from crawler.loop import DispatchLoop, Limits  # noqa: E402
from crawler.model import Failure, Job, Page  # noqa: E402
from crawler.page.links import agent_token  # noqa: E402
from crawler.report import Reporter  # noqa: E402
from crawler.results import Outputs  # noqa: E402
from crawler.runner import with_links_taken  # noqa: E402
from crawler.settings import FetchSettings, RunSettings  # noqa: E402
from pipelines.parsers import active  # noqa: E402
from pipelines.writer import Writer  # noqa: E402

DOCS = Path("/usr/share/doc/python3.11/html")
SITE = "http://127.0.0.1:8000/"  # as the docs would be served by a local nginx
WORKERS = 16  # the simulated cluster's fetching threads


class SimulatedCluster:
    """A TaskPool whose tasks are answered at once from `pages` (URL -> Page; a URL
    it lacks is a 404), by one result thread, as a real pool's callbacks come. What
    a worker does to a fetched page for its task (judge its links, with `settings`)
    is done there, and its CPU counted apart."""

    reports_lost_tasks = True

    def __init__(self, pages: dict[str, Page], settings: FetchSettings) -> None:
        self.pages = pages
        self.follow = settings.follow
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.cpu = 0.0  # the result thread's own CPU, not the coordinator's
        self._thread = threading.Thread(target=self._answer, daemon=True)
        self._thread.start()

    def apply_async(self, func, args=(), kwds=None, callback=None, error_callback=None) -> None:
        # run_task(fetch_url, url, task_id, max_bytes, policy, raw, credentials, links,
        # judge, text)
        judge = args[8] if len(args) > 8 else None
        text = args[9] if len(args) > 9 else True
        self.tasks.put((args[1], judge, text, callback))

    def _answer(self) -> None:
        while (task := self.tasks.get()) is not None:
            url, judge, text, callback = task
            started = time.thread_time()
            page = self.pages.get(url)
            result = page._replace(url=url) if page else Failure(url, "HTTP 404", 1)
            if page and judge is not None and self.follow is not None:
                result = with_verdicts(result, self.follow, judge)  # as fetch_url does
            if page and not text:
                result = result._replace(text=None)
            sent = pickle.dumps(result, pickle.HIGHEST_PROTOCOL)  # as a worker sends it
            self.cpu += time.thread_time() - started
            callback(pickle.loads(sent))  # the main process's result thread unpickles it

    def close(self) -> None:
        pass

    def join(self) -> None:
        self.tasks.put(None)
        self._thread.join()

    def terminate(self) -> None:
        self.join()


def page(url: str, text: str) -> Page:
    size = len(text)
    headers = (("content-type", "text/html"),)
    return Page(url, 200, "text/html", text, size, size, 1, headers=headers)


def run_once(
    settings: RunSettings, pages: dict[str, Page], jobs: list[Job]
) -> tuple[int, float, float, float]:
    """(pages written, wall seconds, coordinator CPU seconds, the simulated
    cluster's CPU seconds) of one crawl."""
    frontier = Frontier(
        HostQueues(settings.per_host, settings.delay, first_alone=True),
        robots_agent=settings.fetch.user_agent,
        lookahead=settings.lookahead,
        follow=policy_for(settings, active().check),
    )
    settings = with_links_taken(settings, frontier)  # as `crawl` asks its workers
    pool = SimulatedCluster(pages, settings.fetch)
    with tempfile.TemporaryDirectory() as folder:
        writer = Writer(Path(folder) / "db.txt")
        loop = DispatchLoop(
            pool,
            Outputs(writer, Reporter(progress=False, quiet=True, stream=io.StringIO())),
            Limits(settings.max_in_flight, None, settings.concurrency),
            frontier=frontier,
        )
        cpu, wall = time.process_time(), time.perf_counter()
        outcome = loop.run(iter(jobs))
        pool.join()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu - pool.cpu
        writer.close()
    return outcome.stats.ok, wall, cpu, pool.cpu


def listing(urls: int) -> tuple[RunSettings, dict[str, Page], list[Job]]:
    text = (ROOT / "README.md").read_text("utf-8")
    while len(text) < 20_000:
        text += text
    body = f"<!DOCTYPE html><html><body><pre>{text[:20_000]}</pre></body></html>"
    pages = {f"{SITE}page/{n}": page(f"{SITE}page/{n}", body) for n in range(urls)}
    settings = RunSettings(workers=WORKERS, per_host=WORKERS * 2, depth=0)
    jobs = [Job(n + 1, url, ()) for n, url in enumerate(pages)]
    return settings, pages, jobs


def following(docs: Path) -> tuple[RunSettings, dict[str, Page], list[Job]]:
    settings = RunSettings(workers=WORKERS, per_host=WORKERS * 2, depth=20)
    frontier_policy = policy_for(settings, active().check)
    selectors = (
        tuple(frontier_policy.selectors),
        agent_token(settings.fetch.user_agent),
        frontier_policy.max_links,  # repeats folded, as a run without --rejected-log
    )
    pages: dict[str, Page] = {}
    for path in sorted(docs.rglob("*.html")):
        url = SITE + path.relative_to(docs).as_posix()
        text = path.read_bytes().decode("utf-8", "replace")
        pages[url] = with_links(page(url, text), *selectors)  # the workers' part, done once
    return settings, pages, [Job(1, SITE + "index.html", ())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--urls", type=int, default=3000)
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args()
    cases = [("listing", listing(args.urls))]
    if (args.docs / "index.html").is_file():
        cases.append(("following", following(args.docs)))
    else:
        print(
            f"no Python docs at {args.docs} (apt-get install python3.11-doc): "
            "the following case is skipped"
        )
    print(
        f"one coordinator, a simulated cluster of {WORKERS} threads answering at once, "
        f"median of {args.rounds} rounds, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    for name, (settings, pages, jobs) in cases:
        runs = [run_once(settings, pages, jobs) for _ in range(args.rounds)]
        done = runs[0][0]
        rate = statistics.median(n / (wall - cluster) for n, wall, _, cluster in runs)
        wall_rate = statistics.median(n / wall for n, wall, _, _ in runs)
        cpu = statistics.median(cpu / n for n, _, cpu, _ in runs) * 1000
        cluster = statistics.median(cluster / n for n, _, _, cluster in runs) * 1000
        print(
            f"{name:<10} {done:>6} pages {rate:>9.0f} pages/s {cpu:>8.3f} ms CPU a page"
            f"  (with the cluster's thread: {wall_rate:.0f} pages/s, {cluster:.3f} ms a page)"
        )


if __name__ == "__main__":
    main()
