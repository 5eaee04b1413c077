"""The baselines `crawl` is measured against, each run as its own process:

    python benchmarks/contenders.py {pool,threads,scrapy} URLFILE CONCURRENCY OUTFILE

Every contender reads the same URL file (a URL, then optionally `board`), fetches
each page, and writes what `crawl` writes: the `url:` line for every page and a
`board:` line per entry of a board page, with the project's own parser and line
formats, so that the work besides fetching is the same for all.

- `pool`: the tutorial's way. A `multiprocessing.Pool`, one `apply_async` per URL
  calling `requests.get` (a new connection each time), parsing and writing in the
  callback.
- `threads`: a thread pool with one `requests.Session` per thread, each thread
  fetching, parsing and writing under a lock.
- `scrapy`: a minimal Scrapy spider with `CONCURRENT_REQUESTS = CONCURRENCY`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.parsers.board import parse_board  # noqa: E402
from pipelines.records import board_line, url_line  # noqa: E402


def read_urls(path: str) -> Iterator[tuple[str, bool]]:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                yield fields[0], "board" in fields[1:]


def records(url: str, text: str, board: bool) -> str:
    lines = [url_line(url, len(text))]
    if board:
        lines.extend(board_line(url, entry) for entry in parse_board(text))
    return "".join(line + "\n" for line in lines)


class Output:
    """Appends one page's lines at a time, under a lock."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.lock = threading.Lock()

    def write(self, block: str) -> None:
        with self.lock:
            self.file.write(block)
            self.file.flush()

    def close(self) -> None:
        self.file.close()


# -- the tutorial's pool ---------------------------------------------------------------
def _tutorial_fetch(url: str) -> tuple[str, str]:
    import requests

    return url, requests.get(url, timeout=30).text


def run_pool(url_file: str, concurrency: int, out: str) -> None:
    from multiprocessing import Pool

    output = Output(out)

    def on_page(board: bool, result: tuple[str, str]) -> None:
        url, text = result
        output.write(records(url, text, board))

    pool = Pool(concurrency)
    for url, board in read_urls(url_file):
        pool.apply_async(
            _tutorial_fetch,
            (url,),
            callback=lambda result, board=board: on_page(board, result),
            error_callback=lambda error: print(error, file=sys.stderr),
        )
    pool.close()
    pool.join()
    output.close()


# -- a thread pool, one Session per thread ---------------------------------------------
def run_threads(url_file: str, concurrency: int, out: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import requests

    output = Output(out)
    local = threading.local()

    def work(job: tuple[str, bool]) -> None:
        url, board = job
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        output.write(records(url, session.get(url, timeout=30).text, board))

    with ThreadPoolExecutor(concurrency) as executor:
        for _ in executor.map(work, read_urls(url_file)):
            pass
    output.close()


# -- Scrapy ------------------------------------------------------------------------------
def run_scrapy(url_file: str, concurrency: int, out: str) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    output = Output(out)

    class Bench(scrapy.Spider):
        name = "bench"

        async def start(self):
            for url, board in read_urls(url_file):
                yield scrapy.Request(url, cb_kwargs={"board": board}, dont_filter=True)

        def parse(self, response, board: bool):
            output.write(records(response.url, response.text, board))

    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "CONCURRENT_REQUESTS_PER_IP": 0,
            "DOWNLOAD_DELAY": 0,
            "ROBOTSTXT_OBEY": False,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,  # no listening port beyond the site's
            "LOG_LEVEL": "ERROR",
            "DOWNLOAD_TIMEOUT": 30,
        }
    )
    process.crawl(Bench)
    process.start()
    output.close()


CONTENDERS = {"pool": run_pool, "threads": run_threads, "scrapy": run_scrapy}

if __name__ == "__main__":
    name, url_file, concurrency, out = sys.argv[1:5]
    CONTENDERS[name](url_file, int(concurrency), out)
