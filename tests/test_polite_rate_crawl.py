"""The real `crawl` command against sites that limit it (tests/limited_server.py):
as fast as a site allows, and never faster; a wait no cron job can afford is not
waited."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import records, run_crawl, write_urls
from tests.limited_server import Limit, LimitedServer


def crawl(tmp_path: Path, urls: list[str], *options: str, timeout: float = 60):
    db = tmp_path / "db.txt"
    listed = write_urls(tmp_path / "urls.txt", *urls)
    result = run_crawl(str(listed), "--output", str(db), "--no-cache", *options,
                       timeout=timeout)  # fmt: skip
    return result, db


def test_a_token_bucket_site_gets_every_page_with_few_429s(tmp_path: Path) -> None:
    """20 requests a second (a burst of 20), 429 with Retry-After: 1 past it; 60
    URLs with 12 fetches at once: every page, no failure, and after the first
    burst the site is not pressed past its rate."""
    with LimitedServer(Limit(rate=20, burst=20)) as site:
        urls = [site.url(f"/p/{n}") for n in range(60)]
        stats = tmp_path / "stats.json"
        result, db = crawl(tmp_path, urls, "--workers", "3", "--threads", "4", "--per-host",
                           "8", "--stats", str(stats))  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert len(records(db, "url")) == 60 and records(db, "error") == []
        assert site.statuses[429] <= 10, site.statuses
        if site.statuses[429]:  # a crawl slower than the site's rate (a busy machine) gets none
            slowed = json.loads(stats.read_text())["slowed"][site.base]
            assert slowed["429"] == site.statuses[429] and slowed["503"] == 0
            assert slowed["paused"] >= 1.0 and not slowed["given_up"]
            assert f"slowed down: {site.base} ({site.statuses[429]} x 429" in result.stderr


def test_a_site_that_asks_for_an_hour_is_not_waited_for(tmp_path: Path) -> None:
    """Retry-After: 3600 beside a normal site: that site's URLs fail as rate
    limited, each once, and the run ends at the other site's pace."""
    with (
        LimitedServer(Limit(retry_after="3600", always=True)) as waits,
        LimitedServer(Limit()) as fine,
    ):
        slow = [waits.url(f"/w/{n}") for n in range(20)]
        others = [fine.url(f"/f/{n}") for n in range(20)]
        urls = [url for pair in zip(slow, others, strict=True) for url in pair]
        metrics = tmp_path / "crawl.prom"
        started = time.monotonic()
        result, db = crawl(tmp_path, urls, "--workers", "2", "--metrics", str(metrics),
                           timeout=30)  # fmt: skip
        assert time.monotonic() - started < 15
        assert result.returncode == 1, result.stderr
        assert sorted(records(db, "error")) == sorted(
            f"error:<{url}> rate limited: the site asks to wait 3600 s" for url in slow
        )
        assert len(records(db, "url")) == 20
        assert waits.requests <= 2  # robots.txt, and at most one page sent with it
        assert f'crawl_last_run_slowed_answers{{site="{waits.base}",status="429"}}' in (
            metrics.read_text()
        )


def test_max_wait_must_be_a_number_of_seconds(tmp_path: Path) -> None:
    for bad in ("-1", "soon", "inf", "nan"):
        result, _db = crawl(tmp_path, ["http://127.0.0.1:9/"], "--max-wait", bad)
        assert result.returncode == 2
        last = result.stderr.splitlines()[-1]
        assert last.startswith("crawl: error: argument --max-wait: must be a number of seconds")
        assert "Traceback" not in result.stderr
