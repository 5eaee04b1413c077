"""crawler.frontier.canonical: the dedupe key, a table per promise of the issue."""

from __future__ import annotations

import pytest

from crawler.frontier.canonical import canonical_key, remove_dot_segments

SAME = [
    # (one spelling, another spelling of the same address)
    ("http://a.test/p?b=2&a=1", "http://a.test/p?a=1&b=2"),  # query order
    ("http://a.test/p#top", "http://a.test/p"),  # fragment
    ("http://a.test:80/p", "http://a.test/p"),  # the scheme's default port
    ("https://a.test:443/p", "https://a.test/p"),
    ("http://a.test:/p", "http://a.test/p"),  # an empty port
    ("HTTP://A.Test/p", "http://a.test/p"),  # scheme and host case
    ("http://a.test/%7Euser", "http://a.test/~user"),  # an escaped unreserved character
    ("http://a.test/%7euser", "http://a.test/~user"),
    ("http://a.test/a%2fb", "http://a.test/a%2Fb"),  # escapes upper-cased, not decoded
    ("http://a.test/./p", "http://a.test/p"),  # dot segments
    ("http://a.test/x/../p", "http://a.test/p"),
    ("http://a.test/x/y/../../p", "http://a.test/p"),
    ("http://a.test/../p", "http://a.test/p"),  # above the root stays at it
    ("http://a.test/%2E/p", "http://a.test/p"),  # an escaped dot is a dot
    ("http://a.test", "http://a.test/"),  # an empty path is /
    ("http://bücher.test/", "http://xn--bcher-kva.test/"),  # IDN to punycode
    ("http://a.test/é", "http://a.test/%C3%A9"),  # non-ASCII escaped as UTF-8
    ("http://a.test/a b", "http://a.test/a%20b"),
    ("http://user:pw@a.test/p", "http://a.test/p"),  # credentials are not the address
    ("http://a.test/p?utm_source=x&utm_Medium=y&k=1", "http://a.test/p?k=1"),
    ("http://a.test/p;jsessionid=ABC123", "http://a.test/p"),
    ("http://a.test/p;JSESSIONID=ABC123?k=1", "http://a.test/p?k=1"),
    ("http://a.test/p?jsessionid=1&PHPSESSID=2&sid=3&SessionId=4", "http://a.test/p"),
    ("http://a.test/p?k=1&&", "http://a.test/p?k=1"),  # empty pieces
    ("http://a.test/p?", "http://a.test/p"),
    ("http://a.test/p?q=%41", "http://a.test/p?q=A"),
    ("http://[::1]:80/", "http://[::1]/"),
]

DISTINCT = [
    ("http://a.test/a", "http://a.test/a/"),  # the trailing slash
    ("http://a.test/p", "https://a.test/p"),  # http and https
    ("http://www.a.test/p", "http://a.test/p"),  # www and the bare domain
    ("http://a.test/Path", "http://a.test/path"),  # path case
    ("http://a.test/p?q=", "http://a.test/p"),  # a blank value is kept
    ("http://a.test/p?q=&q=", "http://a.test/p?q="),  # and a repeated pair
    ("http://a.test/p?a=1", "http://a.test/p?A=1"),  # parameter names' case
    ("http://a.test/a%2Fb", "http://a.test/a/b"),  # an escaped slash is not a slash
    ("http://a.test/p?x=a%26b", "http://a.test/p?x=a&b"),  # nor an escaped &
    ("http://a.test:8080/p", "http://a.test/p"),  # a port that is not the default
    ("http://a.test/p?sidebar=1", "http://a.test/p"),  # only whole session names go
]


@pytest.mark.parametrize(("one", "other"), SAME)
def test_spellings_of_one_address_share_a_key(one: str, other: str) -> None:
    assert canonical_key(one) == canonical_key(other)


@pytest.mark.parametrize(("one", "other"), DISTINCT)
def test_different_addresses_keep_different_keys(one: str, other: str) -> None:
    assert canonical_key(one) != canonical_key(other)


def test_the_key_is_a_url_in_its_canonical_spelling() -> None:
    key = canonical_key("HTTP://Example.TEST:80/a/./b/../%7ec?b=2&utm_x=1&a=&a=1#frag")
    assert key == "http://example.test/a/~c?a=&a=1&b=2"
    assert canonical_key(key) == key  # canonical already


def test_a_url_that_does_not_split_is_its_own_key() -> None:
    assert canonical_key("http://a.test:port/") == "http://a.test:port/"
    assert canonical_key("http://[::1/") == "http://[::1/"


@pytest.mark.parametrize(
    ("path", "expected"),
    [  # RFC 3986 5.4 and 5.2.4
        ("/a/b/c/./../../g", "/a/g"),
        ("/./a", "/a"),
        ("/a/.", "/a/"),
        ("/a/..", "/"),
        ("/a/b/..", "/a/"),
        ("/..", "/"),
        ("/a/.b", "/a/.b"),  # a segment that only starts with a dot stays
        ("/a/..b", "/a/..b"),
    ],
)
def test_dot_segments(path: str, expected: str) -> None:
    assert remove_dot_segments(path) == expected
