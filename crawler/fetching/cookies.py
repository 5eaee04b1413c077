"""Cookies as a browser keeps them (RFC 6265, by `http.cookiejar`): read from a
Netscape `cookies.txt`, matched to each request by domain, path and `secure`
(ports are not part of a cookie's scope), and taken from each answer's
`Set-Cookie`.

The run's jar lives in the main process (`crawler.identity`); a fetch gets a jar of
its own holding the cookies its hops may need, sends and updates it hop by hop,
and hands back the `Set-Cookie` values it received, with the URL each came
from, so that the main process applies them to the run's jar by the same rules.
A transport's own cookie handling is switched off (`refuse_all`): one place decides.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from pathlib import Path

from crawler.fetching.transports.base import Response

HTTPONLY_PREFIX = "#HttpOnly_"  # curl's and browsers' mark of an HttpOnly cookie, not a comment


class _Refuse(DefaultCookiePolicy):
    def set_ok(self, cookie: Cookie, request: object) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: object) -> bool:
        return False


def refuse_all() -> DefaultCookiePolicy:
    """A policy for a transport's own jar (requests'): keep nothing, send nothing."""
    return _Refuse()


def new_jar(cookies: Iterable[Cookie] = ()) -> CookieJar:
    """A jar matching as RFC 6265 does: a cookie set without `Domain` goes back to
    its host only, not to the host's subdomains (`DomainStrictNonDomain`)."""
    policy = DefaultCookiePolicy(strict_ns_domain=DefaultCookiePolicy.DomainStrictNonDomain)
    jar = CookieJar(policy)
    for cookie in cookies:
        jar.set_cookie(cookie)
    return jar


def cookie_header(jar: CookieJar, url: str) -> str | None:
    """The Cookie header value `jar` gives a request to `url` (None: no cookie)."""
    if not len(jar):
        return None
    request = urllib.request.Request(url)
    jar.add_cookie_header(request)
    return request.get_header("Cookie")


class _Answer:
    """What `CookieJar.extract_cookies` reads of a response: its Set-Cookie headers."""

    def __init__(self, values: list[str]) -> None:
        self.values = values

    def info(self) -> _Answer:
        return self

    def get_all(self, name: str, default: object = None) -> object:
        return self.values if name.lower() == "set-cookie" else default


def absorb(jar: CookieJar, url: str, set_cookies: list[str]) -> None:
    """Keep what `Set-Cookie: ...` values received from `url` say, as a browser would."""
    if set_cookies:
        jar.extract_cookies(_Answer(set_cookies), urllib.request.Request(url))  # type: ignore[arg-type]


def received(response: Response) -> list[str]:
    """The `Set-Cookie` values of an answer, each whole (joined, they could not be
    split back)."""
    return response.headers.get_all("Set-Cookie")


def load_cookie_file(path: Path, now: float) -> tuple[list[Cookie], list[str]]:
    """The cookies of a Netscape `cookies.txt` that have not expired at `now`, and a
    problem per line that is not a cookie (`line N: ...`, which names no value).
    Raises OSError (or UnicodeDecodeError) if the file cannot be read.

    A line is `domain, include-subdomains, path, secure, expires, name, value`,
    tab-separated; `#HttpOnly_` before the domain marks an HttpOnly cookie; other
    `#` lines and blank lines are comments. An expiry of 0 is a session cookie
    (kept for the run), as curl writes it."""
    cookies: list[Cookie] = []
    problems: list[str] = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            line = line.rstrip("\r\n")
            rest = {}
            if line.startswith(HTTPONLY_PREFIX):
                line, rest = line[len(HTTPONLY_PREFIX) :], {"HttpOnly": ""}
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cookie = _cookie(line.split("\t"), rest)
            if isinstance(cookie, str):
                problems.append(f"line {number}: {cookie}; skipped")
            elif cookie.expires is None or not cookie.is_expired(now):
                cookies.append(cookie)
    return cookies, problems


def _cookie(fields: list[str], rest: dict[str, str]) -> Cookie | str:
    """A cookie from the fields of a line, or why the line is not one."""
    if len(fields) == 6:  # a cookie without a value: some exporters drop the empty field
        fields.append("")
    if len(fields) != 7:
        return f"not a cookie (expected 7 tab-separated fields, found {len(fields)})"
    domain, subdomains, path, secure, expires, name, value = fields
    flags = (subdomains.upper(), secure.upper())
    if not domain or not name or any(flag not in ("TRUE", "FALSE") for flag in flags):
        return "not a cookie (domain, TRUE/FALSE flags and a name are needed)"
    if not expires.strip().lstrip("-").isdigit():
        return "not a cookie (the expiry is not a number)"
    if any(ord(char) < 32 or char == ";" for char in name + value):
        return "not a cookie (a control character or ; in its name or value)"
    seconds = int(expires)
    host_only = flags[0] == "FALSE"
    domain = domain.lower()
    if not host_only and not domain.startswith("."):
        domain = "." + domain
    if host_only:
        domain = domain.lstrip(".")
    if "." not in domain.strip("."):  # `localhost`: http.cookiejar knows it as localhost.local
        domain += ".local"
    return Cookie(
        version=0, name=name, value=value, port=None, port_specified=False,
        domain=domain, domain_specified=not host_only, domain_initial_dot=not host_only,
        path=path or "/", path_specified=True, secure=flags[1] == "TRUE",
        expires=seconds if seconds > 0 else None, discard=seconds <= 0,
        comment=None, comment_url=None, rest=rest,
    )  # fmt: skip
