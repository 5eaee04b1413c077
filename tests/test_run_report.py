"""The run's report for a monitor (crawler.run_report): the kind of each failure,
the `--stats` object, and the Prometheus gauges, read back with prometheus_client's
own parser."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from crawler.report import Stats
from crawler.run_report import GAUGES, RunReport, error_kind, iso_utc

KEYS = [
    "run",
    "version",
    "status",
    "exit",
    "started",
    "ended",
    "seconds",
    "ok",
    "failed",
    "retried",
    "bytes",
    "unchanged",
    "saved",
    "errors",
]


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("HTTP 404", "HTTP 404"),
        ("timed out after 3 attempts", "timed out"),
        ("connection refused after 1 attempt", "connection refused"),
        ("HTTP 503 after 12 attempts", "HTTP 503"),
        ("line 7: not an http(s) URL", "not an http(s) URL"),
        ("line 12: unknown parser nope", "unknown parser nope"),
        (
            "robots.txt unavailable (timed out after 3 attempts); try later",
            "robots.txt unavailable (timed out); try later",
        ),
        ("TLS: certificate verify failed: self-signed certificate", None),
        ("larger than 10485760 bytes", None),
        ("too many redirects (10)", None),
        ("board: no entries found", None),
        ("worker lost (no answer in time)", None),
        ("HTTP 404 afterwards", None),  # only a retry count is taken off
    ],
)
def test_the_kind_of_a_failure(reason: str, kind: str | None) -> None:
    assert error_kind(reason) == (reason if kind is None else kind)


def test_iso_utc() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
    assert iso_utc(1796160989.9) == "2026-12-01T21:36:29Z"


def ended_stats() -> Stats:
    stats = Stats(ok=95, failed=5, retried=2, bytes=812345, unchanged=60, saved=2301234)
    stats.errors = Counter({"timed out": 1, "HTTP 404": 3, "connection refused": 1})
    stats.started, stats.started_at = time.monotonic() - 43.714, 1796160946.0
    stats.finish()
    return stats


def test_the_stats_object_has_the_keys_in_order() -> None:
    report = RunReport.of("20261201T192957Z-5865b6", "0.2.0", "finished", 1, ended_stats())
    value = report.as_json()
    assert list(value) == KEYS
    assert value["run"] == "20261201T192957Z-5865b6"
    assert value["status"] == "finished" and value["exit"] == 1
    assert value["started"] == "2026-12-01T21:35:46Z"
    assert value["ended"].endswith("Z")
    assert 43.7 <= value["seconds"] < 45
    assert (value["ok"], value["failed"], value["retried"]) == (95, 5, 2)
    assert (value["bytes"], value["unchanged"], value["saved"]) == (812345, 60, 2301234)
    # Most frequent first, ties by name: the same file for the same run.
    assert list(value["errors"].items()) == [
        ("HTTP 404", 3),
        ("connection refused", 1),
        ("timed out", 1),
    ]
    assert json.loads(json.dumps(value)) == value


def test_a_status_outside_the_three_is_refused() -> None:
    with pytest.raises(ValueError, match="failed"):
        RunReport.of("r", "0.2.0", "failed", 2, ended_stats())


def test_seconds_stop_growing_when_the_run_ends() -> None:
    stats = Stats()
    stats.finish()
    first = stats.seconds
    ended_at = stats.ended_at
    stats.finish()  # a second call changes nothing
    assert stats.seconds == first and stats.ended_at == ended_at
    assert stats.ended_at >= stats.started_at


def families(report: RunReport) -> dict:
    text = generate_latest(report.registry()).decode("utf-8")
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_the_gauges_read_back_through_prometheus_client() -> None:
    stats = ended_stats()
    stats.errors['say "no"\\\n'] = 1  # quotes, a backslash, a line break: escaped
    report = RunReport.of("r", "0.2.0", "finished", 1, stats)
    read = families(report)
    assert set(read) == set(GAUGES)
    for name, family in read.items():
        assert family.type == "gauge"
        assert family.documentation == GAUGES[name] and family.documentation

    def samples(name: str) -> dict:
        return {tuple(sorted(s.labels.items())): s.value for s in read[name].samples}

    assert samples("crawl_last_run_end_timestamp_seconds") == {(): stats.ended_at}
    assert samples("crawl_last_run_duration_seconds") == {(): report.seconds}
    assert samples("crawl_last_run_exit_code") == {(): 1}
    assert samples("crawl_last_run_pages") == {
        (("outcome", "ok"),): 95,
        (("outcome", "failed"),): 5,
        (("outcome", "unchanged"),): 60,
    }
    assert samples("crawl_last_run_bytes") == {(): 812345}
    assert samples("crawl_last_run_errors") == {
        (("reason", "HTTP 404"),): 3,
        (("reason", "connection refused"),): 1,
        (("reason", "timed out"),): 1,
        (("reason", 'say "no"\\\n'),): 1,
    }


def test_a_run_without_failures_has_the_errors_gauge_and_no_sample() -> None:
    report = RunReport.of("r", "0.2.0", "interrupted", 143, Stats())
    read = families(report)
    assert read["crawl_last_run_errors"].samples == []
    assert read["crawl_last_run_exit_code"].samples[0].value == 143


def test_the_sites_slowed_down_in_both_reports() -> None:
    from crawler.frontier.politeness import Slowed

    stats = ended_stats()
    stats.slowed = [
        Slowed("http://a", 3, 1, 2.5, 2, 18.456, False),
        Slowed("http://b", 1, 0, 0.0, 1, None, True),
    ]
    report = RunReport.of("r", "0.2.0", "finished", 1, stats)
    assert report.as_json()["slowed"] == {
        "http://a": {"429": 3, "503": 1, "paused": 2.5, "in_flight": 2, "rate": 18.46,
                     "given_up": False},
        "http://b": {"429": 1, "503": 0, "paused": 0.0, "in_flight": 1, "rate": None,
                     "given_up": True},
    }  # fmt: skip
    read = families(report)

    def samples(name: str) -> dict:
        return {tuple(sorted(s.labels.items())): s.value for s in read[name].samples}

    assert samples("crawl_last_run_slowed_answers")[(("site", "http://a"), ("status", "503"))] == 1
    assert samples("crawl_last_run_slowed_paused_seconds") == {
        (("site", "http://a"),): 2.5,
        (("site", "http://b"),): 0.0,
    }
    assert samples("crawl_last_run_slowed_rate") == {(("site", "http://a"),): 18.46}
    assert (
        "slowed down: http://a (3 x 429, 1 x 503, paused 2.5 s, ended at 2 in flight, "
        "18.5/s), http://b (1 x 429, paused 0.0 s, given up)" in stats.summary()
    )


def test_no_site_slowed_no_key() -> None:
    assert "slowed" not in RunReport.of("r", "0.2.0", "finished", 0, ended_stats()).as_json()
