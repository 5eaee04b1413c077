"""The README's five-minute tour, run as a reader runs it: its shell blocks, in order,
in one folder, against the demo pages served by `python -m http.server` on 127.0.0.1,
with `crawl` on the PATH. What each block printed must hold the lines the README shows
after it (run ids, timings, the pid and the version aside), so the tour stays true."""

from __future__ import annotations

import os
import re
import shlex
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

TOUR_PORT = "8000"  # the port the README's tour names; the test serves on a free one
SERVER_LINE = "python -m http.server 8000 --bind 127.0.0.1 --directory crawler/demo_site &"


def tour_blocks() -> list[tuple[str, str, str]]:
    """The tour's fenced blocks in order: (language, text, the output block after it)."""
    readme = (ROOT / "README.md").read_text("utf-8")
    tour = readme.split("[start:tour]", 1)[1].split("[end:tour]", 1)[0]
    fences = re.findall(r"^```(\w*)\n(.*?)^```$", tour, re.MULTILINE | re.DOTALL)
    blocks = []
    for at, (language, text) in enumerate(fences):
        if language in ("sh", "crontab"):
            after = fences[at + 1] if at + 1 < len(fences) else ("", "")
            blocks.append((language, text, after[1] if after[0] == "" else ""))
    return blocks


def masked(line: str, port: str) -> str:
    """A line with what differs from run to run masked: run ids, the pid, the version,
    timings and rates, the cache file's size, the time per-host limits held workers."""
    line = line.replace(f"127.0.0.1:{port}", "127.0.0.1:PORT")
    line = line.replace(f"127.0.0.1:{TOUR_PORT}", "127.0.0.1:PORT")
    line = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "RUN", line)
    line = re.sub(r"\b(pid|version)=\S+", r"\1=X", line)
    line = re.sub(r"\bseconds=[\d.]+", "seconds=T", line)
    line = re.sub(r"; per-host limits held workers back [\d.]+ s", "", line)  # a busy machine
    line = re.sub(r"\bin [\d.]+ s \([\d.]+ pages/s\)", "in T s (T pages/s)", line)
    return re.sub(r"\b(cache[= ])\d+", r"\1N", line)


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def wait_for_port(port: str, within: float = 10.0) -> None:
    give_up = time.monotonic() + within
    while time.monotonic() < give_up:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", int(port))) == 0:
                return
        time.sleep(0.02)
    raise AssertionError(f"the tour's web server did not listen on {port}")


@pytest.fixture
def reader(tmp_path: Path) -> dict[str, str]:
    """A reader's shell environment: HOME in tmp_path, `crawl` on the PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    crawl = bin_dir / "crawl"
    crawl.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m crawler "$@"\n')
    crawl.chmod(crawl.stat().st_mode | stat.S_IXUSR)
    home = tmp_path / "home"
    home.mkdir()
    return {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def test_the_readme_tour_prints_what_the_readme_shows(reader: dict[str, str]) -> None:
    blocks = tour_blocks()
    first = blocks[0][1].splitlines()
    assert first[0] == SERVER_LINE
    port = free_port()
    server = subprocess.Popen(
        shlex.split(SERVER_LINE.rstrip(" &").replace(TOUR_PORT, port)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        where = ROOT  # a reader starts in the checkout; the first block moves on
        script = "\n".join([*first[1:], "pwd"])
        done = subprocess.run(["bash", "-c", script], cwd=where, env=reader, text=True,
                              capture_output=True, timeout=20, check=True)  # fmt: skip
        where = Path(done.stdout.splitlines()[-1])
        assert where == Path(reader["HOME"]) / "crawl-tour"
        for language, text, shown in blocks[1:]:
            if language == "crontab":
                run_cron_line(text, where, reader)
                continue
            done = subprocess.run(
                ["bash", "-c", text.replace(TOUR_PORT, port)],
                cwd=where,
                env=reader,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=60,
            )
            printed = {masked(line, port) for line in done.stdout.splitlines()}
            for line in shown.splitlines():
                assert masked(line, port) in printed, (line, done.stdout)
            if text.strip() == "crawl urls.txt --workers 3":
                assert done.returncode == 1  # the tour says: finished, some URLs failed
            else:
                assert done.returncode in (0, 1), done.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)


def run_cron_line(line: str, where: Path, env: dict[str, str]) -> None:
    """The crontab line's command, as cron would run it, in the tour's folder: the
    checkout's `crawl` for the virtualenv's, `cat` for `mail`."""
    fields = line.strip().split(None, 5)
    assert len(fields) == 6 and fields[:5] == ["7", "*", "*", "*", "*"], line
    command = fields[5].replace("cd /srv/crawl", f"cd {shlex.quote(str(where))}")
    command = command.replace(".venv/bin/crawl", "crawl")
    command = re.sub(r"mail -s \"[^\"]*\" \S+", "cat", command)
    done = subprocess.run(["sh", "-c", command], env=env, text=True, capture_output=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr  # the last `crawl diff` of the pipeline
    log = (where / "output" / "crawl.log").read_text("utf-8")
    assert "crawl: 3 ok, 1 failed" in log


def test_crawl_demo_prints_what_the_readme_shows(reader: dict[str, str], tmp_path: Path) -> None:
    """The README's `crawl --demo` output, but for where the output is, the port, and
    the number of workers (the machine's CPUs)."""
    readme = (ROOT / "README.md").read_text("utf-8")
    shown = readme.split("prints the lines it wrote:\n\n```\n", 1)[1].split("```", 1)[0]
    done = subprocess.run([sys.executable, "-m", "crawler", "--demo"], cwd=tmp_path, env=reader,
                          text=True, capture_output=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr

    def demo_masked(line: str) -> str:
        line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line)
        line = re.sub(r"^Output: \S+ ", "Output: DB ", line)
        return masked(re.sub(r"\bworkers=\d+", "workers=N", line), "")

    printed = {demo_masked(line) for line in done.stdout.splitlines()}
    for line in shown.splitlines():
        if line.strip() != "...":
            assert demo_masked(line) in printed, line
