"""Politeness against sites that limit their clients: `python benchmarks/politeness.py`.

Starts 127.0.0.1 sites (tests/limited_server.py, in this process) and runs, on the
same URLs with the same concurrency limits (12 fetches at once, 8 per site), the
real `crawl` command (`--workers 3 --threads 4 --per-host 8`) and Scrapy with
AutoThrottle on (`CONCURRENT_REQUESTS 12`, `CONCURRENT_REQUESTS_PER_DOMAIN 8`,
AutoThrottle's other settings as they ship, its retries too), each a process of
its own, against:

1. `bucket`: 20 requests a second (a burst of 20), 429 with `Retry-After: 1` past it;
2. `busy`: 503 whenever more than 4 requests are being served; each answer takes
   50 ms, so 4 in flight allow 80 pages/s;
3. `latency`: the first byte after 50 ms x the requests being served (unpressed:
   50 ms); the table shows the median answer time over the second half of the
   run, as a multiple of the unpressed one, and the median in flight;
4. `wait`: a site that answers `429 Retry-After: 3600` to everything, beside a
   normal one (10 ms an answer): the run should end within 10 s of the normal
   site's last answer, with the first site's URLs as failures.

`pages/s` is the site's view: pages answered 200 over the time from the first
request to the last answer (the normal site's, for `wait`). `429`/`503` count the
answers the site gave; `failed` the URLs the crawler did not get. Each run is
bounded (`--timeout`, default 120 s). The figures are from one machine shared with
other work: compare the columns, not the absolute rates.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.limited_server import Limit, LimitedServer  # noqa: E402

SCENARIOS = {
    "bucket": (Limit(rate=20, burst=20, retry_after="1"), 300),
    "busy": (Limit(busy=4, ttfb=0.05), 300),
    "latency": (Limit(ttfb=0.05, per_request=0.05), 200),
    "wait": (Limit(retry_after="3600", always=True), 50),
}
NORMAL = Limit(ttfb=0.01)  # the site beside `wait`'s
NORMAL_URLS = 150

SCRAPY = """
import sys
import scrapy
from scrapy.crawler import CrawlerProcess

urls, out = sys.argv[1], sys.argv[2]
failed = 0

class Polite(scrapy.Spider):
    name = "polite"

    async def start(self):
        for url in open(urls).read().split():
            yield scrapy.Request(url, errback=self.failed, dont_filter=True)

    def parse(self, response):
        with open(out, "a") as lines:
            lines.write("url:<%s> size:[%d]\\n" % (response.url, len(response.text)))

    def failed(self, failure):
        global failed
        failed += 1
        with open(out, "a") as lines:
            lines.write("error:<%s> %s\\n" % (failure.request.url, failure.type.__name__))

process = CrawlerProcess(settings={
    "CONCURRENT_REQUESTS": 12,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "AUTOTHROTTLE_ENABLED": True,
    "ROBOTSTXT_OBEY": True,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "ERROR",
    "DOWNLOAD_TIMEOUT": 30,
})
process.crawl(Polite)
process.start()
"""


def run(command: list[str], timeout: float) -> tuple[float, bool]:
    """Run a crawler; its wall time and whether it ended within `timeout`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.monotonic()
    try:
        subprocess.run(command, capture_output=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return time.monotonic() - started, False
    return time.monotonic() - started, True


def commands(contender: str, urls: Path, out: Path) -> list[str]:
    if contender == "crawl":
        return [sys.executable, "-m", "crawler", str(urls), "--output", str(out), "--no-cache",
                "-q", "--workers", "3", "--threads", "4", "--per-host", "8"]  # fmt: skip
    script = out.parent / "scrapy_polite.py"
    script.write_text(SCRAPY)
    return [sys.executable, str(script), str(urls), str(out)]


def measure(name: str, contender: str, timeout: float) -> dict[str, object]:
    limit, count = SCENARIOS[name]
    with tempfile.TemporaryDirectory() as folder, LimitedServer(limit) as site, \
            LimitedServer(NORMAL) as normal:  # fmt: skip
        urls = [site.url(f"/p/{n}") for n in range(count)]
        if name == "wait":
            urls += [normal.url(f"/n/{n}") for n in range(NORMAL_URLS)]
        listed, out = Path(folder) / "urls.txt", Path(folder) / "db.txt"
        listed.write_text("\n".join(urls) + "\n")
        started = time.monotonic()
        seconds, ended = run(commands(contender, listed, out), timeout)
        lines = out.read_text().splitlines() if out.exists() else []
        fetched = sum(line.startswith("url:") for line in lines)
        watched = normal if name == "wait" else site
        span = (watched.last_answer or started) - (watched.first_request or started)
        row: dict[str, object] = {
            "pages": fetched,
            "pages/s": watched.statuses[200] / span if span > 0 else 0.0,
            "429": site.statuses[429],
            "503": site.statuses[503],
            "requests": site.requests,
            "failed": len(urls) - fetched,
            "seconds": seconds if ended else f">{timeout:.0f} (killed)",
        }
        if name == "latency" and site.ttfbs:
            late = site.ttfbs[len(site.ttfbs) // 2 :]
            row["in flight"] = statistics.median(active for active, _ in late)
            row["ttfb x"] = statistics.median(t for _, t in late) / limit.ttfb
        if name == "wait":
            last = normal.last_answer
            row["after normal"] = None if last is None else started + seconds - last
        return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--contenders", default="crawl,scrapy")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    columns = ("scenario", "crawler", "pages", "pages/s", "429", "503", "requests", "failed",
               "seconds", "more")  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for name in args.scenarios.split(","):
        for contender in args.contenders.split(","):
            row = measure(name, contender, args.timeout)
            more = ""
            if "ttfb x" in row:
                more = f"answer time {row['ttfb x']:.1f}x unpressed, {row['in flight']} in flight"
            if "after normal" in row:
                after = row["after normal"]
                more = (
                    "no page of the normal site"
                    if after is None
                    else (f"ended {after:.1f} s after the normal site's last page")
                )
            seconds = row["seconds"]
            seconds = f"{seconds:.1f}" if isinstance(seconds, float) else seconds
            print(f"| {name} | {contender} | {row['pages']} | {row['pages/s']:.1f} | {row['429']} "
                  f"| {row['503']} | {row['requests']} | {row['failed']} | {seconds} | {more} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
