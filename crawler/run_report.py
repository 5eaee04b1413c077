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
  (unused for `--cache-max-age` days, or past `--cache-max-size`);
  and, per site that answered 429 or 503, `"slowed": {"http://a.example": {"429": 12,
  "503": 0, "paused": 3.0, "in_flight": 2, "rate": 18.5, "given_up": false}}`: its
  answers that said slow down, the seconds its `Retry-After` paused it, and the
  in-flight and rate (requests a second; null when not bounded by spacing) it
  ended at; `given_up`: its `Retry-After` was past `--max-wait`.

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
    "crawl_last_run_slowed_answers": (
        "Answers of the last run that said slow down (429, 503), per site that sent any"
    ),
    "crawl_last_run_slowed_paused_seconds": (
        "Seconds a site's Retry-After paused it in the last run, per site slowed down"
    ),
    "crawl_last_run_slowed_in_flight": (
        "Requests in flight a site slowed down was allowed when the last run ended"
    ),
    "crawl_last_run_slowed_rate": (
        "Requests a second a site slowed down was allowed when the last run ended "
        "(absent: not bounded by spacing)"
    ),
}


def error_kind(reason: str) -> str:
    """The kind of failure a reason names: `reason` without its retry count
    (`timed out after 3 attempts` -> `timed out`, also inside `robots.txt
    unavailable (timed out after 3 attempts); try later`) and without the line
    number of a bad line of the URL file (`line 7: not an http(s) URL` -> `not an
    http(s) URL`)."""
    return _RETRY_TAIL.sub("", _LINE_NUMBER.sub("", reason))


def slowed_fields(site: tuple) -> dict[str, Any]:
    """One site slowed down (a `crawler.frontier.politeness.Slowed`) as `slowed` shows it."""
    _, answers_429, answers_503, paused, in_flight, rate, given_up = site
    return {
        "429": answers_429,
        "503": answers_503,
        "paused": round(paused, 2),
        "in_flight": in_flight,
        "rate": None if rate is None else round(rate, 2),
        "given_up": given_up,
    }


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
    slowed: dict[str, dict[str, Any]] | None = None  # per site that answered 429 or 503

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
            slowed={site[0]: slowed_fields(site) for site in stats.slowed} or None,
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
        if self.slowed:
            report["slowed"] = {site: dict(fields) for site, fields in self.slowed.items()}
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
        answers = gauge("crawl_last_run_slowed_answers", ("site", "status"))
        paused = gauge("crawl_last_run_slowed_paused_seconds", ("site",))
        in_flight = gauge("crawl_last_run_slowed_in_flight", ("site",))
        rate = gauge("crawl_last_run_slowed_rate", ("site",))
        for site, fields in (self.slowed or {}).items():
            for status in ("429", "503"):
                answers.labels(site=site, status=status).set(fields[status])
            paused.labels(site=site).set(fields["paused"])
            in_flight.labels(site=site).set(fields["in_flight"])
            if fields["rate"] is not None:
                rate.labels(site=site).set(fields["rate"])
        return registry
