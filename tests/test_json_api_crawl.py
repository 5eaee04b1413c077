"""A JSON API on 127.0.0.1 crawled without code: links selected with JMESPath, the
`Link: rel="next"` header, a query parameter advanced; `__NEXT_DATA__` and JSON-LD
pages. Checked: the records and their JSON types, the requests the server got, and
every stop of a chain counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.site_server import Site
from tests.test_follow_crawl import Run, crawl

FILMS = [
    {"id": n, "title": f"film {n}", "score": n / 2, "tags": ["a", str(n)]} for n in range(1, 24)
]
PARSERS = """
[parsers.film]
item = { jmespath = "data.items[*]" }
[parsers.film.fields]
id = { jmespath = "id", required = true }
title = { jmespath = "title" }
score = { jmespath = "score" }
tags = { jmespath = "tags", all = true }
"""
JSON = "application/json; charset=utf-8"


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site().start()
    yield site
    site.stop()


def answer(body: object, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    return 200, {"Content-Type": JSON, **(headers or {})}, json.dumps(body).encode()


def number(query: str, name: str, default: int) -> int:
    return int(parse_qs(query).get(name, [default])[0])


def api(site: Site) -> None:
    """The same 23 films served four ways, 5 a page."""

    def by_offset(path: str, query: str):
        offset = number(query, "offset", 0)
        return answer({"data": {"items": FILMS[offset : offset + 5]}})

    def by_page(path: str, query: str):
        page = number(query, "page", 1)
        return answer({"data": {"items": FILMS[(page - 1) * 5 : page * 5]}})

    def with_next(path: str, query: str):
        cursor = number(query, "cursor", 0)
        after = f"/api/next?cursor={cursor + 5}" if cursor + 5 < len(FILMS) else None
        return answer({"data": {"items": FILMS[cursor : cursor + 5], "next": after}})

    def with_header(path: str, query: str):
        page = number(query, "p", 1)
        links = [f'<{site.url("/api/header")}?p=1>; rel="first"']
        if page * 5 < len(FILMS):
            links.append(f'<?p={page + 1}>; title="next page"; rel="next last"')
        return answer({"data": {"items": FILMS[(page - 1) * 5 : page * 5]}},
                      {"Link": ", ".join(links)})  # fmt: skip

    site.route("/api/offset", by_offset)
    site.route("/api/page", by_page)
    site.route("/api/next", with_next)
    site.route("/api/header", with_header)


def run(tmp_path: Path, site: Site, rule: str, *urls: str, depth: str = "0") -> Run:
    config = tmp_path / "crawl.toml"
    config.write_text(PARSERS + "\n[[follow.rule]]\n" + rule, encoding="utf-8")
    return crawl(tmp_path, *urls, options=("--config", str(config), "--depth", depth))


def films(run: Run) -> list[dict]:
    return [json.loads(rest) for kind, _, rest in run.records if kind == "film"]


def assert_every_film_once_with_its_types(run: Run) -> None:
    found = sorted(films(run), key=lambda film: film["id"])
    assert found == FILMS
    assert all(type(film["id"]) is int and type(film["score"]) is float for film in found)


def test_an_offset_parameter_is_advanced_until_a_page_has_no_item(
    tmp_path: Path, site: Site
) -> None:
    api(site)
    rule = 'next = { param = "offset", step = 5 }\nparse = ["film"]\nallow = "/api/offset"\n'
    result = run(tmp_path, site, rule, site.url("/api/offset?offset=0") + "  film")
    assert_every_film_once_with_its_types(result)
    pages = [site.url(f"/api/offset?offset={n}") for n in range(0, 30, 5)]
    assert set(result.fetched) == set(pages)
    assert [t for t in site.targets if t.startswith("/api/")] == [
        f"/api/offset?offset={n}" for n in range(0, 30, 5)
    ]  # one request each, in order, and none past the empty page
    assert result.fetched[pages[-1]].startswith("size:")  # the empty page: no error line
    assert not [r for r in result.records if r[0] == "error"]
    assert result.code == 0
    assert result.dropped == {"last-page": 1}
    assert result.rejected == [("last-page", site.url("/api/offset?offset=30"), pages[-1])]


def test_a_page_parameter_starts_at_1_when_the_url_has_none(tmp_path: Path, site: Site) -> None:
    api(site)
    rule = 'next = { param = "page" }\nparse = ["film"]\n'
    result = run(tmp_path, site, rule, site.url("/api/page") + "  film")
    assert_every_film_once_with_its_types(result)
    assert [t for t in site.targets if t.startswith("/api/")] == ["/api/page"] + [
        f"/api/page?page={n}" for n in range(2, 7)
    ]
    assert result.code == 0 and result.dropped == {"last-page": 1}


def test_a_listed_page_without_parsers_starts_the_chain(tmp_path: Path, site: Site) -> None:
    api(site)
    rule = 'next = { param = "page" }\nparse = ["film"]\n'
    result = run(tmp_path, site, rule, site.url("/api/page?page=1"))
    assert sorted(film["id"] for film in films(result)) == list(range(6, 24))
    assert site.count("/api/page") == 6


def test_the_chain_stops_at_its_cap(tmp_path: Path, site: Site) -> None:
    site.route("/api/forever", lambda path, query: answer({"data": {"items": [{"id": 1}]}}))
    rule = 'next = { param = "page" }\nparse = ["film"]\n'
    result = run(tmp_path, site, rule, site.url("/api/forever") + "  film")
    assert site.count("/api/forever") == 101  # the listed page and a chain of 100
    assert result.dropped == {"depth": 1}


def test_the_chain_stops_at_a_page_seen_before(tmp_path: Path, site: Site) -> None:
    api(site)
    rule = 'next = { param = "page" }\nparse = ["film"]\n'
    listed = [site.url(f"/api/page?page={n}") + "  film" for n in (1, 3)]
    result = run(tmp_path, site, rule, *listed)
    assert_every_film_once_with_its_types(result)
    assert sorted(t for t in site.targets if t.startswith("/api/")) == [
        f"/api/page?page={n}" for n in range(1, 7)
    ]  # page 2's next page, 3, was listed: seen
    assert result.dropped == {"seen": 1, "last-page": 1}


def test_links_selected_with_jmespath_page_through_an_api(tmp_path: Path, site: Site) -> None:
    api(site)
    rule = 'links = { jmespath = "data.next" }\npagination = true\nparse = ["film"]\n'
    result = run(tmp_path, site, rule, site.url("/api/next") + "  film")
    assert_every_film_once_with_its_types(result)
    assert [t for t in site.targets if t.startswith("/api/")] == ["/api/next"] + [
        f"/api/next?cursor={n}" for n in range(5, 25, 5)
    ]
    assert result.code == 0 and result.dropped == {}


def test_jmespath_links_without_pagination_cost_depth(tmp_path: Path, site: Site) -> None:
    api(site)
    rule = 'links = { jmespath = "data.next" }\nparse = ["film"]\n'
    result = run(tmp_path, site, rule, site.url("/api/next") + "  film", depth="2")
    assert site.count("/api/next") == 3
    assert result.dropped == {"depth": 1}


def test_the_link_header_pages_through_an_api(tmp_path: Path, site: Site) -> None:
    api(site)
    rule = 'next = "header"\nparse = ["film"]\n'
    result = run(tmp_path, site, rule, site.url("/api/header?p=1") + "  film")
    assert_every_film_once_with_its_types(result)
    assert [t for t in site.targets if t.startswith("/api/")] == [
        f"/api/header?p={n}" for n in range(1, 6)
    ]  # rel="first" is not next; ?p=1 would be seen anyway
    assert result.code == 0


def test_json_links_obey_scope_and_are_logged_when_refused(tmp_path: Path, site: Site) -> None:
    body = {
        "data": {"items": [{"id": 1}]},
        "links": ["/api/a", "https://elsewhere.example/x", "tel:+123", 3, None, "/api/a"],
    }
    site.page("/api/list", json.dumps(body), JSON)
    site.page("/api/a", json.dumps({"data": {"items": [{"id": 2}]}, "links": []}), JSON)
    rule = 'links = { jmespath = "links" }\nparse = ["film"]\n'
    result = run(tmp_path, site, rule, site.url("/api/list") + "  film", depth="1")
    assert sorted(film["id"] for film in films(result)) == [1, 2]
    assert result.dropped == {"offsite": 1, "scheme": 1, "seen": 1}
    assert {(reason, url) for reason, url, _ in result.rejected} == {
        ("offsite", "https://elsewhere.example/x"),
        ("scheme", "tel:+123"),
        ("seen", site.url("/api/a")),
    }


def test_x_robots_tag_nofollow_holds_for_json_and_header_links(tmp_path: Path, site: Site) -> None:
    body = json.dumps({"data": {"items": [{"id": 1}]}, "links": ["/api/a"]})
    headers = {"X-Robots-Tag": "nofollow", "Link": '</api/b>; rel="next"'}
    site.page("/api/list", body, JSON, headers)
    rules = 'links = { jmespath = "links" }\nparse = ["film"]\n\n[[follow.rule]]\nnext = "header"\n'
    result = run(tmp_path, site, rules, site.url("/api/list") + "  film", depth="1")
    assert result.dropped == {"nofollow": 2}
    assert site.count("/api/a") == site.count("/api/b") == 0


EMBEDDED = """
[parsers.product]
item = { css = "script#__NEXT_DATA__::text", jmespath = "props.pageProps.products[*]" }
[parsers.product.fields]
sku = { jmespath = "sku", required = true }
price = { jmespath = "price" }

[parsers.offer]
[parsers.offer.fields]
name = { css = 'script[type="application/ld+json"]::text', jmespath = "name", all = true }
price = { css = 'script[type="application/ld+json"]::text', jmespath = "offers.price" }
"""


def test_next_data_and_json_ld_pages_in_a_crawl(tmp_path: Path, site: Site) -> None:
    next_data = {"props": {"pageProps": {"products": [{"sku": "A1", "price": 3}, {"sku": "B2"}]}}}
    page = (
        f'<html><script id="__NEXT_DATA__" type="application/json">{json.dumps(next_data)}</script>'
        '<script type="application/ld+json">{"name": "Tea", "offers": {"price": 4.5}}</script>'
        '<script type="application/ld+json">{"name": "Cup"}</script></html>'
    )
    site.page("/shop", page)
    config = tmp_path / "crawl.toml"
    config.write_text(EMBEDDED, encoding="utf-8")
    result = crawl(
        tmp_path, site.url("/shop") + "  product,offer", options=("--config", str(config))
    )
    assert [(kind, json.loads(rest)) for kind, _, rest in result.records if kind != "url"] == [
        ("product", {"sku": "A1", "price": 3}),
        ("product", {"sku": "B2", "price": None}),
        ("offer", {"name": ["Tea", "Cup"], "price": 4.5}),
    ]
