"""What following links costs a page, and on which side: the measurement behind
running link extraction in the main process.

    python benchmarks/link_cost.py [--pages 2000] [--workers 3]

1. In-process, on the benchmark site's linked pages (benchmarks/site.py, `/site/N`:
   20 KB, 38 links each), the time to extract a page's links (crawler.page.links), to
   decide on them (the frontier: scope, patterns, dedupe) and the whole of the
   main process's handling of a page (crawler.results: unpickle, records, the
   append, decisions), its links taken beforehand as a worker takes them.
2. A real `crawl --depth inf` of the same pages served on 127.0.0.1: the CPU of the
   main process (all its threads) and of the workers, per page.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import math
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from crawler.fetching.worker import with_links  # noqa: E402
from crawler.frontier import Frontier, make_policy  # noqa: E402
from crawler.frontier.politeness import HostQueues  # noqa: E402
from crawler.model import Job, Page  # noqa: E402
from crawler.page.links import extract_links  # noqa: E402
from crawler.report import Reporter  # noqa: E402
from crawler.results import Outputs, Results  # noqa: E402
from pipelines.writer import Writer  # noqa: E402

BASE = "http://127.0.0.1:8000"
SPLIT_RUN = """
import resource, sys, time
sys.argv = ["crawl", *sys.argv[1:]]
from crawler.cli import main
try:
    main()
finally:
    me = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(me.ru_utime + me.ru_stime, workers.ru_utime + workers.ru_stime)
"""


def site_pages(count: int) -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("bench_site", BENCH / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    site = module.Site()
    site.linked_pages = count
    bodies = {}
    for n in range(count):
        raw = site.answer(f"/site/{n}")[0]
        bodies[f"{BASE}/site/{n}"] = raw.split(b"\r\n\r\n", 1)[1].decode()
    return bodies


def page(url: str, text: str) -> Page:
    return Page(url, 200, "text/html; charset=utf-8", text, len(text), len(text), 1)


def in_process(bodies: dict[str, str]) -> None:
    pages = [page(url, text) for url, text in bodies.items()]
    started = time.perf_counter()
    found = [extract_links(p) for p in pages]
    extract = (time.perf_counter() - started) / len(pages)
    frontier = Frontier(HostQueues(4), follow=make_policy(depth=math.inf))
    frontier.add_listed(Job(1, pages[0].url, ()), 0.0)
    fetch = frontier.next_ready(0.0)
    started = time.perf_counter()
    for one, links in zip(pages, found, strict=True):
        frontier.add_links(fetch, one, links, 0.0)
    decide = (time.perf_counter() - started) / len(pages)
    links = sum(len(f.links) for f in found) / len(found)
    print(f"{len(pages)} pages of {sum(map(len, bodies.values())) // len(pages)} characters, "
          f"{links:.0f} links each")  # fmt: skip
    print(f"extract the links of a page:  {extract * 1000:.3f} ms")
    print(f"decide on them (the frontier): {decide * 1000:.3f} ms")
    with tempfile.TemporaryDirectory() as folder:  # the whole callback, as the loop runs it
        writer = Writer(Path(folder) / "db.txt")
        frontier = Frontier(HostQueues(100), follow=make_policy(depth=math.inf))
        reporter = Reporter(progress=False, stream=io.StringIO())
        results = Results(frontier, Outputs(writer, reporter), threading.Lock())
        sent = {p.url: pickle.dumps(with_links(p, (None,), "crawl")) for p in pages}
        frontier.add_listed(Job(1, pages[0].url, ()), 0.0)
        handled, started = 0, time.perf_counter()
        while (ready := frontier.next_ready(0.0)) is not None:
            results.finished(ready, pickle.loads(sent[ready.url]))
            handled += 1
        callback = (time.perf_counter() - started) / handled
        writer.close()
    print(f"the main process's whole callback for a page (unpickle, records, append, "
          f"decisions): {callback * 1000:.3f} ms")  # fmt: skip


def split_run(pages: int, workers: int) -> None:
    site = subprocess.Popen([sys.executable, str(BENCH / "site.py")], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        port = int(site.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(f"{base}/__reset?pages={pages}", timeout=10).read()
        with tempfile.TemporaryDirectory() as folder:
            urls = Path(folder) / "urls.txt"
            urls.write_text(f"{base}/site/0\n", encoding="utf-8")
            for cache in ([], ["--no-cache"]):
                command = [sys.executable, "-c", SPLIT_RUN, str(urls), "--depth", "inf",
                           "--workers", str(workers), "--per-host", str(2 * workers + 2),
                           "--output", str(Path(folder) / "db.txt"), "--no-progress", "-q",
                           *cache]  # fmt: skip
                urllib.request.urlopen(f"{base}/__reset?pages={pages}", timeout=10).read()
                out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
                main, children = map(float, out.stdout.split())
                print(f"crawl --depth inf --workers {workers} {' '.join(cache) or '(cache on)'}: "
                      f"main process {main / pages * 1000:.2f} ms CPU a page, "
                      f"workers {children / pages * 1000:.2f} ms")  # fmt: skip
    finally:
        site.terminate()
        site.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    in_process(site_pages(args.pages))
    split_run(args.pages, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
