"""`--stats` and `--metrics` as a monitor reads them, after real runs against the test
server on 127.0.0.1: one that finished, one stopped by SIGTERM, one that stopped on
a full disk. The metrics file is read with prometheus_client's own parser."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from crawler import __version__
from tests import server as test_server
from tests.conftest import run_crawl, start_crawl, write_urls
from tests.stress_util import count_kind, run_lines, wait_for
from tests.test_disk import run_and_watch, tmpfs
from tests.test_run_report import KEYS

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def read_stats(path: Path) -> dict:
    value = json.loads(path.read_text(encoding="utf-8"))
    keys = [key for key in value if key != "slowed"]  # sites that said slow down, last
    assert keys in (KEYS, [*KEYS, "cache", "evicted"])  # the cache's without --no-cache
    assert "slowed" not in value or list(value)[-1] == "slowed"
    assert ISO_UTC.fullmatch(value["started"]) and ISO_UTC.fullmatch(value["ended"])
    assert value["started"] <= value["ended"]
    assert value["version"] == __version__
    return value


def read_metrics(path: Path) -> dict[str, dict[tuple, float]]:
    """name -> {sorted label items: value}; every gauge has its HELP text."""
    read: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        assert family.type == "gauge" and family.documentation, family.name
        read[family.name] = {
            tuple(sorted(sample.labels.items())): sample.value for sample in family.samples
        }
    return read


def end_fields(db: Path) -> dict[str, str]:
    (run,) = run_lines(db).values()
    return dict(field.split("=", 1) for field in run[-1].split()[2:])


def assert_no_temporary_files(folder: Path, *kept: str) -> None:
    assert sorted(path.name for path in folder.iterdir()) == sorted(kept)


def test_a_finished_run(server: test_server.TestServer, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    stats, metrics = reports / "crawl.json", reports / "crawl.prom"
    stats.write_text("the last run's report\n")  # replaced, not appended to
    urls = write_urls(
        tmp_path / "urls.txt",
        server.url("/page/a"),
        server.url("/page/b"),
        f"{server.url('/board')}  board",
        server.url("/status/404"),
        server.url("/status/410"),
        server.url("/status/503"),
        "not a url",
    )
    db = tmp_path / "db.txt"
    before = time.time()
    result = run_crawl(
        str(urls),
        *("--output", str(db), "--stats", str(stats), "--metrics", str(metrics)),
        *("--workers", "2", "--retries", "1"),
    )
    assert result.returncode == 1, result.stderr

    value = read_stats(stats)
    (run_id,) = run_lines(db)
    assert value["run"] == run_id
    assert (value["status"], value["exit"]) == ("finished", 1)
    assert (value["ok"], value["failed"], value["retried"]) == (3, 4, 1)
    assert value["errors"] == {
        "HTTP 404": 1,
        "HTTP 410": 1,
        "HTTP 503": 1,  # `after 2 attempts` in its error: line
        "expected a URL and at most one list of parsers": 1,  # `line 7: ` in its line
    }
    assert sum(value["errors"].values()) == value["failed"] == count_kind(db, "error")
    slowed = value["slowed"][server.base]  # its 503, twice: the site was slowed down
    assert (slowed["429"], slowed["503"], slowed["given_up"]) == (0, 2, False)
    # The report and the end line agree.
    end = end_fields(db)
    for key in ("ok", "failed", "retried", "bytes", "unchanged", "saved"):
        assert str(value[key]) == end[key], key
    assert f"{value['seconds']:.2f}" == end["seconds"]

    gauges = read_metrics(metrics)
    assert gauges["crawl_last_run_exit_code"] == {(): 1}
    (ended,) = gauges["crawl_last_run_end_timestamp_seconds"].values()
    assert before <= ended <= time.time()
    assert gauges["crawl_last_run_duration_seconds"] == {(): value["seconds"]}
    assert gauges["crawl_last_run_pages"] == {
        (("outcome", "ok"),): 3,
        (("outcome", "failed"),): 4,
        (("outcome", "unchanged"),): 0,
    }
    assert gauges["crawl_last_run_bytes"] == {(): value["bytes"]} and value["bytes"] > 0
    assert gauges["crawl_last_run_errors"] == {
        (("reason", reason),): count for reason, count in value["errors"].items()
    }
    assert_no_temporary_files(reports, "crawl.json", "crawl.prom")


def test_the_cache_s_pages_are_counted_unchanged(
    server: test_server.TestServer, tmp_path: Path
) -> None:
    urls = write_urls(tmp_path / "urls.txt", server.url("/etag/a"), server.url("/etag/b"))
    db, stats, metrics = tmp_path / "db.txt", tmp_path / "s.json", tmp_path / "m.prom"
    args = (str(urls), "--output", str(db), "--stats", str(stats), "--metrics", str(metrics))
    assert run_crawl(*args).returncode == 0
    assert run_crawl(*args).returncode == 0  # the same pages again: 304s
    value = read_stats(stats)
    assert (value["ok"], value["unchanged"], value["exit"]) == (2, 2, 0)
    assert value["saved"] > 0 and value["errors"] == {}
    assert read_metrics(metrics)["crawl_last_run_pages"][(("outcome", "unchanged"),)] == 2


def test_a_sigterm_d_run(server: test_server.TestServer, tmp_path: Path) -> None:
    urls = [server.url(f"/page/{n}") for n in range(3)]
    urls += [server.url(f"/hang?n={n}") for n in range(4)]
    db, stats, metrics = tmp_path / "db.txt", tmp_path / "s.json", tmp_path / "m.prom"
    crawl = start_crawl(
        str(write_urls(tmp_path / "urls.txt", *urls)),
        *("--output", str(db), "--stats", str(stats), "--metrics", str(metrics)),
        *("--workers", "2", "--timeout", "60"),
    )
    busy = wait_for(lambda: count_kind(db, "url") == 3 and server.count("/hang") >= 2, 30)
    if not busy:
        crawl.kill()
        pytest.fail(f"the run never got busy: {crawl.communicate(timeout=10)}")
    assert not stats.exists() and not metrics.exists()  # written as the run ends
    crawl.send_signal(signal.SIGTERM)
    _, stderr = crawl.communicate(timeout=30)
    assert crawl.returncode == 143, stderr

    value = read_stats(stats)
    assert (value["status"], value["exit"], value["ok"]) == ("interrupted", 143, 3)
    assert value["failed"] == 0 and value["errors"] == {}
    gauges = read_metrics(metrics)
    assert gauges["crawl_last_run_exit_code"] == {(): 143}
    assert gauges["crawl_last_run_pages"][(("outcome", "ok"),)] == 3


def test_a_run_on_a_full_disk(server: test_server.TestServer, tmp_path: Path) -> None:
    """The output's disk fills up mid-run; the reports, on another disk, say so."""
    stats, metrics = tmp_path / "s.json", tmp_path / "m.prom"
    with tmpfs(tmp_path / "disk", "size=64k") as disk:
        (disk / "filler").write_bytes(b"f" * (52 * 1024))  # room for a few pages of db.txt
        db = disk / "db.txt"
        urls = write_urls(tmp_path / "urls.txt", *(server.url(f"/page/{n}") for n in range(300)))
        result, _ = run_and_watch(
            str(urls),
            *("--output", str(db), "--stats", str(stats), "--metrics", str(metrics)),
            *("--workers", "2", "--no-cache"),
        )
        assert result.returncode == 2, result.stderr
        assert "No space left on device" in result.stderr
        written = count_kind(db, "url")
        assert 0 < written < 300 and server.count("/page/299") == 0  # stopped mid-run
    value = read_stats(stats)
    assert (value["status"], value["exit"]) == ("output-error", 2)
    assert value["ok"] == written  # what made it into db.txt, no more
    assert read_metrics(metrics)["crawl_last_run_exit_code"] == {(): 2}


def test_an_output_that_cannot_be_opened_is_reported_too(
    server: test_server.TestServer, tmp_path: Path
) -> None:
    db = tmp_path / "db.txt"
    db.symlink_to("/dev/full")
    stats = tmp_path / "s.json"
    urls = write_urls(tmp_path / "urls.txt", server.url("/page/a"))
    result = run_crawl(str(urls), "--output", str(db), "--stats", str(stats))
    assert result.returncode == 2, result.stderr
    value = read_stats(stats)
    assert (value["status"], value["exit"], value["ok"], value["failed"]) == (
        "output-error",
        2,
        0,
        0,
    )


def test_both_from_the_config_file(server: test_server.TestServer, tmp_path: Path) -> None:
    """Relative paths in the file are the file's folder's, wherever cron starts."""
    folder = tmp_path / "job"
    folder.mkdir()
    write_urls(folder / "urls.txt", server.url("/page/a"))
    (folder / "crawl.toml").write_text(
        'urls_file = "urls.txt"\noutput = "out/db.txt"\n'
        'stats = "out/stats.json"\nmetrics = "textfile/crawl.prom"\n',
        encoding="utf-8",
    )
    result = run_crawl("--config", str(folder / "crawl.toml"))
    assert result.returncode == 0, result.stderr
    assert read_stats(folder / "out" / "stats.json")["ok"] == 1
    assert read_metrics(folder / "textfile" / "crawl.prom")["crawl_last_run_exit_code"] == {(): 0}


def test_a_report_that_cannot_be_written_is_one_line_and_the_exit_stays(
    server: test_server.TestServer, tmp_path: Path
) -> None:
    (tmp_path / "a-folder").mkdir()
    urls = write_urls(tmp_path / "urls.txt", server.url("/page/a"))
    metrics = tmp_path / "m.prom"
    result = run_crawl(
        *(str(urls), "--output", str(tmp_path / "db.txt")),
        *("--stats", str(tmp_path / "a-folder"), "--metrics", str(metrics)),
    )
    assert result.returncode == 0, result.stderr
    assert f"crawl: cannot write --stats {tmp_path / 'a-folder'}: " in result.stderr
    assert "Traceback" not in result.stderr
    assert read_metrics(metrics)["crawl_last_run_exit_code"] == {(): 0}
    assert sorted(path.name for path in (tmp_path / "a-folder").iterdir()) == []


def test_a_reader_never_sees_half_a_report(server: test_server.TestServer, tmp_path: Path) -> None:
    """While runs replace the file, every read of it is a whole report."""
    stats = tmp_path / "s.json"
    urls = write_urls(tmp_path / "urls.txt", server.url("/page/a"))
    args = (str(urls), "--output", str(tmp_path / "db.txt"), "--stats", str(stats))
    assert run_crawl(*args).returncode == 0
    runs = {read_stats(stats)["run"]}
    crawl = start_crawl(*args)
    while crawl.poll() is None:
        runs.add(read_stats(stats)["run"])  # parses whole, or this fails
        time.sleep(0.002)  # not a wait: leaves the two cores to the run being watched
    crawl.communicate(timeout=30)
    runs.add(read_stats(stats)["run"])
    assert len(runs) == 2
    assert_no_temporary_files(
        tmp_path,
        "db.txt",
        "db.txt.lock",
        "s.json",
        "urls.txt",
        *[path.name for path in tmp_path.glob("http-cache.sqlite*")],
    )
