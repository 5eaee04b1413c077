"""crawler.fetching.cache_policy: whose a request is, and what the cache may keep.
Pure functions, one table row per decision."""

from __future__ import annotations

import pytest

from crawler.fetching.cache_policy import (
    BENIGN_HEADERS,
    USE_ALL,
    RequestUse,
    directives,
    freshness_lifetime,
    identity_pairs,
    kept_headers,
    merged_headers,
    request_directives,
    storage,
    vary_names,
)

# Every row of BENIGN_HEADERS: a header that does not change who is asking.
BENIGN = [
    ("User-Agent", "crawl/0.3"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Connection", "keep-alive"),
    ("Keep-Alive", "timeout=5"),
    ("TE", "trailers"),
    ("Host", "example.com"),
    ("Content-Length", "0"),
    ("If-None-Match", '"v1"'),
    ("If-Modified-Since", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ("Cache-Control", "no-cache"),
    ("Pragma", "no-cache"),
]
# Headers that say who asks, or what is asked for: each is part of the key.
KEYED = [
    ("Authorization", "Bearer t0ken"),
    ("Cookie", "session=abc"),
    ("Proxy-Authorization", "Basic YTpi"),
    ("X-Api-Key", "k3y"),
    ("Accept", "application/json"),
    ("Accept-Language", "zh-CN"),
    ("Referer", "https://example.com/"),
]


def test_the_benign_table_is_what_the_tests_pin() -> None:
    assert sorted(BENIGN_HEADERS) == sorted(name.lower() for name, _ in BENIGN)


@pytest.mark.parametrize(("name", "value"), BENIGN)
def test_a_benign_header_is_not_part_of_the_identity(name: str, value: str) -> None:
    assert identity_pairs([("Cookie", "a=1"), (name, value)]) == [("cookie", "a=1")]


@pytest.mark.parametrize(("name", "value"), KEYED)
def test_every_other_header_is_part_of_the_identity(name: str, value: str) -> None:
    assert (name.lower(), value) in identity_pairs([(name, value), ("User-Agent", "x")])
    assert identity_pairs([(name, value)]) != identity_pairs([(name, value + "2")])


def test_the_identity_does_not_depend_on_order_or_case() -> None:
    one = identity_pairs([("Cookie", "a=1"), ("authorization", "x")])
    assert one == identity_pairs([("Authorization", "x"), ("COOKIE", "a=1")])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {}),
        ("", {}),
        ("no-store", {"no-store": ""}),
        ("max-age=60, private", {"max-age": "60", "private": ""}),
        ('Max-Age="30" , No-Cache', {"max-age": "30", "no-cache": ""}),
        ("max-age=1, max-age=2", {"max-age": "1"}),  # the first one counts
    ],
)
def test_cache_control_is_read_as_directives(value, expected) -> None:
    assert directives(value) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, USE_ALL),
        ({"Cache-Control": "no-store"}, RequestUse(False, False, False)),
        ({"Cache-Control": "no-cache"}, RequestUse(True, True, False)),
        ({"Cache-Control": "max-age=0"}, RequestUse(True, True, False)),
        ({"Pragma": "no-cache"}, RequestUse(True, True, False)),
        ({"Cache-Control": "max-age=60", "Pragma": "no-cache"}, USE_ALL),  # Pragma: only alone
    ],
)
def test_what_a_request_lets_the_cache_do(headers, expected) -> None:
    assert request_directives(headers) == expected


DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
STORAGE = [
    # (method, status, response headers, request use) -> (store, fresh_for)
    ("GET", 200, {"ETag": '"a"'}, USE_ALL, (True, 0.0)),
    ("GET", 200, {"Last-Modified": DATE}, USE_ALL, (True, 0.0)),
    ("GET", 200, {"ETag": '"a"', "Cache-Control": "max-age=60"}, USE_ALL, (True, 0.0)),
    ("GET", 200, {"ETag": '"a"', "Cache-Control": "private"}, USE_ALL, (True, 0.0)),
    ("GET", 200, {"ETag": '"a"', "Cache-Control": "no-cache"}, USE_ALL, (True, 0.0)),
    ("GET", 200, {"ETag": '"a"', "Cache-Control": "no-store"}, USE_ALL, (False, 0.0)),
    ("GET", 200, {"ETag": '"a"', "Cache-Control": "private, NO-STORE"}, USE_ALL, (False, 0.0)),
    ("GET", 200, {"ETag": '"a"'}, RequestUse(False, False, False), (False, 0.0)),
    ("GET", 200, {"ETag": '"a"', "Vary": "*"}, USE_ALL, (False, 0.0)),
    ("GET", 200, {"ETag": '"a"', "Vary": "Accept-Language"}, USE_ALL, (True, 0.0)),
    ("GET", 200, {"Cache-Control": "max-age=60"}, USE_ALL, (True, 60.0)),
    ("GET", 200, {"Cache-Control": "max-age=60", "Age": "20"}, USE_ALL, (True, 40.0)),
    ("GET", 200, {"Cache-Control": "max-age=60", "Age": "90"}, USE_ALL, (False, 0.0)),
    ("GET", 200, {"Cache-Control": "max-age=60, no-cache"}, USE_ALL, (False, 0.0)),
    (
        "GET",
        200,
        {"Date": DATE, "Expires": "Wed, 21 Oct 2015 08:28:00 GMT"},
        USE_ALL,
        (True, 3600.0),
    ),
    ("GET", 200, {"Date": DATE, "Expires": "0"}, USE_ALL, (False, 0.0)),
    ("GET", 200, {}, USE_ALL, (False, 0.0)),
    ("GET", 404, {"ETag": '"a"'}, USE_ALL, (False, 0.0)),
    ("GET", 206, {"ETag": '"a"'}, USE_ALL, (False, 0.0)),
    ("POST", 200, {"ETag": '"a"'}, USE_ALL, (False, 0.0)),
]


@pytest.mark.parametrize(("method", "status", "headers", "use", "expected"), STORAGE)
def test_what_is_stored(method, status, headers, use, expected) -> None:
    said = storage(method, status, headers, use)
    assert (said.store, said.fresh_for) == expected, said.why


def test_freshness_without_a_word_is_none() -> None:
    assert freshness_lifetime({"Date": DATE}) == 0.0


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        (None, ""),
        ("Accept-Language", "accept-language"),
        ("Cookie, accept , Cookie", "accept,cookie"),
    ],
)
def test_vary_names(vary, expected) -> None:
    assert vary_names({} if vary is None else {"Vary": vary}) == expected


def test_set_cookie_is_never_kept() -> None:
    headers = [("ETag", '"a"'), ("Set-Cookie", "s=1"), ("set-cookie2", "t=2"), ("X", "y")]
    assert kept_headers(headers) == [("ETag", '"a"'), ("X", "y")]


def test_a_304_updates_the_stored_headers_but_not_the_body_s() -> None:
    stored = [("Content-Type", "text/html"), ("Content-Length", "90"), ("ETag", '"a"')]
    update = [("Content-Length", "0"), ("ETag", '"b"'), ("Set-Cookie", "s=1"), ("Date", DATE)]
    assert merged_headers(stored, update) == [
        ("Content-Type", "text/html"),
        ("Content-Length", "90"),
        ("ETag", '"b"'),
        ("Date", DATE),
    ]
