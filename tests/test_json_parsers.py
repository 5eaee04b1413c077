"""Declared parsers over JSON: pages that are JSON (by Content-Type, or sniffed), fields
read with JMESPath keeping their JSON types, data embedded in HTML (`__NEXT_DATA__`,
JSON-LD), the checks made when the config loads, and the reasons a page gets."""

from __future__ import annotations

import json

import pytest

from crawler.config import tomllib
from crawler.model import Page
from crawler.page.media_type import is_json
from pipelines import parse_page
from pipelines.parsers import Registry, RegistryError, build
from pipelines.parsers import page as page_module
from pipelines.records import read_line

URL = "https://api.example/board?offset=0"
FILM = """
[parsers.film]
item = { jmespath = "data.movies[*]" }
[parsers.film.fields]
rank  = { jmespath = "rank", required = true }
title = { jmespath = "nm" }
stars = { jmespath = "star", all = true }
link  = { jmespath = "detailUrl", url = true }
"""
BOARD = {
    "data": {
        "movies": [
            {"rank": 1, "nm": "霸王别姬", "star": ["张国荣", "张丰毅"], "detailUrl": "/films/1",
             "score": 9.5, "meta": {"year": 1993}},
            {"rank": 2, "nm": "肖申克的救赎", "star": "蒂姆·罗宾斯", "detailUrl": "https://x.example/2"},
            {"nm": "no rank: dropped"},
        ]
    }
}  # fmt: skip


def registry(toml: str) -> Registry:
    return build(tomllib.loads(toml).get("parsers"), "crawl.toml", plugins=list)


def json_page(value: object, content_type: str = "application/json", url: str = URL) -> Page:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return Page(url, 200, content_type, text, len(text), len(text.encode()), 1)


def lines(toml: str, page: Page, *names: str) -> list[str]:
    return parse_page(page, names or ("film",), registry(toml)).lines[1:]


def records(toml: str, page: Page, name: str = "film") -> list[dict]:
    found = lines(toml, page, name)
    read = [read_line(line) for line in found]
    assert all(line is not None and line.kind == name for line in read), found
    return [json.loads(line.rest) for line in read]


def test_the_issue_s_example_keeps_json_types() -> None:
    assert records(FILM, json_page(BOARD)) == [
        {"rank": 1, "title": "霸王别姬", "stars": ["张国荣", "张丰毅"],
         "link": "https://api.example/films/1"},
        {"rank": 2, "title": "肖申克的救赎", "stars": ["蒂姆·罗宾斯"], "link": "https://x.example/2"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content_type", "json_type"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("text/json", True),
        ("application/ld+json", True),
        ("application/vnd.api+json", True),
        ("application/problem+json; charset=utf-8", True),
        ("text/html", False),
        ("text/plain", False),
        ("application/javascript", False),
        ("application/jsonp", False),
        ("", False),  # no Content-Type: the text decides (ParserPage.is_json)
    ],
)
def test_a_content_type_says_json(content_type: str, json_type: bool) -> None:
    assert is_json(content_type) is json_type


@pytest.mark.parametrize(
    ("content_type", "text", "found"),
    [
        ("", json.dumps(BOARD), 2),  # no Content-Type, and the text parses: JSON
        ("", "  \n" + json.dumps(BOARD), 2),
        ("text/json", json.dumps(BOARD), 2),
        ("text/html", json.dumps(BOARD), 0),  # served as HTML: HTML, whatever it holds
        ("text/plain", json.dumps(BOARD), 0),
    ],
)
def test_the_page_is_json_by_content_type_else_sniffed(
    content_type: str, text: str, found: int
) -> None:
    got = lines(FILM, json_page(text, content_type))
    if found:
        assert [read_line(line).kind for line in got] == ["film"] * found
    else:
        assert got == [f"error:<{URL}> film: no entries found"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ('{ jmespath = "rank" }', 1),
        ('{ jmespath = "score" }', 9.5),
        ('{ jmespath = "star" }', ["张国荣", "张丰毅"]),  # a list stays a list
        ('{ jmespath = "meta" }', {"year": 1993}),  # an object an object
        ('{ jmespath = "missing" }', None),  # nothing: null
        ('{ jmespath = "star", all = true }', ["张国荣", "张丰毅"]),
        ('{ jmespath = "rank", all = true }', [1]),  # one value: a list of it
        ('{ jmespath = "missing", all = true }', []),
        ('{ jmespath = "[star, [nm]]", all = true }', [["张国荣", "张丰毅"], ["霸王别姬"]]),
        ('{ jmespath = "[star, [nm]][]", all = true }', ["张国荣", "张丰毅", "霸王别姬"]),
        ('{ jmespath = "[rank, missing, score]", all = true }', [1, 9.5]),  # nulls out
        ('{ jmespath = "rank", re = "\\\\d+" }', "1"),  # re, join, url: a string
        ('{ jmespath = "score", re = "\\\\.(\\\\d)" }', "5"),
        ('{ jmespath = "star", join = ", " }', "张国荣, 张丰毅"),
        ('{ jmespath = "[rank, score, meta]", join = "|" }', '1|9.5|{"year": 1993}'),
        ('{ jmespath = "detailUrl", url = true }', "https://api.example/films/1"),
        ('{ jmespath = "missing", url = true }', ""),
        ('{ jmespath = "star", re = "^(张.)", all = true }', ["张国", "张丰"]),
    ],
)
def test_a_json_field_keeps_its_type_unless_re_join_or_url_make_it_text(
    field: str, value: object
) -> None:
    toml = (
        '[parsers.film]\nitem = { jmespath = "data.movies[0]" }\n[parsers.film.fields]\n'
        f'r = {{ jmespath = "rank" }}\nv = {field}\n'
    )
    assert records(toml, json_page(BOARD)) == [{"r": 1, "v": value}]


@pytest.mark.parametrize(
    ("item", "count"),
    [
        ('"data.movies[*]"', 3),
        ('"data.movies"', 3),  # a list: its elements
        ('"data.movies[0]"', 1),  # one object: one item
        ('"data"', 1),
        ('"data.missing"', 0),  # null: no item
        ('"data.movies[*].star"', 2),  # elements one level down: a list is one item
    ],
)
def test_an_item_is_each_element_of_a_list_or_the_value_itself(item: str, count: int) -> None:
    toml = (
        f"[parsers.film]\nitem = {{ jmespath = {item} }}\n"
        "[parsers.film.fields]\nv = { jmespath = '@' }\n"
    )
    got = lines(toml, json_page(BOARD))
    assert len([line for line in got if line.startswith("film:")]) == count


def test_without_an_item_the_page_is_one_record() -> None:
    toml = (
        '[parsers.film]\ntype = "json"\n[parsers.film.fields]\n'
        'count = { jmespath = "length(data.movies)" }\nfirst = { jmespath = "data.movies[0].nm" }\n'
    )
    assert records(toml, json_page(BOARD)) == [{"count": 3, "first": "霸王别姬"}]


def test_a_required_field_drops_the_item_and_no_value_at_all_is_no_record() -> None:
    parsed = parse_page(json_page(BOARD), ("film",), registry(FILM))
    assert parsed.dropped == {("film", "rank"): 1}
    toml = FILM.replace('rank  = { jmespath = "rank", required = true }\n', "")
    empty = {"data": {"movies": [{}, {"other": 1}]}}
    assert lines(toml, json_page(empty)) == [f"error:<{URL}> film: no entries found"]


NEXT_DATA = """<html><head><title>Shop</title>
<script id="__NEXT_DATA__" type="application/json">
{"props": {"pageProps": {"items": [{"id": 7, "name": "Tea", "tags": ["green"]},
                                     {"id": 8, "name": "Cup", "price": null}]}}}
</script>
<script type="application/ld+json">{"@type": "Product", "offers": {"price": 12.5}}</script>
<script type="application/ld+json">{"@type": "Product", "offers": {"price": "13.00"}}</script>
<script type="application/ld+json">{ not json, skipped }</script>
</head><body><h1>Shop</h1></body></html>"""
EMBEDDED = """
[parsers.next]
item = { css = "script#__NEXT_DATA__::text", jmespath = "props.pageProps.items[*]" }
[parsers.next.fields]
id = { jmespath = "id", required = true }
name = { jmespath = "name" }
tags = { jmespath = "tags", all = true }
price = { jmespath = "price" }

[parsers.offer]
[parsers.offer.fields]
title = "h1"
price = { css = 'script[type="application/ld+json"]::text', jmespath = "offers.price" }
prices = { css = 'script[type="application/ld+json"]::text', jmespath = "offers.price", all = true }
kinds = { xpath = '//script[@type="application/ld+json"]/text()', jmespath = '"@type"', join = "," }
"""


def html_page(text: str = NEXT_DATA) -> Page:
    return Page("https://shop.example/", 200, "text/html", text, len(text), len(text), 1)


def test_data_embedded_in_html_is_read_by_chaining_css_into_jmespath() -> None:
    assert records(EMBEDDED, html_page(), "next") == [
        {"id": 7, "name": "Tea", "tags": ["green"], "price": None},
        {"id": 8, "name": "Cup", "tags": [], "price": None},
    ]
    assert records(EMBEDDED, html_page(), "offer") == [
        {"title": "Shop", "price": 12.5, "prices": [12.5, "13.00"],
         "kinds": "Product,Product"},
    ]  # fmt: skip


def test_several_embedded_blocks_each_give_items() -> None:
    blocks = "".join(
        f'<script type="application/ld+json">[{{"sku": {n}}}, {{"sku": {n + 1}}}]</script>'
        for n in (1, 3)
    )
    toml = (
        "[parsers.ld]\n"
        "item = { css = 'script[type=\"application/ld+json\"]::text', jmespath = '[*]' }\n"
        '[parsers.ld.fields]\nsku = { jmespath = "sku" }\n'
    )
    assert records(toml, html_page(blocks), "ld") == [{"sku": n} for n in (1, 2, 3, 4)]


def test_a_kind_the_parser_does_not_read_finds_nothing_without_a_type() -> None:
    mixed = '[parsers.mix.fields]\nh = "h1"\nn = { jmespath = "data.movies[0].nm" }\n'
    assert records(mixed, json_page(BOARD), "mix") == [{"h": "", "n": "霸王别姬"}]
    assert records(mixed, html_page(), "mix") == [{"h": "Shop", "n": None}]
    css_only = '[parsers.css]\n[parsers.css.fields]\nh = "h1"\n'
    assert lines(css_only, json_page(BOARD), "css") == [f"error:<{URL}> css: no entries found"]
    assert lines(FILM, html_page(), "film") == [
        "error:<https://shop.example/> film: no entries found"
    ]


@pytest.mark.parametrize(
    ("text", "content_type", "reason"),
    [
        ('{"data": [1, 2,', "application/json", "not JSON (line 1 column 16)"),
        ('{\n  "data": [1 2]\n}', "application/json; charset=utf-8", "not JSON (line 2 column 14)"),
        ("", "application/json", "not JSON (line 1 column 1)"),
        ("<html><p>an error page</p>", "application/json", "not JSON (line 1 column 1)"),
        ('{"a": NaN}', "application/json", "not JSON (NaN is not a JSON value)"),
        ("[" * 100_000, "application/json", "not JSON (nested deeper than 512 levels)"),
        # no Content-Type: not JSON, so HTML; a parser that reads JSON alone says why
        ("{'single': 'quotes'}", "", "not JSON (line 1 column 2)"),
    ],
)
def test_text_that_is_not_json_gets_a_reason_with_line_and_column(
    text: str, content_type: str, reason: str
) -> None:
    assert lines(FILM, json_page(text, content_type)) == [f"error:<{URL}> film: {reason}"]


def test_json_read_with_a_lone_surrogate_is_written_as_utf8() -> None:
    found = lines(FILM, json_page('{"data": {"movies": [{"rank": 1, "nm": "a\\ud800b"}]}}'))
    assert found[0].encode("utf-8").endswith('"a\ufffdb", "stars": [], "link": ""}'.encode())


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[parsers.p]\ntype = "json"\n[parsers.p.fields]\na = "h1"\n',
         "parser 'p', field 'a': the parser reads JSON (type = \"json\"): give jmespath alone, "
         "not 'h1'"),
        ('[parsers.p]\ntype = "json"\n[parsers.p.fields]\na = { xpath = "//h1" }\n',
         "give jmespath alone, not '//h1'"),
        ('[parsers.p]\ntype = "json"\n[parsers.p.fields]\n'
         'a = { css = "script::text", jmespath = "a" }\n',
         "give jmespath alone, not 'script::text'"),
        ('[parsers.p]\ntype = "json"\nitem = "div"\n[parsers.p.fields]\na = { jmespath = "a" }\n',
         "parser 'p', item: type = \"json\" reads JSON: give jmespath alone, not 'div'"),
        ('[parsers.p]\ntype = "html"\n[parsers.p.fields]\na = { jmespath = "a" }\n',
         "parser 'p', field 'a': the parser reads HTML (type = \"html\"): a jmespath field "
         "needs css or xpath to pick the JSON text"),
        ('[parsers.p]\ntype = "html"\nitem = { jmespath = "a" }\n[parsers.p.fields]\n'
         'a = { jmespath = "a" }\n',
         "parser 'p', item: type = \"html\" reads HTML: a jmespath item needs css or xpath"),
        ('[parsers.p]\nitem = { jmespath = "a[*]" }\n[parsers.p.fields]\na = "h1"\n',
         "parser 'p', field 'a': the parser reads JSON items: give jmespath alone, not 'h1'"),
        ('[parsers.p]\nitem = "div"\n[parsers.p.fields]\na = { jmespath = "a" }\n',
         "parser 'p', field 'a': the parser reads HTML items: a jmespath field needs css"),
        ('[parsers.p]\ntype = "xml"\n[parsers.p.fields]\na = "h1"\n',
         "parser 'p': type is \"html\" or \"json\", not 'xml'"),
        ('[parsers.p.fields]\na = { jmespath = "a[" }\n',
         "parser 'p', field 'a': bad JMESPath 'a[': "),
        ('[parsers.p.fields]\na = { jmespath = "" }\n',
         "parser 'p', field 'a': jmespath is a non-empty string, not ''"),
        ('[parsers.p]\nitem = { jmespath = "foo(a)" }\n[parsers.p.fields]\na = "b"\n',
         "parser 'p', item: bad JMESPath 'foo(a)': Unknown function: foo()"),
        ('[parsers.p]\nitem = { jmespath = "a", re = "x" }\n[parsers.p.fields]\n'
         'a = { jmespath = "a" }\n',
         "parser 'p', item: unknown key 're' (known: css, xpath, jmespath)"),
        ('[parsers.p.fields]\na = { css = "a", xpath = "//a", jmespath = "a" }\n',
         "parser 'p', field 'a': give exactly one of css or xpath"),
    ],
)  # fmt: skip
def test_a_query_that_cannot_read_what_the_parser_reads_is_one_line_at_load(
    toml: str, message: str
) -> None:
    with pytest.raises(RegistryError) as caught:
        registry(toml)
    text = str(caught.value)
    assert text.startswith("config crawl.toml: ")
    assert message in text
    assert len(text.splitlines()) == 1


def test_the_page_s_json_is_parsed_once_for_every_parser(monkeypatch) -> None:
    loads: list[int] = []
    original = page_module.load

    def counting(text: str):
        loads.append(len(text))
        return original(text)

    monkeypatch.setattr(page_module, "load", counting)
    toml = FILM + FILM.replace("parsers.film", "parsers.again")
    parsed = parse_page(json_page(BOARD), ("film", "again"), registry(toml))
    assert [read_line(line).kind for line in parsed.lines[1:]] == ["film"] * 2 + ["again"] * 2
    assert len(loads) == 1
    loads.clear()
    parse_page(html_page(), ("next", "offer"), registry(EMBEDDED))
    assert len(loads) == 4  # the __NEXT_DATA__ and the three JSON-LD texts, once each


def test_a_plugin_gets_parsel_s_json_selector_on_a_json_page() -> None:
    from pipelines.parsers import ParserPage

    view = ParserPage(json_page(BOARD))
    assert view.is_json and view.selector.type == "json"
    assert view.selector.jmespath("data.movies[*].rank").getall() == [1, 2]
    assert view.urljoin("/x") == "https://api.example/x"


def test_a_jmespath_that_fails_on_a_page_s_data_is_that_page_s_error_line() -> None:
    toml = '[parsers.film.fields]\nn = { jmespath = "length(data.movies[0].rank)" }\n'
    (line,) = lines(toml, json_page(BOARD))
    assert line.startswith(f"error:<{URL}> film: JMESPath 'length(data.movies[0].rank)': ")
    assert "invalid type for value: 1" in line


def test_the_docs_json_example_gives_the_docs_record() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "docs" / "json.md").read_text("utf-8")
    at = readme.index('item = { jmespath = "data.movies[*]" }')
    table = readme[readme.rindex("[parsers.film]", 0, at) : readme.index("```", at)]
    line = next(text for text in readme[at:].splitlines() if text.startswith("film:<"))
    board = {"data": {"movies": [{"rank": 1, "nm": "霸王别姬", "star": ["张国荣", "张丰毅"],
                                  "detailUrl": "/films/1"}]}}  # fmt: skip
    assert lines(table, json_page(board)) == [line]


@pytest.mark.parametrize("query", ["a", "a.b", '"a-b".c', "a.b.c", "a[0]", "a.b[*].c", "a || b"])
@pytest.mark.parametrize(
    "value",
    [{"a": {"b": {"c": 1}}, "a-b": {"c": 2}}, {"a": [{"b": 1}]}, {"a": {"b": [{"c": 3}]}},
     {"a": "text"}, [1, 2], None, 3, {"b": 0}],
)  # fmt: skip
def test_a_query_gives_what_jmespath_gives(query: str, value: object) -> None:
    import jmespath

    from crawler.page.selectors import Expression

    assert Expression(query).search(value) == jmespath.search(query, value)
