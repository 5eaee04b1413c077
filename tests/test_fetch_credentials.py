"""What each hop of a fetch carries (crawler.fetching.fetch with
crawler.fetching.credentials), through the fake transport: every header,
bound cookie and password stays on its origin, hop by hop; cookies follow RFC 6265."""

from __future__ import annotations

import pytest

from crawler.fetching.cookies import new_jar
from crawler.fetching.credentials import Credentials, SiteRule
from crawler.fetching.fetch import fetch
from crawler.fetching.transports.fake import FakeTransport
from crawler.model import Page
from crawler.settings import FetchSettings

SITE = "http://site.example"
SETTINGS = FetchSettings(timeout=5.0, retries=0, max_redirects=5)
BOUND = Credentials(
    (SiteRule(SITE, (("X-Api-Key", "k1"), ("User-Agent", "Mine/1")), (("session", "s1"),)),)
)


@pytest.fixture
def fake() -> FakeTransport:
    return FakeTransport()


def sent(fake: FakeTransport) -> list[dict[str, str]]:
    return [dict(request.headers.pairs) for request in fake.requests]


@pytest.mark.parametrize(
    ("target", "carried"),
    [
        (f"{SITE}/next", True),
        ("http://site.example:80/next", True),  # the default port: the same origin
        ("http://site.example:8080/next", False),
        ("https://site.example/next", False),
        ("http://other.example/next", False),
        ("http://sub.site.example/next", False),
    ],
)
def test_each_hop_carries_only_what_is_bound_to_its_origin(
    fake: FakeTransport, target: str, carried: bool
) -> None:
    fake.redirect(f"{SITE}/start", target)
    fake.add(target.replace(":80/", "/"), body=b"arrived")  # as a browser resolves it
    page = fetch(fake, f"{SITE}/start", SETTINGS, credentials=BOUND)
    assert isinstance(page, Page), page
    first, second = sent(fake)
    assert (first["X-Api-Key"], first["Cookie"], first["User-Agent"]) == (
        "k1",
        "session=s1",
        "Mine/1",
    )
    assert ("X-Api-Key" in second) is carried
    assert ("Cookie" in second) is carried
    assert (second["User-Agent"] == "Mine/1") is carried  # else the crawl's own


def test_a_hop_back_to_the_origin_carries_again(fake: FakeTransport) -> None:
    fake.redirect(f"{SITE}/start", "http://other.example/bounce")
    fake.redirect("http://other.example/bounce", f"{SITE}/end")
    fake.add(f"{SITE}/end", body=b"home")
    assert isinstance(fetch(fake, f"{SITE}/start", SETTINGS, None, BOUND), Page)
    assert ["X-Api-Key" in headers for headers in sent(fake)] == [True, False, True]


def test_a_cookie_set_on_a_hop_goes_where_rfc_6265_says_and_comes_back_with_the_page(
    fake: FakeTransport,
) -> None:
    fake.add(
        f"{SITE}/login",
        302,
        headers=[
            ("Location", f"{SITE}/home"),
            ("Set-Cookie", "sid=abc; Path=/"),
            ("Set-Cookie", "wide=1; Domain=site.example; Path=/"),
        ],
    )
    fake.redirect(f"{SITE}/home", "http://www.site.example/x")
    fake.redirect("http://www.site.example/x", "http://other.example/")
    fake.add("http://other.example/", body=b"away", headers=[("Set-Cookie", "o=2")])
    page = fetch(fake, f"{SITE}/login", SETTINGS)
    assert isinstance(page, Page)
    cookies = [headers.get("Cookie") for headers in sent(fake)]
    assert cookies == [None, "sid=abc; wide=1", "wide=1", None]
    assert page.cookies == (
        (f"{SITE}/login", "sid=abc; Path=/"),
        (f"{SITE}/login", "wide=1; Domain=site.example; Path=/"),
        ("http://other.example/", "o=2"),
    )
    assert page.header("set-cookie") is None  # a secret: not among the headers parsers see


def test_the_jar_of_the_run_is_sent_by_rfc_6265(fake: FakeTransport) -> None:
    jar = new_jar()
    from crawler.fetching.cookies import absorb

    absorb(jar, f"{SITE}/", ["s=1; Path=/", "deep=2; Path=/deep"])
    fake.add(f"{SITE}/deep/a", body=b"x")
    fake.add(f"{SITE}/b", body=b"x")
    credentials = Credentials((), tuple(jar))
    for path in ("/deep/a", "/b"):
        fetch(fake, SITE + path, SETTINGS, None, credentials)
    assert [headers.get("Cookie") for headers in sent(fake)] == ["deep=2; s=1", "s=1"]


def test_a_password_in_a_location_is_not_used(fake: FakeTransport) -> None:
    fake.redirect(f"{SITE}/start", "http://eve:pw@other.example/")
    fake.add("http://other.example/", body=b"x")
    page = fetch(fake, f"{SITE}/start", SETTINGS)
    assert isinstance(page, Page) and page.final_url == "http://other.example/"
    assert "Authorization" not in sent(fake)[1]
