"""What a run tells a monitor when it ends: the `--stats` JSON object and the
`--metrics` Prometheus textfile. Pure: values in, values out; the runner writes them.

Both are made from one `RunReport`, so the two files never disagree:

    {"run": "20261201T192957Z-5865b6", "version": "0.2.0", "status": "finished",
     "exit": 1, "started": "2026-12-01T19:29:57Z", "ended": "2026-12-01T19:30:41Z",
     "seconds": 43.71, "ok": 95, "failed": 5, "retried": 2, "bytes": 812345,
     "unchanged": 60, "saved": 2301234, "errors": {"HTTP 404": 3, "timed out": 2}}

  and, when following links (`--depth`, `--sitemaps`), `"found": 120` and
  `"dropped": {"offsite": 310, "seen": 2200}`: the links not followed, by reason;
  and, with the HTTP cache, `"cache": 1843200, "evicted": 12`: its size on disk
  in bytes at the end of the run, and the entries the end of the run evicted
  (unused for `--cache-max-age` days, or past `--cache-max-size`).

- `status` is `finished`, `interrupted` (a stop signal) or `output-error` (the
  output could not be written: a full disk, say); `exit` is the exit status.
- `started` and `ended` are ISO 8601 in UTC, to the second; `seconds` is measured
  on the monotonic clock, so a clock step during the run does not change it.
- `errors` counts failures by kind, most frequent first (ties by name): the
  reason of each `error:` line without what differs between URLs that failed the
  same way (`error_kind`), so it has a handful of keys however many URLs failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from crawler.report import Stats

# The `status` of a run, as its end line says it; `stopped`: a URL file line asked
# for a parser that cannot run (a plugin that did not load), and reading ended there.
STATUSES = ("finished", "interrupted", "output-error", "stopped")
_RETRY_TAIL = re.compile(r" after \d+ attempts?\b")
_LINE_NUMBER = re.compile(r"^line \d+: ")

# Each gauge's name and HELP text.
GAUGES = {
    "crawl_last_run_end_timestamp_seconds": (
        "When the last run ended, in seconds since the Unix epoch; a stale value means "
        "runs stopped happening (or ended without a report, as under kill -9)"
    ),
    "crawl_last_run_duration_seconds": "How long the last run took, start to end",
    "crawl_last_run_exit_code": (
        "Exit status of the last run: 0 all fetched, 1 some URLs failed, 2 unusable "
        "input or output (a full disk), 130/143 interrupted"
    ),
    "crawl_last_run_pages": (
        "Pages of the last run by outcome: ok (fetched and parsed; includes unchanged), "
        "failed (each has its error: line), unchanged (answered by the HTTP cache)"
    ),
    "crawl_last_run_bytes": "Bytes the last run fetched over the network",
    "crawl_last_run_errors": (
        "Failed URLs of the last run by reason, without the retry tail (after N attempts)"
    ),
}


def error_kind(reason: str) -> str:
    """The kind of failure a reason names: `reason` without its retry count
    (`timed out after 3 attempts` -> `timed out`, also inside `robots.txt
    unavailable (timed out after 3 attempts); try later`) and without the line
    number of a bad line of the URL file (`line 7: not an http(s) URL` -> `not an
    http(s) URL`)."""
    return _RETRY_TAIL.sub("", _LINE_NUMBER.sub("", reason))


def iso_utc(timestamp: float) -> str:
    """`2026-12-01T19:29:57Z`: ISO 8601, UTC, to the second."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RunReport:
    """One ended run, as both reports see it. Times are seconds since the epoch."""

    run: str
    version: str
    status: str
    exit: int
    started_at: float
    ended_at: float
    seconds: float
    ok: int
    failed: int
    retried: int
    bytes: int
    unchanged: int
    saved: int
    errors: dict[str, int]
    found: int | None = None  # following links: URLs taken from links and sitemaps
    dropped: dict[str, int] | None = None  # following links: links not followed, by reason
    items_dropped: int = 0  # declared parsers' items without a required field
    cache: int | None = None  # the HTTP cache's bytes on disk; None without a cache
    evicted: int = 0  # cache entries evicted at the end of the run

    @classmethod
    def of(cls, run_id: str, version: str, status: str, exit_code: int, stats: Stats) -> RunReport:
        """The report of a run whose `stats` are final (`Stats.finish()`)."""
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        errors = sorted(stats.errors.items(), key=lambda item: (-item[1], item[0]))
        return cls(
            run=run_id,
            version=version,
            status=status,
            exit=exit_code,
            started_at=stats.started_at,
            ended_at=stats.ended_at if stats.ended_at is not None else stats.started_at,
            seconds=round(stats.seconds, 2),
            ok=stats.ok,
            failed=stats.failed,
            retried=stats.retried,
            bytes=stats.bytes,
            unchanged=stats.unchanged,
            saved=stats.saved,
            errors=dict(errors),
            found=stats.found if stats.following else None,
            dropped={r: n for r, n in stats.dropped.items() if n} if stats.following else None,
            items_dropped=stats.items_dropped,
            cache=stats.cache_bytes,
            evicted=stats.evicted,
        )

    def as_json(self) -> dict[str, Any]:
        """The object `--stats` writes, keys in this order."""
        report = {
            "run": self.run,
            "version": self.version,
            "status": self.status,
            "exit": self.exit,
            "started": iso_utc(self.started_at),
            "ended": iso_utc(self.ended_at),
            "seconds": self.seconds,
            "ok": self.ok,
            "failed": self.failed,
            "retried": self.retried,
            "bytes": self.bytes,
            "unchanged": self.unchanged,
            "saved": self.saved,
            "errors": dict(self.errors),
        }
        if self.dropped is not None:
            report["found"] = self.found
            report["dropped"] = dict(self.dropped)
        if self.items_dropped:
            report["items_dropped"] = self.items_dropped
        if self.cache is not None:
            report["cache"] = self.cache
            report["evicted"] = self.evicted
        return report

    def registry(self) -> CollectorRegistry:
        """The run as Prometheus gauges (`GAUGES`), in a registry of its own: the
        process's default one would add the client library's own metrics."""
        from prometheus_client import CollectorRegistry, Gauge  # 40 ms: only for --metrics

        registry = CollectorRegistry(auto_describe=True)

        def gauge(name: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, GAUGES[name], labels, registry=registry)

        gauge("crawl_last_run_end_timestamp_seconds").set(self.ended_at)
        gauge("crawl_last_run_duration_seconds").set(self.seconds)
        gauge("crawl_last_run_exit_code").set(self.exit)
        pages = gauge("crawl_last_run_pages", ("outcome",))
        for outcome in ("ok", "failed", "unchanged"):
            pages.labels(outcome=outcome).set(getattr(self, outcome))
        gauge("crawl_last_run_bytes").set(self.bytes)
        errors = gauge("crawl_last_run_errors", ("reason",))
        for reason, count in self.errors.items():
            errors.labels(reason=reason).set(count)
        return registry
