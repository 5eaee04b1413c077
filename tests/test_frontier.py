"""crawler.frontier: the frontier alone, driven by a fake clock and a dict for a web:
breadth first per host, dedupe, budgets, the robots gate, the spill, sitemaps."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from crawler.frontier import (
    FOUND,
    LISTED,
    MAPPED,
    ROBOTS,
    SITEMAP,
    Fetch,
    Frontier,
    Refused,
    make_policy,
)
from crawler.frontier.politeness import HostQueues
from crawler.frontier.rules import FollowRule
from crawler.frontier.sitemaps import Sitemap
from crawler.model import Failure, FetchPolicy, Job, Link, Page
from crawler.page.links import PageLinks, unique_links
from crawler.page.selectors import Expression

Web = dict[str, list[str]]  # page URL -> the links on it


def page(url: str, text: str = "", **fields) -> Page:
    return Page(url, 200, "text/html", text, 0, 0, 1, **fields)


def crawl(
    frontier: Frontier,
    listed: list[str],
    web: Web,
    robots: dict[str, str] | None = None,
    answer: Callable[[Fetch], object] | None = None,
    fold: bool = False,
) -> tuple[list[Fetch], list[Refused]]:
    """Run the frontier to its end, one fetch at a time: every page answers with the
    links `web` gives it, every robots.txt with `robots` (404 when absent)."""
    for number, url in enumerate(listed, 1):
        assert frontier.add_listed(Job(number, url, ()), 0.0)
    fetched: list[Fetch] = []
    refused: list[Refused] = []
    while frontier.pending():
        ready = frontier.next_ready(0.0)
        assert ready is not None, "pending, yet nothing ready"
        if isinstance(ready, Refused):
            refused.append(ready)
            continue
        fetched.append(ready)
        if ready.kind == ROBOTS:
            text = (robots or {}).get(ready.host)
            result = Failure(ready.url, "HTTP 404", 1) if text is None else page(ready.url)
            frontier.done(ready, result if text is None else result._replace(text=text), 0.0)
            continue
        result = answer(ready) if answer else page(ready.url)
        frontier.done(ready, result, 0.0)
        if isinstance(result, Page) and ready.kind != SITEMAP:
            links = PageLinks(None, [Link(url) for url in web.get(ready.url, [])])
            frontier.add_links(ready, result, unique_links(links) if fold else links, 0.0)
    return fetched, refused


def following(depth: float = math.inf, **options) -> Frontier:
    hosts = options.pop("hosts", HostQueues(per_host=1))
    lookahead = options.pop("lookahead", 10_000)
    sitemaps = options.pop("sitemaps", False)
    return Frontier(
        hosts,
        lookahead=lookahead,
        follow=make_policy(depth=depth, **options),
        sitemaps=sitemaps,
        keep_rejected=True,
    )


def pages(fetched: list[Fetch]) -> list[str]:
    return [fetch.url for fetch in fetched if fetch.kind != ROBOTS]


def test_breadth_first_so_a_budget_cut_keeps_the_shallow_pages() -> None:
    web = {
        "http://a.test/": ["http://a.test/1", "http://a.test/2"],
        "http://a.test/1": ["http://a.test/1/1", "http://a.test/1/2"],
        "http://a.test/2": ["http://a.test/2/1"],
        "http://a.test/1/1": ["http://a.test/1/1/1"],
    }
    frontier = following(max_pages=4)
    fetched, _ = crawl(frontier, ["http://a.test/"], web)
    assert pages(fetched) == [
        "http://a.test/",
        "http://a.test/1",
        "http://a.test/2",
        "http://a.test/1/1",
    ]
    assert [fetch.entry.depth for fetch in fetched] == [0, 1, 1, 2]
    assert frontier.dropped == {"budget": 3}  # /1/2, /2/1, /1/1/1


def test_hosts_take_turns() -> None:
    web = {
        "http://a.test/": [f"http://a.test/{n}" for n in range(3)],
        "http://b.test/": [f"http://b.test/{n}" for n in range(3)],
    }
    fetched, _ = crawl(following(), ["http://a.test/", "http://b.test/"], web)
    hosts = [url.split("/")[2][0] for url in pages(fetched)]
    assert hosts == ["a", "b", "a", "b", "a", "b", "a", "b"]


def test_depth_counts_hops_from_the_listed_url() -> None:
    web = {f"http://a.test/{n}": [f"http://a.test/{n + 1}"] for n in range(10)}
    frontier = following(depth=3)
    fetched, _ = crawl(frontier, ["http://a.test/0"], web)
    assert pages(fetched) == [f"http://a.test/{n}" for n in range(4)]
    assert frontier.dropped == {"depth": 1}


@pytest.mark.parametrize(
    ("options", "taken"),
    [
        ({}, [True, True, False]),  # the depth limit's page leads nowhere
        ({"keep_rejected": True}, [True, True, True]),  # every drop is logged: taken
        ({"rules": [FollowRule("a.next", pagination=True)]}, [True]),  # a rule may page on
    ],
)
def test_a_page_at_the_depth_limit_has_no_links_taken(options: dict, taken: list[bool]) -> None:
    web = {f"http://a.test/{n}": [f"http://a.test/{n + 1}"] for n in range(10)}
    keep = options.pop("keep_rejected", False)
    frontier = Frontier(HostQueues(per_host=1), follow=make_policy(depth=2, **options),
                        keep_rejected=keep)  # fmt: skip
    fetched, _ = crawl(frontier, ["http://a.test/0"], web)
    assert [fetch.links for fetch in fetched if fetch.kind != ROBOTS][:3] == taken


def test_a_page_s_repeated_links_folded_by_the_worker_count_as_they_did() -> None:
    """Each link once with its count (`unique_links`, in the worker): the same
    pages fetched in the same order, every repeat counted as its first time was."""
    web = {
        "http://a.test/": ["http://a.test/1", "http://b.test/", "http://a.test/1",
                           "http://a.test/2", "http://b.test/", "http://a.test/1#top",
                           "http://A.test/2", "mailto:x@a.test", "mailto:x@a.test"],
        "http://a.test/1": ["http://a.test/", "http://a.test/3", "http://a.test/3"],
        "http://a.test/2": ["http://a.test/3", "http://a.test/4", "http://a.test/4"],
    }  # fmt: skip
    runs = []
    for fold in (False, True):
        frontier = Frontier(HostQueues(per_host=1), follow=make_policy(depth=2, max_pages=4))
        fetched, _ = crawl(frontier, ["http://a.test/"], web, fold=fold)
        runs.append((pages(fetched), dict(frontier.dropped)))
    assert runs[0] == runs[1]
    assert runs[1][1] == {"seen": 6, "offsite": 2, "scheme": 2, "budget": 2}


def test_spellings_of_one_address_are_fetched_once_and_the_first_parsers_win() -> None:
    frontier = following()
    assert frontier.add_listed(Job(1, "http://a.test/p?b=2&a=1", ("board",)), 0.0)
    assert frontier.add_listed(Job(2, "http://A.TEST:80/p?a=1&b=2#x", ()), 0.0)
    ready = frontier.next_ready(0.0)
    assert ready.entry.parsers == ("board",) and ready.entry.line == 1
    assert frontier.next_ready(0.0) is None and not frontier.pending()
    assert frontier.dropped == {}  # a URL listed twice is not a link dropped


def test_without_following_the_key_is_the_url_as_written() -> None:
    frontier = Frontier(HostQueues(per_host=4))
    for number, url in enumerate(["http://a.test/?x=1&y=2", "http://a.test/?y=2&x=1"], 1):
        frontier.add_listed(Job(number, url, ()), 0.0)
    assert frontier.queued == 2 and not frontier.following


def test_a_redirect_s_urls_are_marked_seen() -> None:
    def answer(fetch: Fetch) -> Page:
        if fetch.url == "http://a.test/old":
            return page(fetch.url, final_url="http://a.test/new", redirects=("http://a.test/new",))
        return page(fetch.url)

    web = {
        "http://a.test/": ["http://a.test/old", "http://a.test/x"],
        "http://a.test/x": ["http://a.test/new"],
    }
    frontier = following()
    fetched, _ = crawl(frontier, ["http://a.test/"], web, answer=answer)
    assert pages(fetched) == ["http://a.test/", "http://a.test/old", "http://a.test/x"]
    assert frontier.dropped == {"seen": 1}


def test_listed_urls_are_never_cut_by_the_budget() -> None:
    frontier = following(max_pages=2)
    listed = [f"http://a.test/{n}" for n in range(5)]
    fetched, _ = crawl(frontier, listed, {"http://a.test/0": ["http://a.test/found"]})
    assert pages(fetched) == listed
    assert frontier.dropped == {"budget": 1}


def test_at_most_1000_links_taken_from_one_page() -> None:
    frontier = following(depth=1)
    listed = "http://a.test/"
    frontier.add_listed(Job(1, listed, ()), 0.0)
    fetch = frontier.next_ready(0.0)
    frontier.done(fetch, page(listed), 0.0)
    links = [Link(f"http://a.test/{n}") for n in range(100_000)]
    rejected = frontier.add_links(fetch, page(listed), PageLinks(None, links), 0.0)
    assert frontier.found == 1000 and frontier.dropped == {"budget": 99_000}
    assert rejected[0] == ("http://a.test/1000", "budget") and len(rejected) == 99_000


def test_memory_stays_bounded_and_a_host_s_order_holds_through_the_spill() -> None:
    """A page with 5,000 links (room for 100 queued entries, 10 a host): at most 100 in
    memory at any time, the rest on disk, all fetched, in the order found."""
    links = [f"http://a.test/{n}" for n in range(5_000)]
    frontier = following(lookahead=100, max_links=10_000)
    most = 0

    def answer(fetch: Fetch) -> Page:
        nonlocal most
        most = max(most, frontier.queued)
        return page(fetch.url)

    fetched, _ = crawl(frontier, ["http://a.test/"], {"http://a.test/": links}, answer=answer)
    assert pages(fetched) == ["http://a.test/", *links]
    assert most <= 100 and frontier.spill.count == 0


def test_links_of_a_big_host_do_not_hide_the_others() -> None:
    web = {"http://big.test/": [f"http://big.test/{n}" for n in range(500)],
           "http://small.test/": ["http://small.test/1"]}  # fmt: skip
    fetched, _ = crawl(following(lookahead=50), ["http://big.test/", "http://small.test/"], web)
    order = pages(fetched)
    assert order.index("http://small.test/1") < 10


def test_pagination_costs_no_depth_and_has_its_own_cap() -> None:
    pager = FollowRule(links="a.next", pagination=True, parse=("board",))
    films = FollowRule(allow=(__import__("re").compile(r"/film/\d+$"),))
    frontier = following(depth=1, rules=(pager, films))
    chain = {f"http://a.test/p{n}": n for n in range(200)}

    def links_of(url: str) -> list[Link]:
        n = chain[url]
        return [
            Link(f"http://a.test/p{n + 1}", rules=0b01),  # next page
            Link(f"http://a.test/p{n}", rules=0b01),  # this page
            Link(f"http://a.test/film/{n}", rules=0b10),
            Link("http://a.test/about", rules=0b10),
        ]

    frontier.add_listed(Job(1, "http://a.test/p0", ("other",)), 0.0)
    fetched = []
    while frontier.pending():
        ready = frontier.next_ready(0.0)
        fetched.append(ready)
        frontier.done(ready, page(ready.url), 0.0)
        if ready.url in chain:
            frontier.add_links(ready, page(ready.url), PageLinks(None, links_of(ready.url)), 0.0)
    boards = [fetch for fetch in fetched if "/p" in fetch.url]
    assert len(boards) == 101  # the listed page and a chain of 100
    assert {fetch.entry.depth for fetch in boards} == {0}
    assert all(fetch.entry.parsers == ("board",) for fetch in boards[1:])  # not "other"
    assert boards[0].entry.parsers == ("other",)
    films = [fetch for fetch in fetched if "/film/" in fetch.url]
    assert len(films) == 101 and all(fetch.entry.parsers == () for fetch in films)
    assert frontier.dropped["pattern"] == 101  # /about: no rule matches it
    # Past the cap, the last page's links to the next page and to itself (the
    # depth check comes before the seen one); before it, each page's link to itself.
    assert frontier.dropped["depth"] == 2
    assert frontier.dropped["seen"] == 100


def test_the_robots_gate_for_a_host_met_by_following() -> None:
    web = {"http://a.test/": ["http://b.test/ok", "http://b.test/private/x"]}
    frontier = following(scope="any", max_pages=10)
    frontier.robots_agent = "crawl"
    fetched, refused = crawl(
        frontier,
        ["http://a.test/"],
        web,
        robots={"http://b.test": "User-agent: *\nDisallow: /private"},
    )
    kinds = [(fetch.kind, fetch.url) for fetch in fetched]
    assert kinds.index((ROBOTS, "http://b.test/robots.txt")) < kinds.index(
        (FOUND, "http://b.test/ok")
    )
    assert [(r.entry.url, r.recorded) for r in refused] == [("http://b.test/private/x", False)]
    assert frontier.dropped == {"robots": 1}
    robots_b = next(fetch for fetch in fetched if fetch.url == "http://b.test/robots.txt")
    assert robots_b.policy == FetchPolicy(None, True, "")  # the guard, and no scope


def test_a_listed_url_refused_by_robots_is_recorded() -> None:
    frontier = following()
    frontier.robots_agent = "crawl"
    _, refused = crawl(
        frontier, ["http://a.test/no"], {}, robots={"http://a.test": "User-agent: *\nDisallow: /no"}
    )
    assert [(r.entry.url, r.recorded, r.reason) for r in refused] == [
        ("http://a.test/no", True, "disallowed by robots.txt")
    ]


def test_what_the_worker_is_asked_to_check() -> None:
    web = {"http://a.test/": ["http://a.test/x"]}
    fetched, _ = crawl(following(), ["http://a.test/"], web)
    listed, found = fetched
    assert listed.kind == LISTED and listed.policy is None  # listed: nothing to check
    scope = found.policy.scope
    assert found.kind == FOUND and found.policy.guard_private
    assert found.policy.exempt_origin == "http://a.test"  # the listed URL's host
    assert scope.allows("https://a.test/y") and not scope.allows("http://b.test/")
    fetched, _ = crawl(following(guard_private=False), ["http://a.test/"], web)
    assert not fetched[1].policy.guard_private


def test_a_seed_redirect_widens_its_scope() -> None:
    def answer(fetch: Fetch) -> Page:
        if fetch.url == "http://a.test/":
            return page(
                fetch.url, final_url="https://www.a.test/", redirects=("https://www.a.test/",)
            )
        return page(fetch.url)

    web = {"http://a.test/": ["https://www.a.test/docs", "http://b.test/"]}
    frontier = following()
    fetched, _ = crawl(frontier, ["http://a.test/"], web, answer=answer)
    assert pages(fetched) == ["http://a.test/", "https://www.a.test/docs"]
    assert fetched[1].policy.exempt_origin == "https://www.a.test"
    assert frontier.dropped == {"offsite": 1}


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("http://127.0.0.1:9/", "private-address"),
        ("http://localhost:9/", "private-address"),
        ("http://[::1]/", "private-address"),
        ("http://169.254.169.254/latest/meta-data/", "private-address"),
        ("http://2130706433/", "private-address"),
        ("http://a.test/page", None),  # the listed URL's own host: exempt
        ("http://public.test/", None),  # a name: the worker resolves and checks it
    ],
)
def test_links_to_private_addresses_are_refused_before_any_task(
    link: str, reason: str | None
) -> None:
    frontier = following(scope="any", max_pages=10)
    fetched, _ = crawl(frontier, ["http://a.test/"], {"http://a.test/": [link]})
    assert (link in pages(fetched)) is (reason is None)
    assert frontier.dropped == ({reason: 1} if reason else {})


def test_a_listed_private_host_and_its_own_port_are_exempt() -> None:
    web = {
        "http://127.0.0.1:8000/": [
            "http://127.0.0.1:8000/a",
            "http://127.0.0.1:8001/",
            "http://localhost:8000/",
        ]
    }
    frontier = following(scope="any", max_pages=10)
    fetched, _ = crawl(frontier, ["http://127.0.0.1:8000/"], web)
    assert pages(fetched) == ["http://127.0.0.1:8000/", "http://127.0.0.1:8000/a"]
    assert frontier.dropped == {"private-address": 2}


def test_every_drop_is_counted_and_listed() -> None:
    links = [
        Link("mailto:a@a.test"),
        Link("http://a.test/" + "x" * 2100),
        Link("http://b.test/"),
        Link("http://a.test/nf", nofollow=True),
        Link("http://a.test/denied/x"),
        Link("http://a.test/photo.jpg"),
        Link("http://a.test/"),
        Link("http://a.test/r/r/r/"),
        Link("http://a.test/ok"),
    ]
    frontier = following(depth=1, deny=["/denied/"])
    frontier.add_listed(Job(1, "http://a.test/", ()), 0.0)
    fetch = frontier.next_ready(0.0)
    rejected = frontier.add_links(fetch, page(fetch.url), PageLinks(None, links), 0.0)
    assert rejected == [
        ("mailto:a@a.test", "scheme"),
        ("http://a.test/" + "x" * 2100, "length"),
        ("http://b.test/", "offsite"),
        ("http://a.test/nf", "nofollow"),
        ("http://a.test/denied/x", "pattern"),
        ("http://a.test/photo.jpg", "extension"),
        ("http://a.test/", "seen"),
        ("http://a.test/r/r/r/", "pattern"),
    ]
    assert sum(frontier.dropped.values()) == len(rejected) and frontier.found == 1


def test_a_page_that_says_nofollow_gives_no_links_unless_told_to_ignore_it() -> None:
    for obey, expected in [(True, {"nofollow": 2}), (False, {})]:
        frontier = following(depth=1, obey_nofollow=obey)
        frontier.add_listed(Job(1, "http://a.test/", ()), 0.0)
        fetch = frontier.next_ready(0.0)
        found = PageLinks(
            '<meta name="robots">', [Link("http://a.test/1"), Link("http://a.test/2")]
        )
        frontier.add_links(fetch, page(fetch.url), found, 0.0)
        assert frontier.dropped == expected


def test_sitemaps_named_by_robots_txt_feed_the_run() -> None:
    """An index of indexes with a cycle, six levels deep: five levels are read, the
    entries pass the scope, and are URLs of the run even at --depth 0."""
    files = {
        "http://a.test/s1.xml": Sitemap([], ["http://a.test/s2.xml"]),
        "http://a.test/s2.xml": Sitemap(
            ["http://a.test/e2"], ["http://a.test/s1.xml", "http://a.test/s3.xml"]
        ),
        "http://a.test/s3.xml": Sitemap(
            ["http://a.test/e3", "http://b.test/off", "http://a.test/pic.png"],
            ["http://a.test/s4.xml"],
        ),
        "http://a.test/s4.xml": Sitemap([], ["http://a.test/s5.xml"]),
        "http://a.test/s5.xml": Sitemap(["http://a.test/e5"], ["http://a.test/s6.xml"]),
        "http://a.test/s6.xml": Sitemap(["http://a.test/e6"], []),
    }
    frontier = following(depth=0, sitemaps=True)
    assert frontier.following
    frontier.add_listed(Job(1, "http://a.test/", ()), 0.0)
    fetched = []
    while frontier.pending():
        ready = frontier.next_ready(0.0)
        fetched.append(ready)
        if ready.kind == ROBOTS:
            frontier.done(ready, page(ready.url, text="Sitemap: http://a.test/s1.xml\n"), 0.0)
        else:
            frontier.done(ready, page(ready.url), 0.0)
            if ready.kind == SITEMAP:
                assert ready.raw and ready.policy.scope is None
                frontier.add_sitemap(ready, files[ready.url], 0.0)
    sitemaps = [fetch.url for fetch in fetched if fetch.kind == SITEMAP]
    assert sitemaps == [f"http://a.test/s{n}.xml" for n in range(1, 6)]
    mapped = [fetch for fetch in fetched if fetch.kind == MAPPED]
    assert [fetch.url for fetch in mapped] == [
        "http://a.test/e2",
        "http://a.test/e3",
        "http://a.test/e5",
    ]
    assert all(fetch.entry.depth == 0 and fetch.policy.scope is not None for fetch in mapped)
    assert frontier.dropped == {"seen": 1, "offsite": 1, "extension": 1, "depth": 1}


def test_sitemaps_even_with_robots_ignored() -> None:
    frontier = following(depth=0, sitemaps=True, hosts=HostQueues(per_host=2))
    assert frontier.robots_agent is None
    frontier.add_listed(Job(1, "http://a.test/no", ()), 0.0)
    robots = frontier.next_ready(0.0)
    assert robots.kind == ROBOTS
    frontier.done(
        robots,
        page(robots.url, text="User-agent: *\nDisallow: /\nSitemap: http://a.test/s.xml"),
        0.0,
    )
    assert {frontier.next_ready(0.0).url, frontier.next_ready(0.0).url} == {
        "http://a.test/no",
        "http://a.test/s.xml",
    }


def test_a_page_no_parser_reads_comes_back_without_its_text() -> None:
    """Its `url:` line needs its size alone: the worker keeps the text (tens of KB
    to unpickle here) for the pages whose parsers, or the run's JSON rules, read it."""
    frontier = Frontier(HostQueues(per_host=4), follow=make_policy(depth=1))
    assert frontier.add_listed(Job(1, "http://a.test/", ()), 0.0)
    assert frontier.add_listed(Job(2, "http://b.test/", ("board",)), 0.0)
    wanted = {fetch.url: fetch.text for fetch in (frontier.next_ready(0.0) for _ in range(2))}
    assert wanted == {"http://a.test/": False, "http://b.test/": True}
    json_links = FollowRule(jmespath=Expression("items[].url"))
    frontier = Frontier(HostQueues(per_host=4), follow=make_policy(rules=[json_links]))
    assert frontier.add_listed(Job(1, "http://a.test/", ()), 0.0)
    assert frontier.next_ready(0.0).text
