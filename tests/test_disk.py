"""The output's disk: full, tiny, read-only, or not a file at all. Each gets one clear
line naming the path, exit status 2, no traceback, no hang, and no worker left."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests import server as test_server
from tests.conftest import start_crawl, write_urls
from tests.stress_util import LINE, db_lines, descendants, gone

DEADLINE = 60


def run_and_watch(*args: str) -> tuple[subprocess.CompletedProcess, list[psutil.Process]]:
    """Run crawl, noting every worker it ever had, and wait (bounded) for it."""
    crawl = start_crawl(*args)
    seen: dict[int, psutil.Process] = {}
    give_up = time.monotonic() + DEADLINE
    while crawl.poll() is None and time.monotonic() < give_up:
        for process in descendants(crawl.pid):
            seen.setdefault(process.pid, process)
        time.sleep(0.05)
    stdout, stderr = crawl.communicate(timeout=10)
    done = subprocess.CompletedProcess(crawl.args, crawl.returncode, stdout, stderr)
    return done, list(seen.values())


def assert_unusable(result: subprocess.CompletedProcess, path: Path, workers: list) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(path) in result.stderr, result.stderr
    assert all(gone(worker) for worker in workers)


@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'mount failed'}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_output_on_dev_full(server: test_server.TestServer, tmp_path: Path) -> None:
    db = tmp_path / "db.txt"
    db.symlink_to("/dev/full")  # the lock file goes next to the link, not into /dev
    urls = write_urls(tmp_path / "urls.txt", server.url("/page/a"))
    result, workers = run_and_watch(str(urls), "--output", str(db))
    assert_unusable(result, db, workers)
    assert "No space left on device" in result.stderr
    assert server.count("/page/a") == 0  # nothing fetched for a file that cannot take it


def test_disk_filling_up_mid_run(server: test_server.TestServer, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "size=64k") as disk:
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as out:
            out.write(b"f" * (52 * 1024))  # room for the lock and two pages of db.txt
        db = disk / "db.txt"
        urls = [server.url("/board")] + [server.url(f"/page/{n}") for n in range(300)]
        urls_file = write_urls(tmp_path / "urls.txt", *(f"{url}  board" for url in urls[:1]))
        with urls_file.open("a") as more:
            more.writelines(url + "\n" for url in urls[1:])
        # No HTTP cache: it would live on the same tiny disk and take the room first.
        result, workers = run_and_watch(
            str(urls_file), "--output", str(db), "--workers", "2", "--no-cache"
        )
        assert_unusable(result, db, workers)
        assert "No space left on device" in result.stderr
        # The run stopped early, and what is in the file is whole lines only.
        assert server.count("/page/299") == 0
        lines = db_lines(db)
        assert lines and lines[0].startswith("run:")
        assert all(LINE.match(line) for line in lines), lines[-3:]
        assert db.read_bytes().endswith(b"\n")


def test_read_only_folder(server: test_server.TestServer, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        context = tmpfs(tmp_path / "ro", "ro,size=64k")
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        context = contextlib.nullcontext(tmp_path / "ro")
    with context as folder:
        db = folder / "db.txt"
        urls = write_urls(tmp_path / "urls.txt", server.url("/page/a"))
        result, workers = run_and_watch(str(urls), "--output", str(db))
        assert_unusable(result, db, workers)
        assert "Read-only file system" in result.stderr or "Permission denied" in result.stderr
        assert server.count("/page/a") == 0


@pytest.mark.parametrize("shape", ["a folder", "under a file"])
def test_output_path_that_is_not_a_file(
    server: test_server.TestServer, tmp_path: Path, shape: str
) -> None:
    (tmp_path / "plain").write_text("x")
    db = tmp_path / "folder" if shape == "a folder" else tmp_path / "plain" / "db.txt"
    if shape == "a folder":
        db.mkdir()
    urls = write_urls(tmp_path / "urls.txt", server.url("/page/a"))
    result, workers = run_and_watch(str(urls), "--output", str(db))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(db) in result.stderr or str(db.parent) in result.stderr, result.stderr
    assert all(gone(worker) for worker in workers)
