"""What a request carries, and where (crawler.fetching.credentials): a table of
origins, each row a request a user would not want to carry the secret, or would."""

from __future__ import annotations

import pytest

from crawler.fetching.credentials import (
    Credentials,
    SiteRule,
    matches,
    request_headers,
    site_pattern,
    split_userinfo,
)

TOKEN = ("X-Api-Key", "k-123")


@pytest.mark.parametrize(
    ("pattern", "url", "sent"),
    [
        # an origin: scheme, host and port, nothing less
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/a", True),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/other/path?q=1", True),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8001/a", False),  # another port
        ("http://127.0.0.1:8000", "http://127.0.0.2:8000/a", False),  # another host
        ("http://127.0.0.1:8000", "https://127.0.0.1:8000/a", False),  # another scheme
        ("http://127.0.0.1:8000", "http://localhost:8000/a", False),  # another name
        # the default ports are the same origin, written or not
        ("http://example.com", "http://example.com:80/a", True),
        ("http://example.com:80", "http://example.com/a", True),
        ("https://example.com", "https://example.com:443/a", True),
        ("https://example.com", "http://example.com/a", False),  # http to the https site
        ("https://example.com", "https://example.com:8443/a", False),
        ("http://example.com", "http://EXAMPLE.com/a", True),  # hosts are not case-sensitive
        ("http://example.com", "http://www.example.com/a", False),  # a subdomain is another
        ("http://example.com", "http://example.com.evil.test/a", False),
        ("http://example.com", "http://evil.test/?u=http://example.com", False),
        # *.example.com: https subdomains at any depth, on 443
        ("*.example.com", "https://api.example.com/v1", True),
        ("*.example.com", "https://a.b.example.com/v1", True),
        ("*.example.com", "https://api.example.com:443/v1", True),
        ("*.example.com", "https://example.com/v1", False),  # the domain itself is not a subdomain
        ("*.example.com", "http://api.example.com/v1", False),  # https only
        ("*.example.com", "https://api.example.com:8443/v1", False),
        ("*.example.com", "https://evilexample.com/", False),
        ("*.example.com", "https://api.example.com.evil.test/", False),
        ("*.example.com:8443", "https://api.example.com:8443/v1", True),
        ("*.example.com:8443", "https://api.example.com/v1", False),
        ("*.example.com", "https://[::1]/", False),
    ],
)
def test_a_secret_goes_to_its_origin_only(pattern: str, url: str, sent: bool) -> None:
    credentials = Credentials((SiteRule(site_pattern(pattern), (TOKEN,), (("sid", "s-9"),)),))
    headers = request_headers(url, credentials, None)
    assert ("X-Api-Key" in headers) is sent
    assert ("Cookie" in headers) is sent
    if sent:
        assert headers == {"X-Api-Key": "k-123", "Cookie": "sid=s-9"}


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("https://API.example.com/", "https://api.example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("*.Example.com", "*.example.com"),
        ("https://*.example.com", "*.example.com"),
        ("*.example.com:443", "*.example.com"),
    ],
)
def test_site_keys_are_normalized(text: str, pattern: str) -> None:
    assert site_pattern(text) == pattern


@pytest.mark.parametrize(
    "text",
    ["example.com", "ftp://example.com", "https://example.com/path", "http://*.example.com",
     "https://u:p@example.com", "*.", "https://example.com:x", "https://a.*.example.com"],
)  # fmt: skip
def test_a_site_key_that_is_not_an_origin_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        site_pattern(text)


def test_the_more_specific_rule_wins_and_cookies_join_in_one_header() -> None:
    credentials = Credentials(
        (
            SiteRule("https://api.example.com", (("Accept", "text/html"), ("X-A", "1"))),
            SiteRule("*.example.com", (("accept", "application/json"),), (("a", "1"),)),
            SiteRule("https://api.example.com", (), (("b", "2"),)),
        )
    )
    headers = request_headers("https://api.example.com/x", credentials, "c=3")
    assert headers == {"X-A": "1", "accept": "application/json", "Cookie": "a=1; b=2; c=3"}


def test_no_rule_sends_only_the_jar_cookies() -> None:
    assert request_headers("http://a.test/", None, None) == {}
    assert request_headers("http://a.test/", None, "s=1") == {"Cookie": "s=1"}


@pytest.mark.parametrize(
    ("url", "clean", "basic"),
    [
        ("http://alice:s3cret@127.0.0.1:8765/x", "http://127.0.0.1:8765/x", "YWxpY2U6czNjcmV0"),
        ("http://alice:p%40ss@h.test/x", "http://h.test/x", "YWxpY2U6cEBzcw=="),
        ("http://alice@h.test/x?a@b", "http://h.test/x?a@b", "YWxpY2U6"),
        ("http://h.test/x?a@b", "http://h.test/x?a@b", None),
    ],
)
def test_a_password_leaves_the_url_for_a_header_bound_to_its_origin(
    url: str, clean: str, basic: str | None
) -> None:
    got, rule = split_userinfo(url)
    assert got == clean
    if basic is None:
        assert rule is None
        return
    assert rule is not None and matches(rule.pattern, "http://" + clean.split("/")[2])
    assert rule.headers == (("Authorization", f"Basic {basic}"),)
