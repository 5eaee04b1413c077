"""What each hop of a fetch carries (crawler.fetching.fetch with
crawler.fetching.credentials), in-process against `responses`: every header,
bound cookie and password stays on its origin, hop by hop; cookies follow RFC 6265."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from crawler.fetching.cookies import new_jar
from crawler.fetching.credentials import Credentials, SiteRule
from crawler.fetching.fetch import fetch, make_transport
from crawler.model import Page
from crawler.settings import FetchSettings

SITE = "http://site.example"
SETTINGS = FetchSettings(timeout=5.0, retries=0, max_redirects=5)
BOUND = Credentials(
    (SiteRule(SITE, (("X-Api-Key", "k1"), ("User-Agent", "Mine/1")), (("session", "s1"),)),)
)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def sent(mock: responses.RequestsMock) -> list[dict[str, str]]:
    return [dict(call.request.headers) for call in mock.calls]


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
    mock: responses.RequestsMock, target: str, carried: bool
) -> None:
    mock.get(f"{SITE}/start", status=302, headers={"Location": target})
    mock.get(target.replace(":80/", "/"), body=b"arrived")  # as a browser resolves it
    page = fetch(make_transport(SETTINGS), f"{SITE}/start", SETTINGS, credentials=BOUND)
    assert isinstance(page, Page), page
    first, second = sent(mock)
    assert (first["X-Api-Key"], first["Cookie"], first["User-Agent"]) == (
        "k1",
        "session=s1",
        "Mine/1",
    )
    assert ("X-Api-Key" in second) is carried
    assert ("Cookie" in second) is carried
    assert (second["User-Agent"] == "Mine/1") is carried  # else the crawl's own


def test_a_hop_back_to_the_origin_carries_again(mock: responses.RequestsMock) -> None:
    mock.get(f"{SITE}/start", status=302, headers={"Location": "http://other.example/bounce"})
    mock.get("http://other.example/bounce", status=302, headers={"Location": f"{SITE}/end"})
    mock.get(f"{SITE}/end", body=b"home")
    assert isinstance(fetch(make_transport(SETTINGS), f"{SITE}/start", SETTINGS, None, BOUND), Page)
    assert ["X-Api-Key" in headers for headers in sent(mock)] == [True, False, True]


def test_a_cookie_set_on_a_hop_goes_where_rfc_6265_says_and_comes_back_with_the_page(
    mock: responses.RequestsMock,
) -> None:
    mock.get(
        f"{SITE}/login",
        status=302,
        headers=[
            ("Location", f"{SITE}/home"),
            ("Set-Cookie", "sid=abc; Path=/"),
            ("Set-Cookie", "wide=1; Domain=site.example; Path=/"),
        ],
    )
    mock.get(f"{SITE}/home", status=302, headers={"Location": "http://www.site.example/x"})
    mock.get("http://www.site.example/x", status=302, headers={"Location": "http://other.example/"})
    mock.get("http://other.example/", body=b"away", headers={"Set-Cookie": "o=2"})
    page = fetch(make_transport(SETTINGS), f"{SITE}/login", SETTINGS)
    assert isinstance(page, Page)
    cookies = [headers.get("Cookie") for headers in sent(mock)]
    assert cookies == [None, "sid=abc; wide=1", "wide=1", None]
    assert page.cookies == (
        (f"{SITE}/login", "sid=abc; Path=/"),
        (f"{SITE}/login", "wide=1; Domain=site.example; Path=/"),
        ("http://other.example/", "o=2"),
    )
    assert page.header("set-cookie") is None  # a secret: not among the headers parsers see


def test_the_jar_of_the_run_is_sent_by_rfc_6265(mock: responses.RequestsMock) -> None:
    jar = new_jar()
    from crawler.fetching.cookies import absorb

    absorb(jar, f"{SITE}/", ["s=1; Path=/", "deep=2; Path=/deep"])
    mock.get(f"{SITE}/deep/a", body=b"x")
    mock.get(f"{SITE}/b", body=b"x")
    credentials = Credentials((), tuple(jar))
    for path in ("/deep/a", "/b"):
        fetch(make_transport(SETTINGS), SITE + path, SETTINGS, None, credentials)
    assert [headers.get("Cookie") for headers in sent(mock)] == ["deep=2; s=1", "s=1"]


def test_a_password_in_a_location_is_not_used(mock: responses.RequestsMock) -> None:
    mock.get(f"{SITE}/start", status=302, headers={"Location": "http://eve:pw@other.example/"})
    mock.get("http://other.example/", body=b"x")
    page = fetch(make_transport(SETTINGS), f"{SITE}/start", SETTINGS)
    assert isinstance(page, Page) and page.final_url == "http://other.example/"
    assert "Authorization" not in sent(mock)[1]
