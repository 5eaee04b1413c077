"""The recursive crawl `crawl --depth` is measured against, as its own process:

    python benchmarks/follow_contenders.py crawlspider START CONCURRENCY OUTFILE

- `crawlspider`: Scrapy's CrawlSpider, the way its documentation writes one: a
  `Rule(LinkExtractor(), callback=..., follow=True)`, `allowed_domains` for the
  start URL's host, robots.txt obeyed (as `crawl` does), `CONCURRENT_REQUESTS =
  CONCURRENCY`; each page gets the `url:` line `crawl` writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders import Output  # noqa: E402

from pipelines.records import url_line  # noqa: E402


def run_crawlspider(start: str, concurrency: int, out: str) -> None:
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor
    from scrapy.spiders import CrawlSpider, Rule

    output = Output(out)

    class Follow(CrawlSpider):
        name = "follow"
        allowed_domains = (urlsplit(start).hostname,)
        start_urls = (start,)
        rules = (Rule(LinkExtractor(), callback="parse_page", follow=True),)

        def parse_start_url(self, response):
            return self.parse_page(response)

        def parse_page(self, response):
            output.write(url_line(response.url, len(response.text)) + "\n")
            return []

    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "CONCURRENT_REQUESTS_PER_IP": 0,
            "DOWNLOAD_DELAY": 0,
            "ROBOTSTXT_OBEY": True,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,  # no listening port beyond the site's
            "LOG_LEVEL": "ERROR",
            "DOWNLOAD_TIMEOUT": 30,
        }
    )
    process.crawl(Follow)
    process.start()
    output.close()


CONTENDERS = {"crawlspider": run_crawlspider}

if __name__ == "__main__":
    name, start, concurrency, out = sys.argv[1:5]
    CONTENDERS[name](start, int(concurrency), out)
