"""A URL with `user:password@` never shows its password: not in db.txt, not on the
terminal, whether the URL is fetched, fails, or is not a URL at all."""

from __future__ import annotations

from pathlib import Path

from tests import server as test_server
from tests.conftest import run_crawl, write_urls


def test_passwords_never_shown(server: test_server.TestServer, tmp_path: Path) -> None:
    port = server.httpd.server_port
    lines = [
        f"http://user:Secret1@127.0.0.1:{port}/page/cred",
        f"http://user:Secret1@127.0.0.1:{port}/page/cred",  # a duplicate
        f"http://user:Secret2@127.0.0.1:{port}/status/404",
        f"http://user:Secret3@127.0.0.1:{port}/redirect/2",
        f"http://user:Secret%40enc@127.0.0.1:{port}/page/enc",
        f"https://user:Secret4@127.0.0.1:{port}/page/tls",  # not TLS: fails
        "http://user:Secret5@127.0.0.1:1/refused",
        "http://user:Secret6@[::1]:1/v6",
        "http://user:Se/cret7@127.0.0.1/bad-port",
        "http:/user:Secret8@127.0.0.1/one-slash",
        "user:Secret9@127.0.0.1/no-scheme",
        "ftp://user:Secret10@127.0.0.1/ftp",
        f"http://user:Secret11@127.0.0.1:{port}/page/x  nosuchparser",
        f"http://user:Secret12@127.0.0.1:{port}/page/x extra fields",
    ]
    db = tmp_path / "db.txt"
    urls = write_urls(tmp_path / "urls.txt", *lines)
    result = run_crawl(str(urls), "--output", str(db), "-v", "--retries", "0", "--timeout", "5")
    assert result.returncode == 1, result.stderr
    shown = db.read_text(encoding="utf-8") + result.stdout + result.stderr
    assert "Secret" not in shown and "cret" not in shown, shown
    assert f"url:<http://127.0.0.1:{port}/page/cred> size:" in shown
    assert "Traceback" not in result.stderr
