"""Headers, [sites] tables, ${NAME} and --cookies, checked before anything is
fetched (crawler.identity): a problem is one line naming it, never its value,
and exit 2."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.identity import Identity, IdentityError, build_identity
from crawler.model import BadLine, Job, Page
from tests.conftest import run_crawl, write_urls
from tests.server import TestServer

SECRET = "v4lue-n0t-sh0wn"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crawl.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "toml", "said"),
    [
        (["--header", f"novalue{SECRET}"], "", "--header 1: expected 'Name: value'"),
        (["--header", "A: b", "--header", f"Bad Name: {SECRET}"], "", "--header 2: the name"),
        (["--header", f"X-Key: {SECRET}\r\nInjected: 1"], "", "--header X-Key: the value holds"),
        (["--header", "X-Key: ${CRAWL_TEST_UNSET}"], "", "environment variable CRAWL_TEST_UNSET"),
        (["--header", f"X-Key: 密{SECRET}"], "", "--header X-Key: the value is not Latin-1"),
        ([], '[sites."https://a.test"]\nheader = {X = "1"}\n', "unknown key 'header'"),
        ([], '[sites."a.test"]\nheaders = {X = "1"}\n', '[sites."a.test"]'),
        ([], '[sites."http://*.a.test"]\nheaders = {X = "1"}\n', "https subdomains only"),
        ([], '[sites."https://a.test"]\nheaders = {X = 1}\n', "X: expected a string"),
        ([], f'[sites."https://a.test"]\ncookies = {{s = "{SECRET}; b"}}\n', "cookies: s:"),
        ([], '[sites."https://a.test"]\nheaders = {X = "${CRAWL_TEST_UNSET}"}\n',
         "environment variable CRAWL_TEST_UNSET is not set"),
        (["--cookies", "/nonexistent/cookies.txt"], "", "cannot read --cookies"),
    ],
)  # fmt: skip
def test_an_unusable_secret_stops_the_run_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], toml: str, said: str
) -> None:
    urls = write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/never")
    extra = ["--config", str(config(tmp_path, toml))] if toml else []
    code = main([str(urls), "--output", str(tmp_path / "db.txt"), *args, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and said in err, err
    assert SECRET not in err
    assert not (tmp_path / "db.txt").exists()  # nothing was started


def test_secrets_come_from_the_environment(server: TestServer, tmp_path: Path) -> None:
    toml = config(
        tmp_path,
        f'[sites."{server.url("")}"]\n'
        'headers = {Authorization = "Bearer ${CRAWL_TEST_TOKEN}", Accept = "application/json"}\n'
        'cookies = {session = "${CRAWL_TEST_SESSION}"}\n',
    )
    identity = build_identity(
        [], {key: value for key, value in _load(toml).items()}["sites"], None,
        {"CRAWL_TEST_TOKEN": "t0k", "CRAWL_TEST_SESSION": "s3s"},
    )  # fmt: skip
    credentials = identity.for_fetch(server.url("/page/a"))
    assert credentials is not None
    (rule,) = credentials.rules
    assert dict(rule.headers) == {"Authorization": "Bearer t0k", "Accept": "application/json"}
    assert rule.cookies == (("session", "s3s"),)
    assert identity.for_fetch("http://127.0.0.2:9/") is not None  # the rule travels, unmatched


def _load(path: Path) -> dict:
    import tomllib

    return tomllib.loads(path.read_text())


def test_header_binds_to_the_listed_origins_and_userinfo_leaves_the_url() -> None:
    identity = build_identity(["X-Key: k1"], None, None, {})
    jobs = [Job(1, "http://bob:pw@127.0.0.1:8000/a", ()), BadLine(2, "x", "bad")]
    taken = list(identity.listed(jobs))
    assert taken[0].url == "http://127.0.0.1:8000/a" and taken[1] == jobs[1]
    same = identity.for_fetch("http://127.0.0.1:8000/robots.txt")
    assert same is not None and [rule.pattern for rule in same.rules] == [
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8000",
    ]
    assert identity.for_fetch("http://127.0.0.1:8001/a") is None
    assert identity.for_fetch("https://127.0.0.1:8000/a") is None


def test_cookies_a_site_sets_are_kept_for_the_next_fetch_to_that_site() -> None:
    identity = Identity()
    assert identity.for_fetch("http://127.0.0.1:8000/") is None
    page = Page("http://127.0.0.1:8000/", 200, "text/html", "", 0, 0, 1,
                cookies=(("http://127.0.0.1:8000/", "sid=abc; Path=/"),))  # fmt: skip
    identity.absorb(page)
    credentials = identity.for_fetch("http://127.0.0.1:8001/x")  # ports are not a cookie's scope
    assert credentials is not None and [c.name for c in credentials.cookies] == ["sid"]
    assert identity.for_fetch("http://127.0.0.2:8000/") is None
    local = Page("http://localhost:8000/", 200, "", "", 0, 0, 1,
                 cookies=(("http://localhost:8000/", "l=1"),))  # fmt: skip
    identity.absorb(local)
    credentials = identity.for_fetch("http://localhost:8001/")
    assert credentials is not None and [c.name for c in credentials.cookies] == ["l"]


def test_a_bad_cookie_line_is_said_and_the_run_goes_on(server: TestServer, tmp_path: Path) -> None:
    later = int(time.time()) + 3600
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(f"junk line {SECRET}\n127.0.0.1\tFALSE\t/\tFALSE\t{later}\ta\tb\n")
    urls = write_urls(tmp_path / "urls.txt", server.url("/page/one"))
    result = run_crawl(str(urls), "--output", str(tmp_path / "db.txt"), "--cookies", str(cookies))
    assert result.returncode == 0, result.stderr
    assert f"--cookies {cookies} line 1: not a cookie" in result.stderr
    assert SECRET not in result.stderr


def test_identity_error_names_no_value() -> None:
    with pytest.raises(IdentityError) as raised:
        build_identity([f"X: a\n{SECRET}"], None, None, {})
    assert SECRET not in str(raised.value)


def test_a_password_is_refused_where_it_would_travel_in_clear() -> None:
    identity = Identity(refuse_userinfo="not sent to a tcp:// scheduler")
    jobs = [Job(3, "http://bob:pw@127.0.0.1:8000/a", ()), Job(4, "http://127.0.0.1:8000/b", ())]
    assert list(identity.listed(jobs)) == [
        BadLine(3, "http://127.0.0.1:8000/a", "not sent to a tcp:// scheduler"),
        jobs[1],
    ]
    assert identity.for_fetch("http://127.0.0.1:8000/a") is None
