"""crawler.frontier.scope: where a found link may lead, the address pre-check, and the
shape checks (extensions, repeated segments). A table per kind of scope."""

from __future__ import annotations

import pickle

import pytest

from crawler.frontier.scope import (
    Scope,
    ignored_extension,
    make_scope,
    private_literal,
    registrable_domain,
    repeated_segment,
    split_url,
)

SCOPES = [
    # (kind, listed URL, link, inside)
    ("host", "http://a.test/x/y", "http://a.test/other", True),
    ("host", "http://a.test/", "https://a.test/", True),  # http and https both
    ("host", "http://a.test/", "http://A.TEST:80/p", True),  # 80 is http's own port
    ("host", "http://a.test/", "https://a.test:443/p", True),
    ("host", "http://a.test/", "http://a.test:8080/", False),  # another port
    ("host", "http://a.test:8080/", "https://a.test:8080/", True),
    ("host", "http://a.test:8080/", "http://a.test/", False),
    ("host", "http://a.test/", "http://www.a.test/", False),
    ("host", "http://a.test/", "ftp://a.test/", False),
    ("host", "http://a.test/", "not a url", False),  # fails closed
    ("domain", "http://www.python.test/", "https://docs.python.test:8443/", True),
    ("domain", "http://www.example.co.uk/", "http://shop.example.co.uk/", True),
    ("domain", "http://www.example.co.uk/", "http://other.co.uk/", False),
    ("domain", "http://a.github.io/", "http://b.github.io/", False),  # a public suffix
    ("domain", "http://www.amazonaws.com/", "http://bucket.s3.amazonaws.com/", False),
    ("domain", "http://127.0.0.1:8000/", "http://127.0.0.1:9000/", True),  # an IP is its own
    ("domain", "http://127.0.0.1:8000/", "http://127.0.0.2/", False),
    ("prefix", "http://a.test/docs/", "http://a.test/docs/guide/x.html", True),
    ("prefix", "http://a.test/docs/", "https://a.test/docs/", True),
    ("prefix", "http://a.test/docs/", "http://a.test/docs", False),  # the folder itself, no slash
    ("prefix", "http://a.test/docs/", "http://a.test/documents/", False),
    ("prefix", "http://a.test/docs/index.html", "http://a.test/docs/other.html", True),
    ("prefix", "http://a.test/docs", "http://a.test/anything", True),  # /docs is a file in /
    ("prefix", "http://a.test/docs/", "http://b.test/docs/", False),
    ("any", "http://a.test/", "https://elsewhere.test:81/", True),
    ("any", "http://a.test/", "mailto:x@a.test", False),
]


@pytest.mark.parametrize(("kind", "listed", "link", "inside"), SCOPES)
def test_scope(kind: str, listed: str, link: str, inside: bool) -> None:
    assert make_scope(kind, listed).allows(link) is inside


def test_a_seed_redirect_widens_the_scope_to_where_it_led() -> None:
    scope = make_scope("host", "http://a.test/")
    assert not scope.allows("https://www.a.test/p")
    wider = scope.with_redirects(("https://a.test/", "https://www.a.test/"))
    assert wider.allows("https://www.a.test/p") and wider.allows("http://a.test/q")
    assert wider.exempt("http://www.a.test/p") == "http://www.a.test"
    assert wider.exempt("http://b.test/") is None
    prefix = make_scope("prefix", "http://a.test/docs/").with_redirects(
        ["https://www.a.test/docs/"]
    )
    assert prefix.allows("https://www.a.test/docs/x") and not prefix.allows("https://www.a.test/")


@pytest.mark.parametrize("kind", ["host", "domain", "prefix", "any"])
def test_a_scope_pickles_and_spells_itself_in_one_line(kind: str) -> None:
    scope = make_scope(kind, "http://www.a.test:8080/docs/").with_redirects(["https://b.test/"])
    assert pickle.loads(pickle.dumps(scope)) == scope
    spec = scope.spec()
    assert "\n" not in spec and "\t" not in spec
    assert Scope.from_spec(spec) == scope


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        make_scope("planet", "http://a.test/")


def test_registrable_domains_come_from_the_shipped_list() -> None:
    assert registrable_domain("www.example.co.uk") == "example.co.uk"
    assert registrable_domain("a.b.example.com") == "example.com"
    assert registrable_domain("localhost") == "localhost"
    assert registrable_domain("10.0.0.1") == "10.0.0.1"


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # the spellings the resolver takes
        ("0x7f.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
        ("LOCALHOST.", "localhost"),
        ("db.localhost", "db.localhost"),
        ("10.1.2.3", "10.1.2.3"),
        ("172.16.0.1", "172.16.0.1"),
        ("192.168.1.1", "192.168.1.1"),
        ("169.254.169.254", "169.254.169.254"),  # the cloud metadata address
        ("100.64.0.1", "100.64.0.1"),  # CGNAT
        ("0.0.0.0", "0.0.0.0"),
        ("224.0.0.1", "224.0.0.1"),  # multicast
        ("240.0.0.1", "240.0.0.1"),  # reserved
        ("fe80::1", "fe80::1"),
        ("fc00::1", "fc00::1"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("example.com", None),  # a name: the worker resolves it
        ("cafe", None),
        ("1.2.3.4.example", None),
    ],
)
def test_private_literals(host: str, address: str | None) -> None:
    assert private_literal(host) == address


@pytest.mark.parametrize(
    ("url", "extension"),
    [
        ("http://a.test/photo.JPG", "jpg"),
        ("http://a.test/report.pdf?download=1", "pdf"),
        ("http://a.test/x.tar.gz", "gz"),
        ("http://a.test/song.mp3#t=1", "mp3"),
        ("http://a.test/page.html", None),
        ("http://a.test/download.php?file=x.zip", None),
        ("http://a.test/v1.2/", None),
        ("http://a.test/", None),
    ],
)
def test_ignored_extensions(url: str, extension: str | None) -> None:
    assert ignored_extension(split_url(url).path) == extension


@pytest.mark.parametrize(
    ("url", "segment"),
    [
        ("http://a.test/x/x/x/", "x"),
        ("http://a.test/a/b/a/b/a/", "a"),
        ("http://a.test/x/x/", None),
        ("http://a.test/2024/01/01/", None),
        ("http://a.test/a/b/c/d/", None),
    ],
)
def test_a_segment_repeated_three_times(url: str, segment: str | None) -> None:
    assert repeated_segment(split_url(url).path) == segment


@pytest.mark.parametrize(
    "url",
    ["http://a.test/p?q#f", "HTTPS://A.Test:8443", "http://u:p@a.test:80/x", "http://[::1]:8080/",
     "http://[::FFFF:127.0.0.1]/", "http://a.test./x", "http://a.test:/x", "http://bücher.test/é",
     "http://a.test?q", "http://a.test#f", "https://a.test:443/"],
)  # fmt: skip
def test_split_url_agrees_with_urlsplit(url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    split = split_url(url)
    assert split.scheme == parts.scheme.lower()
    assert split.host == parts.hostname.rstrip(".")
    assert split.port == (None if parts.port in (None, 80, 443) else parts.port)
    assert split.path == (parts.path or "/")


@pytest.mark.parametrize(
    "url",
    ["ftp://a.test/", "mailto:a@a.test", "http:/a.test", "http://", "http://a.test:port/",
     "http://a.test:99999/", "http://[::1/", "http://[nothex]/", "http://a b.test/",
     "http://a.test/\x00", "//a.test/", "http://a.test:1:2/"],
)  # fmt: skip
def test_split_url_refuses_what_cannot_be_fetched(url: str) -> None:
    assert split_url(url) is None
