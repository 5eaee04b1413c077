from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import TestServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def linker() -> Iterator[None]:
    """A parser `linker` that makes one record and returns one link,
    http://a.test/from-parser (as a plugin may), installed for the test."""
    from pipelines.parsers import Output, Parser, Registry, active, install

    def parse(page) -> Output:
        return Output([{"found": "yes"}], ["http://a.test/from-parser"])

    before = active()
    install(Registry([*(before.get(name) for name in before), Parser("linker", "test", parse)]))
    yield
    install(before)


@pytest.fixture
def server() -> Iterator[TestServer]:
    server = TestServer().start()
    yield server
    server.stop()


@pytest.fixture
def serve() -> Iterator:
    """Start TestServers (HTTPS with `tls=`, another loopback address with `host=`);
    all are stopped after the test."""
    started: list[TestServer] = []

    def start(**options) -> TestServer:
        started.append(TestServer(**options).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


def crawl_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler", *args]


def crawl_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_crawl(
    *args: str, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """Run the real `crawl` command and wait for it (bounded)."""
    return subprocess.run(
        crawl_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        env=crawl_env(),
        cwd=ROOT,
    )


def start_crawl(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        crawl_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=crawl_env(),
        cwd=ROOT,
    )


def exit_status(args: list[str]) -> int:
    """What `crawl ARGS` exits with, run in this process (argparse's exits included)."""
    from crawler.cli import main

    try:
        return main(args)
    except SystemExit as exit:
        return int(exit.code or 0)


def write_urls(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def records(db: Path, kind: str | None = None) -> list[str]:
    lines = db.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if kind is None or line.startswith(kind + ":")]
