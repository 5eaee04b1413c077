"""`crawl --depth` (the real command) against sites the tests serve on 127.0.0.1, with
the traps of issue 11: calendars, `?q=&q=`, session ids, self-appending links, a page
of 100,000 links, `<base>` read wrongly, nofollow, redirects, private addresses,
sitemaps. Each test checks what a user sees: db.txt, the counts, the requests made.
"""

from __future__ import annotations

import gzip
import json
import re
import ssl
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.records import read_line
from tests.conftest import run_crawl, write_urls
from tests.site_server import Site, links


@pytest.fixture
def sites() -> Iterator[list[Site]]:
    started: list[Site] = []
    yield started
    for site in started:
        site.stop()


@pytest.fixture
def site(sites: list[Site]) -> Site:
    sites.append(Site().start())
    return sites[0]


@dataclass
class Run:
    code: int
    stderr: str
    fetched: dict[str, str]  # URL -> its url: or error: line's rest
    records: list[tuple[str, str, str]]  # every line but run: lines, as (kind, URL, rest)
    end: dict[str, str]  # the fields of the run: end line
    stats: dict
    rejected: list[tuple[str, str, str]]  # (reason, URL, page) of --rejected-log

    @property
    def dropped(self) -> dict[str, int]:
        text = self.end.get("dropped", "0")
        return (
            {} if text == "0" else {k: int(v) for k, v in (p.split(":") for p in text.split(","))}
        )

    def urls(self) -> set[str]:
        return {url for url, rest in self.fetched.items() if rest.startswith("size:")}


def crawl(tmp_path: Path, *urls: str, options: tuple[str, ...] = (), timeout: float = 120) -> Run:
    url_file = write_urls(tmp_path / "urls.txt", *urls)
    db, rejected, stats = tmp_path / "db.txt", tmp_path / "rejected.txt", tmp_path / "stats.json"
    for path in (db, rejected, stats):
        path.unlink(missing_ok=True)
    result = run_crawl(
        str(url_file), "--workers", "2", "--no-cache", "--no-progress", "--output", str(db),
        "--rejected-log", str(rejected), "--stats", str(stats), *options, timeout=timeout,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    fetched: dict[str, str] = {}
    records, end = [], {}
    for text in db.read_text(encoding="utf-8").splitlines():
        kind, key, rest = read_line(text)
        if kind == "run":
            if rest.startswith("end "):
                end = dict(field.split("=", 1) for field in rest.split()[1:])
            continue
        records.append((kind, key, rest))
        if kind == "url" or (kind == "error" and not rest.startswith(("board: ", "sitemap: "))):
            assert key not in fetched, f"two fetch lines for {key}"
            fetched[key] = rest
    rejected_lines = [
        tuple(line.split("\t")) for line in rejected.read_text(encoding="utf-8").splitlines()
    ]
    return Run(result.returncode, result.stderr, fetched, records, end,
               json.loads(stats.read_text()), rejected_lines)  # fmt: skip


# -- depth, scope, breadth first ---------------------------------------------------------
def test_depth_0_fetches_exactly_the_listed_urls(tmp_path: Path, site: Site) -> None:
    site.page("/", links("/a", "/b"))
    run = crawl(tmp_path, site.url("/"))
    assert run.urls() == {site.url("/")}
    assert site.count("/a") == site.count("/b") == 0
    assert "dropped" not in run.end and "dropped" not in run.stats


def test_a_docs_tree_to_a_depth(tmp_path: Path, site: Site) -> None:
    site.page("/", links("docs/", "about.html"))
    site.page("/docs/", links("guide/", "api.html", "../about.html", "api.html#section"))
    site.page("/docs/guide/", links("one.html", "../api.html"))
    site.page("/docs/guide/one.html", links("deeper/"))
    site.page("/about.html", links("/"))
    site.page("/docs/api.html", links("/docs/"))
    run = crawl(tmp_path, site.url("/"), options=("--depth", "2"))
    expected = ["/", "/docs/", "/about.html", "/docs/guide/", "/docs/api.html"]
    assert run.urls() == {site.url(path) for path in expected}
    # The depth-2 pages' links are all one hop too far (depth is checked before seen).
    assert run.end["found"] == "4" and run.dropped == {"depth": 3, "seen": 3}
    assert run.stats["dropped"] == {"depth": 3, "seen": 3} and run.stats["found"] == 4
    assert run.code == 0


def test_prefix_scope_stays_under_the_listed_folder(tmp_path: Path, site: Site) -> None:
    site.page("/docs/", links("guide/", "/docs", "/blog/", "/docs-old/"))
    site.page("/docs/guide/", links("../../"))
    run = crawl(tmp_path, site.url("/docs/"), options=("--depth", "inf", "--scope", "prefix"))
    assert run.urls() == {site.url("/docs/"), site.url("/docs/guide/")}
    assert run.dropped == {"offsite": 4}
    assert site.count("/blog/") == site.count("/") == 0


def test_another_port_is_another_host(tmp_path: Path, sites: list[Site]) -> None:
    home, other = Site().start(), Site().start()
    sites += [home, other]
    home.page("/", links(other.url("/"), "/in"))
    home.page("/in", "in")
    run = crawl(tmp_path, home.url("/"), options=("--depth", "3"))
    assert run.urls() == {home.url("/"), home.url("/in")}
    assert run.dropped == {"offsite": 1} and other.total() == 0


# -- traps ---------------------------------------------------------------------------------
def test_an_endless_calendar_ends_at_the_budget(tmp_path: Path, site: Site) -> None:
    def month(path: str, query: str) -> tuple[int, dict, bytes]:
        year, number = map(int, path.split("/")[2:4])
        after = (year + number // 12, number % 12 + 1)
        before = (year - (number == 1), (number - 2) % 12 + 1)
        body = links(f"/cal/{after[0]}/{after[1]}", f"/cal/{before[0]}/{before[1]}")
        return 200, {"Content-Type": "text/html"}, body.encode()

    site.route("/cal/", month)
    run = crawl(tmp_path, site.url("/cal/2026/1"), options=("--depth", "inf", "--max-pages", "40"))
    assert len(run.urls()) == 40 and site.total() == 41  # and robots.txt
    assert run.dropped["budget"] > 0
    shallow = crawl(tmp_path, site.url("/cal/2026/1"), options=("--depth", "3"))
    assert len(shallow.urls()) == 7  # three months either way
    assert shallow.dropped["depth"] == 4  # the last pages' links, both ways


def test_a_query_that_doubles_itself_stops_at_the_length_limit(tmp_path: Path, site: Site) -> None:
    def search(path: str, query: str) -> tuple[int, dict, bytes]:
        return 200, {"Content-Type": "text/html"}, links(f"?{query}&{query}").encode()

    site.route("/search", search)
    run = crawl(tmp_path, site.url("/search?q="), options=("--depth", "inf"))
    assert 9 <= len(run.urls()) <= 12
    assert run.dropped == {"length": 1}
    assert max(len(url) for url in run.urls()) <= 2083


def test_a_fresh_session_id_on_every_page_is_one_page(tmp_path: Path, site: Site) -> None:
    counter = iter(range(1_000_000))

    def shop(path: str, query: str) -> tuple[int, dict, bytes]:
        sid = next(counter)
        body = links(
            f"/shop?sid={sid}", f"/shop/item;jsessionid=J{sid}", f"/shop?PHPSESSID={sid}&x=1"
        )
        return 200, {"Content-Type": "text/html"}, body.encode()

    site.route("/shop", shop)
    run = crawl(tmp_path, site.url("/shop?sid=start"), options=("--depth", "inf"))
    assert len(run.urls()) == 3  # /shop, /shop/item, /shop?x=1
    assert run.dropped == {"seen": 7}


def test_a_relative_link_that_appends_itself(tmp_path: Path, site: Site) -> None:
    site.route(
        "/rel/", lambda path, query: (200, {"Content-Type": "text/html"}, links("x/").encode())
    )
    run = crawl(tmp_path, site.url("/rel/x/"), options=("--depth", "inf"))
    assert run.urls() == {site.url("/rel/x/"), site.url("/rel/x/x/")}
    assert run.dropped == {"pattern": 1}


def test_a_page_of_100000_links(tmp_path: Path, site: Site) -> None:
    site.page("/many", links(*(f"/item/{n}" for n in range(100_000))))
    site.route("/item/", lambda path, query: (200, {"Content-Type": "text/plain"}, b"item"))
    run = crawl(tmp_path, site.url("/many"), options=("--depth", "1"), timeout=180)
    assert len(run.urls()) == 1001
    assert run.dropped == {"budget": 99_000}
    assert len(run.rejected) == 99_000 and run.rejected[0][0] == "budget"


# -- dedupe ----------------------------------------------------------------------------
def test_spellings_that_dedupe_and_ones_that_must_not(tmp_path: Path, sites: list[Site]) -> None:
    site = Site().start()
    sites.append(site)
    home = f"http://localhost:{site.port}"
    site.page("/", links(
        "/d/q?a=1&b=2", "/d/q?b=2&a=1", "/d/q?a=1&b=2#fragment",  # query order, fragment
        f"http://LOCALHOST:{site.port}/d/host", "/d/host",  # the host's case
        "/d/%7Euser", "/d/~user",  # %7E
        "/d/./dot", "/d/x/../dot",  # ./ and ../
        "/d/slash", "/d/slash/", "/d/Case", "/d/case",  # must not dedupe
    ))  # fmt: skip
    site.route("/d/", lambda path, query: (200, {"Content-Type": "text/plain"}, path.encode()))
    run = crawl(tmp_path, home + "/", options=("--depth", "1"))
    fetched = {url.removeprefix(home) for url in run.urls()}
    assert fetched == {  # each as first found, resolved as a browser does (host in lower case)
        "/", "/d/q?a=1&b=2", "/d/host", "/d/%7Euser", "/d/dot",
        "/d/slash", "/d/slash/", "/d/Case", "/d/case",
    }  # fmt: skip
    assert run.dropped == {"seen": 5}
    # sent as found first, as a browser sends it: %7E is not re-spelled ~
    assert site.count("/d/q") == 1 and site.count("/d/%7Euser") == 1 and site.count("/d/dot") == 1


def test_a_url_both_listed_and_found_gets_one_record_with_the_first_parsers(
    tmp_path: Path, site: Site
) -> None:
    board = (Path(__file__).parent / "pages" / "board.html").read_bytes()
    site.page("/", links("/board?x=1&y=2"))
    site.page("/board", board)
    listed = site.url("/board?y=2&x=1")
    run = crawl(tmp_path, site.url("/"), listed + " board", options=("--depth", "1"))
    assert [t for t in site.targets if "x=1" in t] == ["/board?y=2&x=1"]
    assert listed in run.fetched and site.url("/board?x=1&y=2") not in run.fetched
    assert {key for kind, key, _ in run.records if kind == "board"} == {listed}
    assert ("seen", site.url("/board?x=1&y=2"), site.url("/")) in run.rejected


# -- <base> and the skipped schemes ----------------------------------------------------------
@pytest.mark.parametrize(
    ("head", "body_end", "expected"),
    [
        ('<base href="BASE/abs/">', "", "/abs/x"),  # absolute
        ('<base href="/rel/">', "", "/rel/x"),  # relative
        ("", "<p>" + "f" * 5000 + '</p><base href="/late/">', "/late/x"),  # after 4 KiB
        ("<script>var b = '<base href=\"/script/\">';</script>", "", "/page/x"),  # in a script
    ],
)
def test_base_href(tmp_path: Path, site: Site, head: str, body_end: str, expected: str) -> None:
    html = f"<html><head>{head.replace('BASE', site.base)}</head><body><a href='x'>x</a>{body_end}"
    site.page("/page/", html)
    site.route("/", lambda path, query: (200, {"Content-Type": "text/plain"}, b"ok"))
    run = crawl(tmp_path, site.url("/page/"), options=("--depth", "1"))
    assert run.urls() == {site.url("/page/"), site.url(expected)}


def test_every_skipped_scheme_is_counted_and_nothing_requested(tmp_path: Path, site: Site) -> None:
    hrefs = ["javascript:void(0)", "mailto:a@example.test", "tel:+1555", "data:text/plain,x",
             "file:///etc/passwd", "ftp://127.0.0.1/x", "#top", "  #spaced  "]  # fmt: skip
    site.page("/", links(*hrefs))
    run = crawl(tmp_path, site.url("/"), options=("--depth", "1"))
    assert run.urls() == {site.url("/")}
    assert run.dropped == {"scheme": len(hrefs)}
    assert site.total() == 2  # robots.txt and the page


# -- nofollow ------------------------------------------------------------------------------
NOFOLLOW_PAGES = {
    "/rel": (links("/t/rel", rel="external NoFollow"), {}),
    "/meta": ('<meta name="robots" content="noindex,NOFOLLOW"><a href="/t/meta">x</a>', {}),
    "/none": ('<meta name="ROBOTS" content="none"><a href="/t/none">x</a>', {}),
    "/ours": ('<meta name="crawl" content="nofollow"><a href="/t/ours">x</a>', {}),
    "/theirs": ('<meta name="googlebot" content="nofollow"><a href="/t/theirs">x</a>', {}),
    "/header": (links("/t/header"), {"X-Robots-Tag": "nofollow"}),
    "/header-ours": (links("/t/header-ours"), {"X-Robots-Tag": "crawl: noindex, none"}),
    "/header-theirs": (links("/t/header-theirs"), {"X-Robots-Tag": "otherbot: nofollow"}),
}


@pytest.mark.parametrize("ignore", [False, True])
def test_every_nofollow_form(tmp_path: Path, site: Site, ignore: bool) -> None:
    site.page("/", links(*NOFOLLOW_PAGES))
    for path, (html, headers) in NOFOLLOW_PAGES.items():
        site.page(path, html, headers=headers)
    site.route("/t/", lambda path, query: (200, {"Content-Type": "text/plain"}, b"target"))
    run = crawl(
        tmp_path, site.url("/"), options=("--depth", "2", *(["--ignore-nofollow"] * ignore))
    )
    targets = {url.removeprefix(site.url("/t/")) for url in run.urls() if "/t/" in url}
    if ignore:
        assert targets == {path.lstrip("/") for path in NOFOLLOW_PAGES}
    else:
        assert targets == {"theirs", "header-theirs"}
        assert run.dropped == {"nofollow": 6}


# -- redirects -----------------------------------------------------------------------------
def test_a_seed_redirecting_to_another_host_name_keeps_crawling(tmp_path: Path, site: Site) -> None:
    there = f"http://localhost:{site.port}"
    site.redirect("/", f"{there}/home")
    site.page("/home", links("/next", f"{there}/abs"))
    site.page("/next", "next")
    site.page("/abs", "abs")
    run = crawl(tmp_path, site.url("/"), options=("--depth", "2"))
    assert run.urls() == {site.url("/"), f"{there}/next", f"{there}/abs"}
    assert site.count("/home") == 1  # a redirect's target is marked seen


def test_a_seed_redirecting_http_to_https_keeps_crawling(
    tmp_path: Path, sites: list[Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On 127.0.0.1 https has its own port, which the seed's redirect brings into its
    scope; the certificate is a throwaway CA's, trusted through REQUESTS_CA_BUNDLE."""
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(tls)
    secure, plain = Site(tls=tls).start(), Site().start()
    sites += [secure, plain]
    plain.redirect("/", secure.url("/"))
    secure.page("/", links("/inside", plain.url("/plain-page")))
    secure.page("/inside", "inside")
    plain.page("/plain-page", "plain")
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    run = crawl(tmp_path, plain.url("/"), options=("--depth", "1"))
    assert run.urls() == {plain.url("/"), secure.url("/inside"), plain.url("/plain-page")}


def test_a_redirect_loop_of_a_found_link_is_its_error_line(tmp_path: Path, site: Site) -> None:
    site.page("/", links("/loop"))
    site.redirect("/loop", "/loop")
    run = crawl(tmp_path, site.url("/"), options=("--depth", "1"))
    assert run.fetched[site.url("/loop")] == "too many redirects (10)"
    assert run.code == 1


def test_a_found_link_redirecting_off_scope(tmp_path: Path, sites: list[Site]) -> None:
    home, other = Site().start(), Site().start()
    sites += [home, other]
    home.page("/", links("/away"))
    home.redirect("/away", other.url("/there"))
    other.page("/there", links(other.url("/further")))
    run = crawl(tmp_path, home.url("/"), options=("--depth", "2", "--allow-private-network"))
    assert run.fetched[home.url("/away")] == f"redirected off scope to 127.0.0.1:{other.port}"
    assert other.total() == 0


# -- private addresses -------------------------------------------------------------------------
@pytest.mark.parametrize("scope", ["host", "any"])
def test_links_to_another_loopback_port_and_to_localhost_are_refused(
    tmp_path: Path, sites: list[Site], scope: str
) -> None:
    home, other = Site().start(), Site().start()
    sites += [home, other]
    targets = [other.url("/"), f"http://localhost:{other.port}/", f"http://localhost:{home.port}/x",
               f"http://[::1]:{other.port}/", f"http://2130706433:{other.port}/"]  # fmt: skip
    home.page("/", links(*targets, "/fine"))
    home.page("/fine", "fine")
    run = crawl(
        tmp_path, home.url("/"), options=("--depth", "1", "--scope", scope, "--max-pages", "50")
    )
    assert run.urls() == {home.url("/"), home.url("/fine")}
    assert other.total() == 0 and home.count("/x") == 0
    reason = "offsite" if scope == "host" else "private-address"
    assert run.dropped == {reason: len(targets)}
    # the rejected log holds each as a browser reads it: 2130706433 is 127.0.0.1
    spelled = [url.replace("2130706433", "127.0.0.1") for url in targets]
    assert sorted(url for r, url, _ in run.rejected) == sorted(spelled)


def test_allow_private_network_lets_them_through(tmp_path: Path, sites: list[Site]) -> None:
    home, other = Site().start(), Site().start()
    sites += [home, other]
    home.page("/", links(other.url("/"), f"http://localhost:{home.port}/x"))
    other.page("/", "other")
    home.page("/x", "x")
    options = ("--depth", "1", "--scope", "any", "--max-pages", "10", "--allow-private-network")
    run = crawl(tmp_path, home.url("/"), options=options)
    assert run.urls() == {home.url("/"), other.url("/"), f"http://localhost:{home.port}/x"}


def test_a_found_link_redirecting_to_a_private_address_is_refused(
    tmp_path: Path, sites: list[Site]
) -> None:
    home, other = Site().start(), Site().start()
    sites += [home, other]
    home.page("/", links("/hop"))
    home.redirect("/hop", other.url("/secret"))
    run = crawl(
        tmp_path, home.url("/"), options=("--depth", "1", "--scope", "any", "--max-pages", "10")
    )
    assert run.fetched[home.url("/hop")] == "refused: private address (127.0.0.1)"
    assert other.total() == 0


def test_scope_any_needs_max_pages(tmp_path: Path, site: Site) -> None:
    url_file = write_urls(tmp_path / "urls.txt", site.url("/"))
    result = run_crawl(
        str(url_file), "--depth", "1", "--scope", "any", "--output", str(tmp_path / "db")
    )
    assert result.returncode == 2
    assert "--scope any needs --max-pages" in result.stderr
    assert site.total() == 0


# -- robots.txt of hosts met by following ------------------------------------------------------
def test_a_host_met_by_following_gets_its_robots_txt_first(
    tmp_path: Path, sites: list[Site]
) -> None:
    home, other = Site().start(), Site().start()
    sites += [home, other]
    home.page("/", links(other.url("/open"), other.url("/private/x")))
    other.page("/robots.txt", "User-agent: *\nDisallow: /private\n", "text/plain")
    other.page("/open", "open")
    options = ("--depth", "1", "--scope", "any", "--max-pages", "10", "--allow-private-network")
    run = crawl(tmp_path, home.url("/"), options=options)
    assert run.urls() == {home.url("/"), other.url("/open")}
    assert other.targets == ["/robots.txt", "/open"]
    assert run.dropped == {"robots": 1} and ("robots", other.url("/private/x"), "-") in run.rejected


# -- pages that are not HTML, follow rules -------------------------------------------------------
def test_html_served_as_another_type_has_no_links(tmp_path: Path, site: Site) -> None:
    site.page("/plain", links("/from-plain"), "text/plain")
    site.page("/untyped", links("/from-untyped"), "")
    site.page("/from-untyped", "sniffed")
    site.page("/", links("/plain", "/untyped"))
    run = crawl(tmp_path, site.url("/"), options=("--depth", "3"))
    assert site.count("/from-plain") == 0 and site.count("/from-untyped") == 1
    assert run.urls() == {site.url(p) for p in ["/", "/plain", "/untyped", "/from-untyped"]}


def board_site(site: Site) -> None:
    """Eleven board pages (/board/4 and ?offset=0 to 90) linked by a pager whose last
    page links to itself, each the saved board page: five films, each linked twice."""
    saved = (Path(__file__).parent / "pages" / "board.html").read_text(encoding="utf-8")

    def board(path: str, query: str) -> tuple[int, dict, bytes]:
        offset = int(query.partition("=")[2] or 0)
        pager = (
            f"<ul class='list-pager'><li><a href='?offset={max(offset - 10, 0)}'>prev</a></li>"
            f"<li><a href='?offset={min(offset + 10, 90)}'>next</a></li></ul><a href='/about'>a</a>"
        )
        html = re.sub(r'<ul class="list-pager">.*?</ul>', pager, saved, flags=re.S)
        return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode()

    site.route("/board/4", board)
    site.route("/films/", lambda path, query: (200, {"Content-Type": "text/html"}, b"<p>film"))


PAGER_RULE = "[[follow.rule]]\nlinks = 'ul.list-pager a'\npagination = true\nparse = ['board']\n"


def test_the_whole_top100_from_one_listed_url(tmp_path: Path, site: Site) -> None:
    board_site(site)
    config = tmp_path / "crawl.toml"
    config.write_text("[follow]\ndepth = 1\n\n" + PAGER_RULE, encoding="utf-8")
    run = crawl(tmp_path, site.url("/board/4") + " board", options=("--config", str(config)))
    boards = {url for url in run.urls() if "/board/4" in url}
    assert boards == {site.url("/board/4")} | {
        site.url(f"/board/4?offset={n}") for n in range(0, 100, 10)
    }
    entries = [key for kind, key, _ in run.records if kind == "board"]
    assert len(entries) == 5 * 11 and set(entries) == boards
    assert site.count("/films/1201") == 0
    assert run.dropped["pattern"] == 11 * 11  # ten film links and /about a page: no rule


def test_a_second_rule_fetches_the_films_without_parsers(tmp_path: Path, site: Site) -> None:
    board_site(site)
    config = tmp_path / "crawl.toml"
    films = "[[follow.rule]]\nallow = '/films/\\d+$'\nparse = []\n"
    config.write_text("[follow]\ndepth = 1\n\n" + PAGER_RULE + "\n" + films, encoding="utf-8")
    run = crawl(tmp_path, site.url("/board/4"), options=("--config", str(config)))
    assert {url for url in run.urls() if "/films/" in url} == {
        site.url(f"/films/{n}") for n in range(1201, 1206)
    }
    boards = {key for kind, key, _ in run.records if kind == "board"}
    assert site.url("/board/4") not in boards and len(boards) == 10  # the listed one: no parser
    assert run.dropped["pattern"] == 11  # /about


def test_a_bad_follow_table_is_one_line_and_exit_2(tmp_path: Path, site: Site) -> None:
    config = tmp_path / "crawl.toml"
    config.write_text("[[follow.rule]]\nlinks = 'ul..x'\n", encoding="utf-8")
    url_file = write_urls(tmp_path / "urls.txt", site.url("/"))
    result = run_crawl(str(url_file), "--config", str(config), "--output", str(tmp_path / "db"))
    assert result.returncode == 2
    assert "[[follow.rule]] 1 links: bad CSS selector 'ul..x'" in result.stderr
    assert site.total() == 0


# -- sitemaps ---------------------------------------------------------------------------
def urlset(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode()


def index(*urls: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in urls)
    return f"<sitemapindex>{entries}</sitemapindex>".encode()


def test_sitemaps(tmp_path: Path, site: Site) -> None:
    """An index of indexes with a cycle, gzip named .xml, off-host entries, a DOCTYPE
    with entities: what the entries name is crawled, at --depth 0 too."""
    u = site.url
    site.page(
        "/robots.txt",
        f"User-agent: *\nDisallow: /private\nSitemap: {u('/index.xml')}\n",
        "text/plain",
    )
    site.page("/index.xml", index(u("/index2.xml"), u("/gz.xml")), "application/xml")
    site.page("/index2.xml", index(u("/index.xml"), u("/plain.xml")), "application/xml")  # a cycle
    site.page(
        "/gz.xml", gzip.compress(urlset(u("/from-gzip"), "http://other.example/off")), "text/xml"
    )
    doctype = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
        b"<urlset><url><loc>&e;</loc></url><url><loc>" + u("/from-plain").encode() + b"</loc></url>"
        b"<url><loc>" + u("/private/p").encode() + b"</loc></url></urlset>"
    )
    site.page("/plain.xml", doctype, "text/xml")
    site.page("/", "home")
    site.page("/from-gzip", links("/not-followed-at-depth-0"))
    site.page("/from-plain", "plain")
    run = crawl(tmp_path, u("/"), options=("--sitemaps",))
    sitemap_files = {u(p) for p in ["/index.xml", "/index2.xml", "/gz.xml", "/plain.xml"]}
    assert run.urls() == {u("/"), u("/from-gzip"), u("/from-plain"), *sitemap_files}
    assert run.fetched[u("/private/p")] == "disallowed by robots.txt"  # a URL of the run
    assert run.dropped == {"offsite": 1, "seen": 1}
    assert site.count("/not-followed-at-depth-0") == 0
    assert site.count("/index.xml") == 1


def test_a_sitemap_gzip_bomb(tmp_path: Path, site: Site) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    entry = f"<url><loc>{site.url('/bomb')}</loc></url>".encode() * 10_000
    body = b"".join([packer.compress(b"<urlset>"), *(packer.compress(entry) for _ in range(200)),
                     packer.flush()])  # fmt: skip
    assert len(body) < 1024 * 1024  # 100 MB inflated
    site.page("/", "home")
    site.page("/bomb.xml.gz", body, "application/x-gzip")
    site.page("/robots.txt", f"Sitemap: {site.url('/bomb.xml.gz')}\n", "text/plain")
    site.page("/bomb", "bomb")
    run = crawl(tmp_path, site.url("/"), options=("--sitemaps",))
    errors = [rest for kind, key, rest in run.records if kind == "error" and key.endswith(".gz")]
    assert errors == ["sitemap: larger than 52428800 bytes inflated"]
    assert run.urls() == {site.url("/"), site.url("/bomb.xml.gz"), site.url("/bomb")}
    assert run.dropped["seen"] == 50_000 - 1 and run.dropped["budget"] > 0  # past 50,000
    assert run.code == 1


def test_a_sitemap_of_50001_entries(tmp_path: Path, site: Site) -> None:
    site.page("/", "home")
    site.page("/big.xml", urlset(*(site.url(f"/e/{n}") for n in range(50_001))), "text/xml")
    site.page("/robots.txt", f"Sitemap: {site.url('/big.xml')}\n", "text/plain")
    site.route("/e/", lambda path, query: (200, {"Content-Type": "text/plain"}, b"e"))
    run = crawl(tmp_path, site.url("/"), options=("--sitemaps", "--max-pages", "30"))
    assert len(run.urls()) == 30  # /, /big.xml and 28 entries
    assert {site.url(f"/e/{n}") for n in range(28)} <= run.urls()
    assert run.dropped == {"budget": 50_000 - 28 + 1}  # the 50,001st counted, not kept


def test_allow_and_deny(tmp_path: Path, site: Site) -> None:
    site.page("/", links("/docs/a", "/docs/private/b", "/blog/c"))
    site.route("/", lambda path, query: (200, {"Content-Type": "text/plain"}, b"x"))
    options = ("--depth", "1", "--allow", "/docs/", "--deny", "/private/")
    run = crawl(tmp_path, site.url("/"), options=options)
    assert run.urls() == {site.url("/"), site.url("/docs/a")}
    assert run.dropped == {"pattern": 2}
    assert sorted(run.rejected) == [
        ("pattern", site.url("/blog/c"), site.url("/")),
        ("pattern", site.url("/docs/private/b"), site.url("/")),
    ]


def test_depth_on_the_command_line_or_the_file_s_top_wins_over_the_follow_table(
    tmp_path: Path, site: Site
) -> None:
    for n in range(5):
        site.page(f"/{n}", links(f"/{n + 1}"))
    config = tmp_path / "crawl.toml"
    config.write_text("[follow]\ndepth = 3\ndeny = ['/4']\n", encoding="utf-8")
    assert len(crawl(tmp_path, site.url("/0"), options=("--config", str(config))).urls()) == 4
    run = crawl(tmp_path, site.url("/0"), options=("--config", str(config), "--depth", "1"))
    assert len(run.urls()) == 2
    config.write_text("depth = 'inf'\n[follow]\ndepth = 1\ndeny = ['/4']\n", encoding="utf-8")
    run = crawl(tmp_path, site.url("/0"), options=("--config", str(config)))
    assert len(run.urls()) == 4 and run.dropped == {"pattern": 1}  # /4: the table's deny


def test_sitemaps_read_as_peers_read_them(tmp_path: Path, site: Site) -> None:
    """Scrapy's sitemap pages: a relative `Sitemap:` line in robots.txt, blank lines
    before `<?xml ...?>`, and a `<loc>` with a raw space, requested as %20."""
    site.page("/robots.txt", "User-agent: *\nSitemap: /map.xml\n", "text/plain")
    body = b"\n\n  " + urlset(site.url("/odd/space here"), site.url("/plain"))
    site.page("/map.xml", body, "application/xml")
    site.page("/", "home")
    site.page("/odd/space%20here", "odd")
    site.page("/plain", "plain")
    run = crawl(tmp_path, site.url("/"), options=("--sitemaps",))
    assert run.urls() == {
        site.url("/"),
        site.url("/map.xml"),
        site.url("/odd/space%20here"),
        site.url("/plain"),
    }
    assert run.code == 0
