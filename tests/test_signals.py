"""Signals mid-run: SIGINT, SIGTERM and SIGHUP stop a run within seconds and keep what
finished; `kill -9` of the main process leaves a readable file, no worker behind, a
free lock, and a next run that starts on a fresh line."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pipelines.run_lock import RunLock
from tests import server as test_server
from tests.conftest import ROOT, crawl_command, crawl_env, run_crawl, start_crawl, write_urls
from tests.stress_util import LINE, count_kind, db_lines, descendants, gone, run_lines, wait_for

FAST = 4
HANGING = 6


def start_busy_run(server: test_server.TestServer, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A run that has written its fast pages and has workers stuck on /hang."""
    urls = [server.url(f"/page/{n}") for n in range(FAST)]
    urls += [server.url(f"/hang?n={n}") for n in range(HANGING)]
    db = tmp_path / "db.txt"
    crawl = start_crawl(
        str(write_urls(tmp_path / "urls.txt", *urls)),
        "--output",
        str(db),
        "--workers",
        "2",
        "--timeout",
        "60",
    )
    busy = wait_for(lambda: count_kind(db, "url") == FAST and server.count("/hang") >= 2, 30)
    if not busy:
        crawl.kill()
        pytest.fail(f"the run never got busy: {crawl.communicate(timeout=10)}")
    return crawl, db


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 143)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_a_signal_stops_the_run_and_keeps_what_finished(
    server: test_server.TestServer, tmp_path: Path, signum: int, status: int
) -> None:
    crawl, db = start_busy_run(server, tmp_path)
    workers = descendants(crawl.pid)
    assert workers, "the pool has worker processes"
    sent = time.monotonic()
    crawl.send_signal(signum)
    _, stderr = crawl.communicate(timeout=30)
    took = time.monotonic() - sent

    assert crawl.returncode == status, stderr
    assert took < 10, f"stopped {took:.1f} s after the signal"
    assert wait_for(lambda: all(gone(worker) for worker in workers), 10), "workers left behind"
    assert count_kind(db, "url") == FAST  # the finished pages are kept
    (run,) = run_lines(db).values()
    assert run[-1].split()[1:3] == ["end", "status=interrupted"]
    assert all(LINE.match(line) for line in db_lines(db))
    assert f"interrupted by {signal.Signals(signum).name}" in stderr
    assert "Traceback" not in stderr


def test_kill_9_of_the_main_process_leaves_a_clean_slate(
    server: test_server.TestServer, tmp_path: Path
) -> None:
    crawl, db = start_busy_run(server, tmp_path)
    workers = descendants(crawl.pid)
    assert workers
    crawl.kill()  # SIGKILL: no handler, no clean-up
    crawl.communicate(timeout=10)

    # The workers notice their parent is gone and exit on their own.
    assert wait_for(lambda: all(gone(worker) for worker in workers), 15), [
        worker.pid for worker in workers if not gone(worker)
    ]
    # The kernel released the lock with the process.
    lock = RunLock(db)
    lock.acquire()
    lock.release()
    # Every line so far is whole.
    assert all(LINE.match(line) for line in db_lines(db))
    assert count_kind(db, "url") == FAST

    # As if the kill had landed mid-write: a torn last line.
    with db.open("ab") as out:
        out.write(b"url:<http://127.0.0.1/torn> size:[12")
    urls = write_urls(tmp_path / "again.txt", server.url("/page/again"))
    result = run_crawl(str(urls), "--output", str(db), "--workers", "1")
    assert result.returncode == 0, result.stderr

    lines = db_lines(db)
    torn = lines.index("url:<http://127.0.0.1/torn> size:[12")
    assert lines[torn + 1].startswith("run:") and " start " in lines[torn + 1]
    runs = run_lines(db)
    assert len(runs) == 2
    killed, finished = runs.values()
    assert [line.split()[1] for line in killed] == ["start"]  # no end line: did not finish
    assert [line.split()[1] for line in finished] == ["start", "end"]
    assert finished[-1].split()[2] == "status=finished"
    again = f"url:<{server.url('/page/again')}> size:[{len_of('again')}]"
    assert again in lines


def len_of(name: str) -> int:
    return len(test_server.page_text(name))


@pytest.mark.skipif(not hasattr(os, "getpgid"), reason="POSIX only")
def test_kill_9_of_the_main_process_under_forkserver_also_frees_the_workers(
    server: test_server.TestServer, tmp_path: Path
) -> None:
    urls = [server.url(f"/hang?n={n}") for n in range(3)]
    db = tmp_path / "db.txt"
    crawl = start_crawl(
        str(write_urls(tmp_path / "urls.txt", *urls)),
        "--output",
        str(db),
        "--workers",
        "2",
        "--start-method",
        "forkserver",
    )
    assert wait_for(lambda: server.count("/hang") >= 2, 30)
    helpers = descendants(crawl.pid)
    crawl.kill()
    crawl.communicate(timeout=10)
    assert wait_for(lambda: all(gone(process) for process in helpers), 15), [
        process.pid for process in helpers if not gone(process)
    ]


def test_a_terminal_that_went_away_changes_nothing(
    server: test_server.TestServer, tmp_path: Path
) -> None:
    """stderr whose reader is gone (a closed ssh session without SIGHUP, `| head`):
    every write to it fails, and the run still does all its work and exits 0."""
    urls = write_urls(tmp_path / "urls.txt", *(server.url(f"/page/{n}") for n in range(10)))
    db = tmp_path / "db.txt"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        crawl = subprocess.Popen(
            [*crawl_command(str(urls), "--output", str(db), "-v", "--progress")],
            stderr=write_end,
            env=crawl_env(),
            cwd=ROOT,
        )
    finally:
        os.close(write_end)
    assert crawl.wait(60) == 0
    assert count_kind(db, "url") == 10
    (run,) = run_lines(db).values()
    assert run[-1].split()[1:3] == ["end", "status=finished"]
