"""The real `crawl` command (a subprocess) against HTTPS servers on 127.0.0.1 with
certificates the test makes, and a closed port: the exact db.txt lines, the exit
status, and --ca-bundle from the command line and from --config."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certs import self_signed
from tests.conftest import records, run_crawl, write_urls
from tests.server import TestServer, page_text


@pytest.fixture
def internal(tmp_path: Path) -> Iterator[tuple[TestServer, Path]]:
    """An internal site: HTTPS with a self-signed certificate, and its PEM file."""
    context, pem = self_signed(tmp_path)
    server = TestServer(tls=context).start()
    yield server, pem
    server.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch_records(db: Path) -> list[str]:
    return [line for line in records(db) if not line.startswith("run:")]


def test_failures_say_what_to_fix(internal: tuple[TestServer, Path], tmp_path: Path) -> None:
    server, _ = internal
    site, closed = server.url("/page/a"), f"http://127.0.0.1:{closed_port()}/"
    urls = write_urls(tmp_path / "urls.txt", site, closed)
    db = tmp_path / "db.txt"
    done = run_crawl(str(urls), "--output", str(db), "--retries", "0", "-q", "--ignore-robots")
    assert done.returncode == 1, done.stderr
    assert sorted(fetch_records(db)) == sorted(
        [
            f"error:<{site}> TLS: certificate verify failed: self-signed certificate",
            f"error:<{closed}> connection refused after 1 attempt",
        ]
    )
    assert server.request_count() == 0


def test_ca_bundle_trusts_the_internal_site(
    internal: tuple[TestServer, Path], tmp_path: Path
) -> None:
    server, pem = internal
    site = server.url("/page/a")
    urls = write_urls(tmp_path / "urls.txt", site)
    db = tmp_path / "db.txt"
    done = run_crawl(str(urls), "--output", str(db), "--ca-bundle", str(pem), "-q")
    assert done.returncode == 0, done.stderr
    assert fetch_records(db) == [f"url:<{site}> size:[{len(page_text('a'))}]"]


def test_ca_bundle_from_config_is_relative_to_the_file(
    internal: tuple[TestServer, Path], tmp_path: Path
) -> None:
    server, pem = internal
    site = server.url("/page/a")
    write_urls(tmp_path / "urls.txt", site)
    config = tmp_path / "crawl.toml"
    config.write_text(f'urls_file = "urls.txt"\noutput = "db.txt"\nca-bundle = "{pem.name}"\n')
    done = run_crawl("--config", str(config), "-q")
    assert done.returncode == 0, done.stderr
    assert fetch_records(tmp_path / "db.txt") == [f"url:<{site}> size:[{len(page_text('a'))}]"]


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_an_unusable_ca_bundle_exits_2_before_fetching(tmp_path: Path, content: str | None) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_text(content)
    urls = write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/")
    done = run_crawl(str(urls), "--output", str(tmp_path / "db.txt"), "--ca-bundle", str(bundle))
    assert done.returncode == 2
    assert f"--ca-bundle: {bundle}: " in done.stderr
    assert not (tmp_path / "db.txt").exists()
