"""Secrets go only where they were given, and nowhere else: real crawls against
loopback sites (tests/secret_server.py) that demand a header, a token, a password
and cookies, with redirects and links to another port and to 127.0.0.2.

The big test searches every byte the run wrote (the output folder with the HTTP
cache and its -wal/-shm, --stats, --metrics, --rejected-log, the --warc archive
unzipped, temporary files,
`crawl export`, `crawl parse`, stdout and stderr) for each secret, as given,
base64-encoded and percent-encoded."""

from __future__ import annotations

import base64
import gzip
import os
import secrets
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.conftest import crawl_command, crawl_env, records, write_urls
from tests.secret_server import SecretSite


@pytest.fixture
def sites() -> Iterator:
    started: list[SecretSite] = []

    def start(host: str = "127.0.0.1") -> SecretSite:
        started.append(SecretSite(host).start())
        return started[-1]

    yield start
    for site in started:
        site.stop()


def crawl(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        crawl_command(*args),
        capture_output=True,
        text=True,
        timeout=120,
        env={**crawl_env(), **(env or {})},
        cwd=cwd,
    )


def secret(prefix: str) -> str:
    """A random secret with characters that base64 and percent-encoding change."""
    return f"{prefix}-{secrets.token_hex(8)}/+"


def forms(value: str) -> set[str]:
    """The ways a secret could be written down."""
    return {
        value,
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(value.encode()).decode(),
        base64.urlsafe_b64encode(value.encode()).decode(),
    }


@pytest.mark.parametrize("robots", ["obeyed", "ignored"])
def test_a_session_cookie_set_by_the_first_answer_reaches_every_worker(
    sites, tmp_path: Path, robots: str
) -> None:
    """The site sets `sid` on its first answer and refuses any request without it."""
    wall = sites()
    urls = write_urls(tmp_path / "urls.txt", *(wall.url(f"/wall/{n}") for n in range(40)))
    db = tmp_path / "db.txt"
    extra = ["--ignore-robots"] if robots == "ignored" else []
    result = crawl(str(urls), "--output", str(db), "--workers", "3", "--threads", "4", *extra)
    assert result.returncode == 0, result.stderr + "\n".join(records(db, "error"))
    assert len(records(db, "url")) == 40 and wall.refused == 0
    assert wall.session not in db.read_text() + result.stderr


def test_no_secret_goes_where_it_was_not_given_nor_is_written_anywhere(
    sites, tmp_path: Path
) -> None:
    home, port_b, other_b = sites(), sites(), sites("127.0.0.2")
    cli_header, file_header = secret("cli"), secret("hdr")
    token, site_cookie, file_cookie, password = (
        secret("tok"), secret("sck"), secret("fck"), secret("pw"),
    )  # fmt: skip
    basic = base64.b64encode(f"alice:{password}".encode()).decode()
    home.required = {
        "X-Cli": cli_header,
        "X-Secret": file_header,
        "X-Token": token,
        "Authorization": f"Basic {basic}",
    }
    home.cookies = {"sitecookie": site_cookie, "filecookie": file_cookie}
    home.robots = f"Sitemap: {other_b.url('/sitemap.xml')}\n"
    other_b.sitemap = [other_b.url("/page/c-mapped")]

    later = int(time.time()) + 3600
    (tmp_path / "cookies.txt").write_text(
        "# Netscape HTTP Cookie File\n"
        f"127.0.0.1\tFALSE\t/\tFALSE\t{later}\tfilecookie\t{file_cookie}\n"
    )
    config = tmp_path / "crawl.toml"
    config.write_text(
        'header = ["X-Secret: ${CRAWL_E2E_HEADER}"]\n'
        'cookies = "cookies.txt"\n'
        f'[sites."{home.base}"]\n'
        'headers = { X-Token = "${CRAWL_E2E_TOKEN}" }\n'
        'cookies = { sitecookie = "${CRAWL_E2E_COOKIE}" }\n'
        "[parsers.para.fields]\n"
        'text = "p::text"\n'
    )
    env = {"CRAWL_E2E_HEADER": file_header, "CRAWL_E2E_TOKEN": token,
           "CRAWL_E2E_COOKIE": site_cookie}  # fmt: skip
    login = f"http://alice:{quote(password, safe='')}@{home.base.split('//')[1]}"
    b, c = port_b.url, other_b.url
    start = (
        f"{login}/need/start?to={quote(b('/page/b-link'))}&to={quote(c('/page/c-link'))}"
        f"&to={quote(home.url('/need/inner'))}"
        f"&to={quote(home.url('/to?url=' + quote(b('/page/b-hop'))))}"
        f"&to={quote(home.url('/to?url=' + quote(c('/page/c-hop'))))}"
    )
    urls = write_urls(
        tmp_path / "urls.txt",
        start,
        f"{login}/to?url={quote(home.url('/need/after-hop'))}",  # same origin: carried
        f"{login}/to?url={quote(b('/page/b-listed-hop'))}",  # another port: not carried
        f"{login}/to?url={quote(c('/page/c-listed-hop'))}",  # another host: not carried
    )
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env["TMPDIR"] = str(tmp)
    reports = [
        "--stats", str(out / "stats.json"), "--metrics", str(out / "crawl.prom"),
        "--rejected-log", str(out / "rejected.txt"), "--warc", str(out / "archive"),
    ]  # fmt: skip
    result = crawl(
        str(urls), "--output", str(out / "db.txt"), "--config", str(config),
        "--header", f"X-Cli: {cli_header}", "--depth", "1", "--scope", "any",
        "--max-pages", "50", "--allow-private-network", "--sitemaps", "-v",
        "--workers", "2", "--threads", "2", *reports, env=env,
    )  # fmt: skip
    db = out / "db.txt"
    assert result.returncode == 0, result.stderr + "\n".join(records(db, "error"))
    written = db.read_text()
    for path in ("/need/start", "/need/inner"):  # exit 0: no 401, the secrets arrived
        assert f"url:<{home.url(path)}" in written
    assert "GET /need/after-hop" in home.everything_seen()
    for site, paths in ((port_b, ("b-link", "b-hop", "b-listed-hop")),
                        (other_b, ("c-link", "c-hop", "c-listed-hop", "c-mapped"))):  # fmt: skip
        seen = site.everything_seen()
        assert all(f"/page/{path}" in seen for path in paths), seen

    # What each other server saw: nothing bound to home; 127.0.0.2 not even home's cookies.
    bound = [cli_header, file_header, token, site_cookie, password, basic]
    for value in bound:
        for form in forms(value):
            assert form not in port_b.everything_seen()
    for value in [*bound, file_cookie, home.session]:
        for form in forms(value):
            assert form not in other_b.everything_seen()
    assert "Authorization" not in port_b.everything_seen() + other_b.everything_seen()

    # Then what reads the run back, and crawl parse with the same config.
    exported = crawl("export", str(db), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    del home.required["X-Cli"]  # a command-line header: not in the config crawl parse reads
    parsed = crawl("parse", "para", f"{login}/need/parse", "--config", str(config), env=env)
    assert parsed.returncode == 0, parsed.stderr + parsed.stdout
    assert f"para:<{home.url('/need/parse')}>" in parsed.stdout

    created = [path for path in [*out.rglob("*"), *tmp.rglob("*")] if path.is_file()]
    assert (out / "http-cache.sqlite") in created
    shown = [result.stdout, result.stderr, exported.stdout, exported.stderr,
             parsed.stdout, parsed.stderr]  # fmt: skip
    blobs = {str(path): path.read_bytes() for path in created}
    archives = [path for path in created if path.name.endswith(".warc.gz")]
    assert archives  # --warc: searched as written and as every reader sees it, unzipped
    blobs.update({f"{path} unzipped": gzip.decompress(blobs[str(path)]) for path in archives})
    for path in archives:
        assert b"Authorization: redacted" in blobs[f"{path} unzipped"]
    blobs.update({f"output {n}": text.encode() for n, text in enumerate(shown)})
    for value in [*bound, file_cookie, home.session, f"alice:{password}"]:
        for form in forms(value):
            for where, blob in blobs.items():
                assert form.encode() not in blob, f"{value!r} as {form!r} in {where}"
    for cache_file in [*out.glob("http-cache.sqlite*"), *out.glob("archive/*")]:
        assert stat.S_IMODE(os.stat(cache_file).st_mode) == 0o600, cache_file


def test_a_user_agent_header_wins_for_its_site_and_robots_still_reads_the_crawls_token(
    sites, tmp_path: Path
) -> None:
    site = sites()
    site.robots = "User-agent: crawl\nDisallow: /page/private\n\nUser-agent: *\nDisallow: /\n"
    urls = write_urls(tmp_path / "urls.txt", site.url("/page/open"), site.url("/page/private"))
    db = tmp_path / "db.txt"
    result = crawl(str(urls), "--output", str(db), "--header", "User-Agent: Mozilla/5.0 (X11)")
    assert result.returncode == 1, result.stderr
    assert records(db, "url") == [f"url:<{site.url('/page/open')}> size:[17]"]
    assert records(db, "error") == [f"error:<{site.url('/page/private')}> disallowed by robots.txt"]
    seen = site.everything_seen()
    assert "User-Agent: Mozilla/5.0 (X11)" in seen and "User-Agent: crawl/" not in seen
