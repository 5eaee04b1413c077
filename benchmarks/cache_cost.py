"""The HTTP cache's CPU per request, measured in the worker's fetch.

    python benchmarks/cache_cost.py [--requests 1000] [--repeats 5] [--bytes 20000]

A script, not a test: it prints figures. It serves pages of about 20 KB of real
text (this project's README, not a repeated filler that compresses for free) from
a threaded server in this process, and fetches them with the worker's own
`fetch` and `make_transport`, one thread, measuring that thread's CPU time
(`time.thread_time`: the server's threads are not counted). Four cases:

- `not stored`: pages without a validator (as the benchmark site's), from a site
  the cache holds nothing of: no lookup, and the answer is judged not worth storing;
- `not stored 2`: the same from a site the cache holds pages of: one lookup more;
- `stored`: pages with an `ETag`, fetched into an empty cache: looked up,
  compressed, written;
- `revalidated`: the same pages again: looked up, asked with `If-None-Match`,
  answered 304, served from the file;
- `no cache`: the same fetches with `--no-cache`, the baseline.

Two figures per case: `bookkeeping`, the CPU spent inside the cache's own code
(`HttpCache.send` less the transport it calls, plus `HttpCache.store`), and `fetch`,
the whole fetch's CPU per request; `vs no cache` is the fetch's CPU less that of
the same fetch without a cache (for `revalidated`: less a full fetch of the page).
Medians over `--repeats` rounds.

    python benchmarks/cache_cost.py --whole [--requests 1000] [--pairs 12]

measures what a user pays instead: the real `crawl` (two workers) over the pages
with an `ETag`, whole-process CPU (user + system of crawl and every process it
waited for, as the OS counts it) per page. On a shared machine one run's CPU moves
by more than the cache costs, so the runs alternate and each cache run is paired
with the `--no-cache` runs on either side of it, the same URL list and the same
server: a round is `--no-cache`, a first run into an empty cache (stores every
page), `--no-cache`, a second run (every page a 304), and the next round's
`--no-cache` closes it. Each figure is the median over the rounds of
(cache run - the mean of its two neighbours), with the spread of those
differences (the middle half, and min to max). Then the end-of-run upkeep alone
(`cache_upkeep.keep_bounded` on a cache of those pages, nothing due), its CPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.fetching.fetch import fetch, make_transport  # noqa: E402
from crawler.model import Page  # noqa: E402
from crawler.settings import FetchSettings  # noqa: E402


def page_body(size: int, page: Path | None) -> bytes:
    if page is not None:  # a real page, cut to size
        return page.read_bytes()[:size]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    while len(text.encode()) < size:
        text += text
    body = text.encode()[:size].decode("utf-8", "ignore")
    return f"<!DOCTYPE html><html><body><pre>{body}</pre></body></html>".encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall
    body = b""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        etag = '"v1"' if self.path.startswith("/etag/") else None
        if etag and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(self.body)


class Meter:
    """The CPU this thread spends in the cache's own code, less the transport."""

    def __init__(self, session) -> None:
        self.spent = 0.0
        cache = session.cache
        send, store = cache.send, cache.store

        def timed_send(request, send_on):
            inner = 0.0

            def timed_on(prepared):
                nonlocal inner
                before = time.thread_time()
                try:
                    return send_on(prepared)
                finally:
                    inner += time.thread_time() - before

            before = time.thread_time()
            try:
                return send(request, timed_on)
            finally:
                self.spent += time.thread_time() - before - inner

        def timed_store(*args):
            before = time.thread_time()
            try:
                return store(*args)
            finally:
                self.spent += time.thread_time() - before

        cache.send, cache.store = timed_send, timed_store


def run(urls: list[str], settings: FetchSettings, session=None) -> tuple[float, float]:
    """(fetch CPU, bookkeeping CPU) per request, in ms."""
    session = session or make_transport(settings)
    cache = getattr(session, "cache", None)
    meter = Meter(session) if hasattr(cache, "store") and hasattr(cache, "send") else None
    before = time.thread_time()
    for url in urls:
        result = fetch(session, url, settings)
        assert isinstance(result, Page), result
    spent = time.thread_time() - before
    per = 1000 / len(urls)
    return spent * per, (meter.spent * per if meter else 0.0)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def crawl_cpu(urls: Path, folder: Path, *args: str) -> float:
    """Whole-process CPU seconds of one `crawl` run over `urls`."""
    before = children_cpu()
    subprocess.run(
        [sys.executable, "-m", "crawler", str(urls), "--output", str(folder / "db.txt"), "-q",
         "--workers", "2", *args],
        check=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
    )  # fmt: skip
    return children_cpu() - before


def spread(values: list[float]) -> str:
    """`median (middle half q1..q3, min..max)` of per-round differences, in ms a page."""
    ordered = sorted(values)
    q1, _, q3 = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else ordered * 3
    return (
        f"{statistics.median(ordered):+.3f} ms a page  "
        f"(middle half {q1:+.3f}..{q3:+.3f}, all {ordered[0]:+.3f}..{ordered[-1]:+.3f})"
    )


def whole(tagged: list[str], pairs: int) -> None:
    """The `--whole` figures (see the module's docstring)."""
    from crawler.fetching import cache_upkeep

    n = len(tagged)
    first: list[float] = []
    revalidated: list[float] = []
    plain: list[float] = []
    upkeep: list[float] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        urls = folder / "urls.txt"
        urls.write_text("\n".join(tagged) + "\n")
        crawl_cpu(urls, folder, "--no-cache")  # a warm-up: files in the page cache
        before = crawl_cpu(urls, folder, "--no-cache") / n
        for round_ in range(pairs):
            cache = folder / f"cache-{round_}.sqlite"
            with_cache = ("--cache", str(cache))
            stored = crawl_cpu(urls, folder, *with_cache) / n
            middle = crawl_cpu(urls, folder, "--no-cache") / n
            again = crawl_cpu(urls, folder, *with_cache) / n
            after = crawl_cpu(urls, folder, "--no-cache") / n
            first.append((stored - (before + middle) / 2) * 1000)
            revalidated.append((again - (middle + after) / 2) * 1000)
            plain += [before * 1000, middle * 1000]
            before = after
            cpu = time.process_time()
            cache_upkeep.keep_bounded(cache, 30.0, None, print)
            upkeep.append((time.process_time() - cpu) * 1000)
            for old in cache_upkeep.files_of(cache):
                old.unlink(missing_ok=True)
    print(
        f"crawl --workers 2, {n} pages of {len(Handler.body)} bytes with an ETag, "
        f"whole-process CPU a page, {pairs} rounds, each cache run less the mean of the "
        f"--no-cache runs either side, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"--no-cache         {statistics.median(plain):.3f} ms a page")
    print(f"first run (stores) {spread(first)}")
    print(f"304s               {spread(revalidated)}")
    print(
        f"end-of-run upkeep, nothing due: {statistics.median(upkeep):.1f} ms CPU "
        f"(all {min(upkeep):.1f}..{max(upkeep):.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5, help="rounds, without --whole")
    parser.add_argument("--pairs", type=int, default=12, help="rounds of --whole")
    parser.add_argument("--bytes", type=int, default=20_000)
    parser.add_argument(
        "--page", type=Path, help="serve this file (cut to --bytes) instead of README text"
    )
    parser.add_argument("--whole", action="store_true", help="whole crawl runs, whole-process CPU")
    args = parser.parse_args()
    Handler.body = page_body(args.bytes, args.page)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    plain = [f"{base}/page/{n}" for n in range(args.requests)]
    tagged = [f"{base}/etag/{n}" for n in range(args.requests)]
    if args.whole:
        whole(tagged, args.pairs)
        server.shutdown()
        return
    figures: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            nocache = FetchSettings(retries=0)
            cached = FetchSettings(retries=0, cache_path=Path(folder) / "cache.sqlite")
            figures.setdefault("no cache, plain", []).append(run(plain, nocache))
            figures.setdefault("not stored", []).append(run(plain, cached))
            figures.setdefault("no cache, etag", []).append(run(tagged, nocache))
            figures.setdefault("stored", []).append(run(tagged, cached))
            figures.setdefault("revalidated", []).append(run(tagged, cached))
            plain_again = [url + "?again" for url in plain]  # the site has stored pages now
            figures.setdefault("not stored 2", []).append(run(plain_again, cached))
    server.shutdown()
    median = {
        name: tuple(statistics.median(x) for x in zip(*rows, strict=True))
        for name, rows in figures.items()
    }
    print(
        f"{args.requests} requests of {len(Handler.body)} bytes, median of {args.repeats}, "
        f"CPU of the fetching thread, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(f"{'case':<14}{'bookkeeping ms':>16}{'fetch ms':>10}{'vs no cache ms':>16}")
    baseline = {"not stored": "no cache, plain", "stored": "no cache, etag"}
    baseline["revalidated"] = "no cache, etag"
    baseline["not stored 2"] = "no cache, plain"
    for name in ("not stored", "not stored 2", "stored", "revalidated"):
        fetch_ms, book_ms = median[name]
        delta = fetch_ms - median[baseline[name]][0]
        print(f"{name:<14}{book_ms:>16.3f}{fetch_ms:>10.3f}{delta:>+16.3f}")
    for name in ("no cache, plain", "no cache, etag"):
        print(f"{name:<14}{'':>16}{median[name][0]:>10.3f}")


if __name__ == "__main__":
    main()
