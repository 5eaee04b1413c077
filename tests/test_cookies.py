"""Cookie files and RFC 6265 matching (crawler.fetching.cookies)."""

from __future__ import annotations

import time
from pathlib import Path

from crawler.fetching.cookies import absorb, cookie_header, load_cookie_file, new_jar

NOW = time.time()
LATER = str(int(NOW) + 3600)


def cookie_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "cookies.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_netscape_file_is_read_as_curl_writes_it(tmp_path: Path) -> None:
    path = cookie_file(
        tmp_path,
        "# Netscape HTTP Cookie File",
        "",
        f"127.0.0.1\tFALSE\t/\tFALSE\t{LATER}\tplain\tp1",
        f"#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t{LATER}\thttponly\th1",  # a cookie, not a comment
        "127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\ts1",  # 0: a session cookie, kept
        "127.0.0.1\tFALSE\t/\tFALSE\t1000\texpired\te1",  # dropped
        f".example.com\tTRUE\t/\tTRUE\t{LATER}\tsecure\tx1",
        f"127.0.0.1\tFALSE\t/private\tFALSE\t{LATER}\tdeep\td1",
    )
    cookies, problems = load_cookie_file(path, NOW)
    assert problems == []
    assert sorted(c.name for c in cookies) == ["deep", "httponly", "plain", "secure", "session"]
    jar = new_jar(cookies)
    assert cookie_header(jar, "http://127.0.0.1:8000/") == "plain=p1; httponly=h1; session=s1"
    assert "deep=d1" in cookie_header(jar, "http://127.0.0.1:9/private/x")  # ports: any
    assert cookie_header(jar, "http://127.0.0.2:8000/") is None  # another host
    assert cookie_header(jar, "https://www.example.com/") == "secure=x1"
    assert cookie_header(jar, "http://www.example.com/") is None  # secure: https only


def test_a_line_that_is_not_a_cookie_is_named_by_its_number_without_its_value(
    tmp_path: Path,
) -> None:
    path = cookie_file(
        tmp_path,
        "127.0.0.1 FALSE / FALSE 0 spaces s3cretA",  # spaces, not tabs
        f"127.0.0.1\tMAYBE\t/\tFALSE\t{LATER}\tflag\ts3cretB",
        "127.0.0.1\tFALSE\t/\tFALSE\tsoon\twhen\ts3cretC",
        f"127.0.0.1\tFALSE\t/\tFALSE\t{LATER}\tgood\tg1",
    )
    cookies, problems = load_cookie_file(path, NOW)
    assert [c.name for c in cookies] == ["good"]
    assert [problem.split(":")[0] for problem in problems] == ["line 1", "line 2", "line 3"]
    assert all(problem.endswith("skipped") for problem in problems)
    assert "s3cret" not in "".join(problems)


def test_a_cookie_for_localhost_goes_to_localhost(tmp_path: Path) -> None:
    path = cookie_file(
        tmp_path,
        "localhost\tFALSE\t/\tFALSE\t0\ta\t1",
        "#HttpOnly_.localhost\tTRUE\t/\tFALSE\t0\tb\t2",
    )
    jar = new_jar(load_cookie_file(path, NOW)[0])
    absorb(jar, "http://localhost:9/", ["c=3"])
    assert sorted(cookie_header(jar, "http://localhost:8000/").split("; ")) == ["a=1", "b=2", "c=3"]
    assert cookie_header(jar, "http://127.0.0.1:8000/") is None


def test_a_cookie_set_without_domain_goes_back_to_its_host_only() -> None:
    jar = new_jar()
    absorb(jar, "http://www.example.com/login", ["sid=1; Path=/", "wide=2; Domain=example.com"])
    assert cookie_header(jar, "http://www.example.com/a") == "sid=1; wide=2"
    assert cookie_header(jar, "http://sub.www.example.com/a") == "wide=2"
    assert cookie_header(jar, "http://example.com/a") == "wide=2"
    assert cookie_header(jar, "http://example.org/a") is None


def test_a_site_cannot_set_a_cookie_for_another() -> None:
    jar = new_jar()
    absorb(jar, "http://evil.test/", ["x=1; Domain=example.com"])
    assert len(jar) == 0
