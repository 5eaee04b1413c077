"""Declared parsers ([parsers.NAME] tables of selectors) on saved pages: every field
option, what a selector's matches become, items and records, the checks made when
the config loads, and the board declared as selectors giving the regex board's records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from crawler.config import tomllib
from crawler.model import Page
from crawler.page import selectors as selectors_module
from crawler.page.decode import decode_body
from pipelines import parse_page
from pipelines.parsers import Registry, RegistryError, build
from pipelines.records import read_line
from tests.conftest import records as db_records
from tests.conftest import run_crawl, write_urls
from tests.server import TestServer

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "pages"
URL = "https://quotes.example/page/1/"


def registry(toml: str) -> Registry:
    return build(tomllib.loads(toml).get("parsers"), "crawl.toml", plugins=list)


def page(text: str, url: str = URL, final_url: str = "") -> Page:
    return Page(url, 200, "text/html", text, len(text), len(text.encode()), 1, final_url=final_url)


def quotes() -> str:
    return (PAGES / "quotes.html").read_text("utf-8")


def records(toml: str, text: str, name: str = "quote", **where: str) -> list[dict]:
    """The records `name` makes of `text`; an error line fails the test."""
    lines = parse_page(page(text, **where), (name,), registry(toml)).lines[1:]
    read = [read_line(line) for line in lines]
    assert all(line is not None and line.kind == name for line in read), lines
    return [json.loads(line.rest) for line in read]


def error(toml: str, text: str, name: str = "quote") -> str:
    lines = parse_page(page(text), (name,), registry(toml)).lines[1:]
    assert len(lines) == 1, lines
    return lines[0]


QUOTE = """
[parsers.quote]
item = "div.quote"
[parsers.quote.fields]
text = "span.text::text"
author = { css = "small.author::text", required = true }
tags = { css = "a.tag::text", all = true }
link = { css = "span a::attr(href)", url = true }
price = { css = ".price b::text", re = '[\\d.]+' }
"""


def test_the_issue_s_example_gives_one_record_per_item_keys_in_declared_order() -> None:
    found = records(QUOTE, quotes())
    assert found == [
        {
            "text": "“The world as we have created it is a process of our thinking.”",
            "author": "Albert Einstein",
            "tags": ["change", "deep-thoughts", "thinking"],
            "link": "https://quotes.example/author/Albert-Einstein",
            "price": "12.50",
        },
        {
            "text": "“It is our choices, Harry, that show what we truly are, far more than "
            "our abilities.”",
            "author": "J.K. Rowling",
            "tags": ["abilities", "choices"],
            "link": "https://quotes.example/author/J-K-Rowling",
            "price": "",  # a field that finds nothing is "" (a list: [])
        },
        # The third quote's author is blank: required, so the item is dropped.
    ]
    assert all(list(record) == ["text", "author", "tags", "link", "price"] for record in found)


def test_the_line_is_name_url_json_with_non_ascii_kept() -> None:
    lines = parse_page(page(quotes()), ("quote",), registry(QUOTE)).lines
    assert lines[0] == f"url:<{URL}> size:[{len(quotes())}]"
    assert lines[1].startswith(f"quote:<{URL}> " + '{"text": "“The world')
    assert "\\u" not in lines[1]


def test_a_dropped_item_is_counted_by_parser_and_field() -> None:
    reg = registry(QUOTE)
    parsed = parse_page(page(quotes()), ("quote",), reg)
    assert parsed.dropped == {("quote", "author"): 1}
    parse_page(page(quotes()), ("quote",), reg)
    assert reg.dropped == 2  # over the run, for the statistics


FIELDS = """
[parsers.quote]
item = "div.quote"
[parsers.quote.fields]
text = "span.text::text"
value = {spec}
"""


@pytest.mark.parametrize(
    ("spec", "first", "second"),
    [
        # ::text is the element's own text nodes; the element itself is all the text inside it.
        ('"span:not(.text)::text"', "by", "by"),
        ('"span:not(.text)"', "by Albert Einstein\n      (about)",
         "by J.K. Rowling\n      (about)"),
        ('{ css = "span:not(.text) ::text", all = true }', ["by", "Albert Einstein", "(about)"],
         ["by", "J.K. Rowling", "(about)"]),
        ('{ css = "span:not(.text) ::text", join = " " }', "by Albert Einstein (about)",
         "by J.K. Rowling (about)"),
        ('{ css = ".price" }', "Price: €12.50 incl. VAT", ""),
        ('{ css = ".price::text" }', "Price:", ""),
        # The first match that is not blank, trimmed; a list leaves blanks out.
        ('{ css = "div.tags::text" }', "Tags:", "Tags:"),
        ('{ css = "a.tag::text", join = ", " }', "change, deep-thoughts, thinking",
         "abilities, choices"),
        ('{ css = "a.tag::text", all = true, join = "" }', "changedeep-thoughtsthinking",
         "abilitieschoices"),
        # re: the first group, or the whole match; a value it finds nothing in is left out.
        ('{ css = "a.tag::attr(href)", re = "/tag/([^/]+)/" }', "change", "abilities"),
        ('{ css = "a.tag::attr(href)", re = "[a-z]+-[a-z]+" }', "deep-thoughts", ""),
        ('{ css = "a.tag::attr(href)", re = "/tag/(.*?)/", all = true }',
         ["change", "deep-thoughts", "thinking"], ["abilities", "choices"]),
        # url: absolute against the page; an absolute one stays as it is.
        ('{ css = "a.tag::attr(href)", url = true }', "https://quotes.example/tag/change/page/1/",
         "https://quotes.example/tag/abilities/page/1/"),
        # XPath: by its first characters, or by the key; ./ keeps it inside the item.
        ('"./span[@class=\'text\']/text()"', "“The world as we have created it is a process of "
         "our thinking.”", "“It is our choices, Harry, that show what we truly are, far more "
         "than our abilities.”"),
        ("\"(.//a[@class='tag'])[last()]/text()\"", "thinking", "choices"),
        ('{ xpath = "count(.//a[@class=\'tag\'])" }', "3", "2"),
        ('{ xpath = "normalize-space(.//span[small])" }', "by Albert Einstein (about)",
         "by J.K. Rowling (about)"),
        ('{ xpath = ".//a[has-class(\'tag\')][re:test(@href, \'thinking|choices\')]/text()" }',
         "thinking", "choices"),
        # Absolute XPath inside an item looks at the whole page, as in parsel.
        ('"//h1/a/text()"', "Quotes to Scrape", "Quotes to Scrape"),
        ('{ css = "nothing-here::text", all = true }', [], []),
    ],
)  # fmt: skip
def test_field_options(spec: str, first: object, second: object) -> None:
    found = records(FIELDS.format(spec=spec), quotes())
    assert [record["value"] for record in found[:2]] == [first, second]


def test_entities_are_unescaped_once() -> None:
    found = records(FIELDS.format(spec='"span.text::text"'), quotes())
    assert found[2]["value"] == "“A day without sunshine is like, you know, night & day.”"


def test_url_fields_follow_redirects_and_base_href_and_drop_credentials() -> None:
    spec = FIELDS.format(spec='{ css = "a.tag::attr(href)", url = true }')
    moved = records(
        spec, quotes(), url="https://u:pw@old.example/x", final_url="https://new.example/a/"
    )
    assert moved[0]["value"] == "https://new.example/tag/change/page/1/"
    based = quotes().replace("<head>", '<head><base href="https://cdn.example/root/">')
    assert records(spec, based)[0]["value"] == "https://cdn.example/tag/change/page/1/"
    relative = quotes().replace("<head>", '<head><base href="sub/">')
    assert records(spec, relative)[0]["value"] == "https://quotes.example/tag/change/page/1/"
    plain = records(FIELDS.format(spec='"a.tag::attr(href)"'), quotes(), url="https://u:pw@h/")
    assert plain[0]["value"] == "/tag/change/page/1/"


def test_without_item_the_whole_page_is_one_record() -> None:
    toml = """
[parsers.page]
[parsers.page.fields]
title = "title::text"
authors = { css = "small.author::text", all = true }
next = { css = "li.next a::attr(href)", url = true }
"""
    assert records(toml, quotes(), "page") == [
        {
            "title": "Quotes to Scrape",
            "authors": ["Albert Einstein", "J.K. Rowling"],
            "next": "https://quotes.example/page/2/",
        }
    ]


@pytest.mark.parametrize(
    "text",
    [
        "<html><body><p>no quotes here</p></body></html>",
        "",
        "   ",
        "not html at all",
        # Items match, but every one lacks its required author.
        '<div class="quote"><span class="text">t</span></div>' * 3,
    ],
)
def test_a_page_without_a_record_is_no_entries_found(text: str) -> None:
    assert error(QUOTE, text) == f"error:<{URL}> quote: no entries found"


def test_an_item_where_no_field_found_anything_is_no_record() -> None:
    toml = '[parsers.row]\nitem = "tr"\n[parsers.row.fields]\ncell = "td::text"\n'
    table = "<table><tr><th>head</th></tr><tr><td>a</td></tr><tr><td> </td></tr></table>"
    assert records(toml, table, "row") == [{"cell": "a"}]


def test_a_page_that_is_not_text_is_an_error_for_the_parser() -> None:
    image = Page(URL, 200, "image/png", None, 10, 10, 1)
    lines = parse_page(image, ("quote",), registry(QUOTE)).lines
    assert lines == [f"url:<{URL}> size:[10]", f"error:<{URL}> quote: not a text page"]


def test_selectors_are_compiled_when_the_config_loads_not_per_page(monkeypatch) -> None:
    import parsel

    reg = registry(QUOTE)
    compiled: list[str] = []
    real = etree.XPath

    def counting(*args, **kwargs):
        compiled.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(etree, "XPath", counting)
    monkeypatch.setattr(parsel, "css2xpath", lambda css: pytest.fail("translated"))
    for _ in range(20):
        assert len(parse_page(page(quotes()), ("quote",), reg).lines) == 3
    assert compiled == []


def test_several_declared_parsers_share_one_parse_of_the_page(monkeypatch) -> None:
    toml = QUOTE + '[parsers.title]\n[parsers.title.fields]\ntitle = "title::text"\n'
    built = []
    import parsel

    real = parsel.Selector

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(parsel, "Selector", counting)
    lines = parse_page(page(quotes()), ("quote", "title"), registry(toml)).lines
    assert [read_line(line).kind for line in lines] == ["url", "quote", "quote", "title"]
    assert built == [1]


# -- the config is checked when it loads --------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[parsers.Quote.fields]\na = "p"\n',
         "parser 'Quote': a parser's name is a lowercase identifier (a-z, 0-9, _), not 'Quote'"),
        ('[parsers."my-parser".fields]\na = "p"\n', "not 'my-parser'"),
        ('[parsers.url.fields]\na = "p"\n', "parser 'url': the name is taken by the url: lines"),
        ('[parsers.error.fields]\na = "p"\n', "parser 'error': the name is taken"),
        ('[parsers.run.fields]\na = "p"\n', "parser 'run': the name is taken"),
        ('[parsers.board.fields]\na = "p"\n',
         "parser 'board': the name is taken by the built-in parser; rename [parsers.board]"),
        ('parsers = "quote"\n', "parsers is a table of [parsers.NAME] tables"),
        ("[parsers]\nquote = 1\n", "parser 'quote': expected a table [parsers.quote]"),
        ('[parsers.quote]\nitem = "div"\n',
         "parser 'quote': no fields (a [parsers.quote.fields] table of selectors)"),
        ('[parsers.quote]\nitme = "div"\n[parsers.quote.fields]\na = "p"\n',
         "parser 'quote': unknown key 'itme' (known: item, fields, type)"),
        ('[parsers.quote]\nitem = "div["\n[parsers.quote.fields]\na = "p"\n',
         "parser 'quote', item: bad CSS selector 'div[': Expected"),
        ('[parsers.quote]\nitem = "div::text"\n[parsers.quote.fields]\na = "p"\n',
         "parser 'quote', item: 'div::text' does not select elements"),
        ('[parsers.quote]\nitem = "count(//div)"\n[parsers.quote.fields]\na = "p"\n',
         "parser 'quote', item: bad CSS selector 'count(//div)'"),
        ('[parsers.quote]\nitem = "(count(//div))"\n[parsers.quote.fields]\na = "p"\n',
         "parser 'quote', item: '(count(//div))' does not select elements"),
        ('[parsers.quote]\nitem = 3\n[parsers.quote.fields]\na = "p"\n',
         "parser 'quote', item: a selector is a non-empty string, not 3"),
        ('[parsers.quote.fields]\nauthor = "small.author::txt"\n',
         "parser 'quote', field 'author': bad CSS selector 'small.author::txt': "
         "The pseudo-element ::txt is unknown"),
        ('[parsers.quote.fields]\nauthor = "//small["\n',
         "parser 'quote', field 'author': bad XPath '//small[': Invalid expression"),
        ('[parsers.quote.fields]\nauthor = { xpath = "nope(//a)" }\n',
         "parser 'quote', field 'author': bad XPath 'nope(//a)': Unregistered function"),
        ('[parsers.quote.fields]\nauthor = { xpath = "//x:a" }\n',
         "parser 'quote', field 'author': bad XPath '//x:a': Undefined namespace prefix"),
        ('[parsers.quote.fields]\nauthor = ""\n',
         "parser 'quote', field 'author': a selector is a non-empty string, not ''"),
        ("[parsers.quote.fields]\nauthor = 3\n",
         "parser 'quote', field 'author': a field is a selector or a table"),
        ('[parsers.quote.fields]\nauthor = { css = "a", requird = true }\n',
         "parser 'quote', field 'author': unknown key 'requird' "
         "(known: css, xpath, jmespath, required, all, url, re, join)"),
        ("[parsers.quote.fields]\nauthor = { required = true }\n",
         "parser 'quote', field 'author': give exactly one of css or xpath"),
        ('[parsers.quote.fields]\nauthor = { css = "a", xpath = "//a" }\n',
         "give exactly one of css or xpath"),
        ('[parsers.quote.fields]\nauthor = { css = "a", required = "yes" }\n',
         "parser 'quote', field 'author': required is true or false, not 'yes'"),
        ('[parsers.quote.fields]\nauthor = { css = "a", all = 1 }\n', "all is true or false"),
        ('[parsers.quote.fields]\nauthor = { css = "a", url = "true" }\n', "url is true or false"),
        ('[parsers.quote.fields]\nauthor = { css = "a", re = "(" }\n',
         "parser 'quote', field 'author': bad re '(': missing ), unterminated subpattern"),
        ('[parsers.quote.fields]\nauthor = { css = "a", re = 1 }\n', "re is a string, not 1"),
        ('[parsers.quote.fields]\nauthor = { css = "a", join = true }\n',
         "join is a string, not True"),
        ('[parsers.quote.fields]\nauthor = { css = "a", join = ",", all = false }\n',
         "join takes every match; it cannot go with all = false"),
    ],
)  # fmt: skip
def test_a_bad_table_is_one_line_naming_parser_field_and_selector(toml: str, message: str):
    with pytest.raises(RegistryError) as caught:
        registry(toml)
    text = str(caught.value)
    assert text.startswith("config crawl.toml: ")
    assert message in text
    assert len(text.splitlines()) == 1


# -- the board, declared as selectors (docs/parsers.md shows this table) -----------------


def readme_board_table() -> str:
    """The `[parsers.film]` example of the docs' Parsers page, as it spells it."""
    readme = (ROOT / "docs" / "parsers.md").read_text("utf-8")
    start = readme.index("[parsers.film]")
    return readme[start : readme.index("```", start)]


BOARD_PAGES = sorted((ROOT / "crawler" / "demo_site").glob("*.html")) + sorted(PAGES.glob("*.html"))


def as_board(line: str) -> tuple[str, str, str]:
    """A line of the declared `film` parser, read as the `board` parser would write it."""
    kind, key, rest = read_line(line)
    if kind == "error":
        return kind, key, rest.replace("film: ", "board: ", 1)
    return ("board" if kind == "film" else kind), key, rest


@pytest.mark.parametrize("path", BOARD_PAGES, ids=lambda path: path.name)
def test_the_board_declared_as_selectors_gives_the_regex_board_s_records(path: Path) -> None:
    text = decode_body(path.read_bytes(), "text/html")
    reg = registry(readme_board_table())
    regex = parse_page(page(text), ("board",), reg).lines[1:]
    declared = parse_page(page(text), ("film",), reg).lines[1:]
    assert [as_board(line) for line in declared] == [tuple(read_line(line)) for line in regex]
    assert len(regex) >= (5 if path.name.startswith("board") else 1)


# -- what keeps the time linear ------------------------------------------------------


def test_items_do_not_nest_a_match_inside_a_match_is_part_of_it() -> None:
    toml = '[parsers.c]\nitem = "div.c"\n[parsers.c.fields]\nown = "div.c::text"\n'
    thread = '<div class="c">one<div class="c">reply</div></div><div class="c">two</div>'
    assert records(toml, thread, "c") == [{"own": "one"}, {"own": "two"}]


def test_a_field_from_the_root_is_the_same_on_every_item() -> None:
    toml = (
        '[parsers.t]\nitem = "li"\n[parsers.t.fields]\n'
        'name = "li::text"\npage = "//h1/text()"\nfirst = "(//li)[1]/text()"\n'
    )
    text = "<h1>Title</h1><ul><li>a</li><li>b</li></ul>"
    assert records(toml, text, "t") == [
        {"name": "a", "page": "Title", "first": "a"},
        {"name": "b", "page": "Title", "first": "a"},
    ]


GROUPS = """
[parsers.g]
item = "h2, h3"
[parsers.g.fields]
heading = "::text"
both = { css = "b::text, i::text", all = true }
either = { xpath = ".//i/text() | .//b/text()", all = true }
"""
HEADINGS = "<h2>one <i>i1</i><b>b1</b></h2><h3>two <b>b2</b><i>i2</i></h3><h2>three</h2>"


def test_a_css_group_or_an_xpath_union_is_in_page_order() -> None:
    assert records(GROUPS, HEADINGS, "g") == [
        {"heading": "one", "both": ["i1", "b1"], "either": ["i1", "b1"]},
        {"heading": "two", "both": ["b2", "i2"], "either": ["b2", "i2"]},
        {"heading": "three", "both": [], "either": []},
    ]


def test_a_union_too_big_to_merge_is_taken_member_by_member(monkeypatch) -> None:
    """libxml2 merges unions in quadratic time; past UNION_WORK the members come in turn."""
    monkeypatch.setattr(selectors_module, "UNION_WORK", 0)
    assert records(GROUPS, HEADINGS, "g") == [
        {"heading": "one", "both": ["b1", "i1"], "either": ["i1", "b1"]},
        {"heading": "three", "both": [], "either": []},
        {"heading": "two", "both": ["b2", "i2"], "either": ["i2", "b2"]},
    ]
    both = '[parsers.d]\nitem = "p, p.x"\n[parsers.d.fields]\nt = "::text"\n'
    assert records(both, '<p class="x">a</p><p>b</p>', "d") == [{"t": "a"}, {"t": "b"}]


@pytest.mark.parametrize(
    ("xpath", "members"),
    [
        ("//a", ["//a"]),
        ("//a | //b", ["//a", "//b"]),
        ("(//a | //b)[1]", ["(//a | //b)[1]"]),
        ("//a[@t='x|y'] | //b[contains(., \"|\")]", ["//a[@t='x|y']", '//b[contains(., "|")]']),
        ("//a[. = (//b | //c)] | //d", ["//a[. = (//b | //c)]", "//d"]),
    ],
)
def test_union_members_are_split_only_at_the_top(xpath: str, members: list[str]) -> None:
    assert selectors_module.union_members(xpath) == members


def test_markup_nested_past_256_levels_is_cut_there() -> None:
    toml = '[parsers.deep]\n[parsers.deep.fields]\nshallow = "b::text"\ndeep = "i::text"\n'
    text = "<b>near</b>" + "<div>" * 300 + "<i>far</i>" + "</div>" * 300
    assert records(toml, text, "deep") == [{"shallow": "near", "deep": ""}]


@pytest.mark.parametrize(
    "toml",
    [
        '[parsers.quote.fields]\nauthor = "small.author::txt"\n',
        '[parsers.url.fields]\na = "p"\n',
        '[parsers.quote.fields]\nauthor = { css = "a", requird = true }\n',
    ],
)
def test_a_bad_table_exits_2_with_one_line_before_anything_is_fetched(
    toml: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crawler.cli import main
    from tests.server import TestServer

    server = TestServer().start()
    try:
        urls = tmp_path / "urls.txt"
        urls.write_text(server.url("/page/a") + "  quote\n")
        config = tmp_path / "crawl.toml"
        config.write_text(toml)
        db = tmp_path / "db.txt"
        with pytest.raises(SystemExit) as stop:
            main([str(urls), "--config", str(config), "--output", str(db)])
        assert stop.value.code == 2
        last = capsys.readouterr().err.splitlines()[-1]
        assert last.startswith(f"crawl: error: config {config}: parser '")
        assert server.count("/page/a") == 0 and not db.exists()
    finally:
        server.stop()


def test_parse_names_a_declared_parser_and_an_unknown_one_is_exit_2(tmp_path: Path, capsys):
    from crawler.cli import parse_arguments

    config = tmp_path / "crawl.toml"
    config.write_text(QUOTE)
    args = parse_arguments(["u.txt", "--config", str(config), "--parse", "quote,board"])
    assert args.parse == ("quote", "board") and "quote" in args.registry
    with pytest.raises(SystemExit):
        parse_arguments(["u.txt", "--config", str(config), "--parse", "quote,nope"])
    assert "--parse: unknown parser nope (known: board, quote)" in capsys.readouterr().err


def test_a_crawl_counts_the_items_it_dropped_in_the_end_line_and_the_stats(
    tmp_path: Path,
) -> None:
    server = TestServer().start()
    try:
        config = tmp_path / "crawl.toml"
        config.write_text(QUOTE, encoding="utf-8")
        urls = write_urls(tmp_path / "urls.txt", server.url("/pages/quotes.html") + " quote")
        db, stats = tmp_path / "db.txt", tmp_path / "stats.json"
        result = run_crawl(
            str(urls), "--config", str(config), "--output", str(db), "--stats", str(stats),
            "--workers", "1", "--no-cache", "--ignore-robots",
        )  # fmt: skip
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    (end,) = [line for line in db_records(db, "run") if " end " in line]
    assert "items_dropped=1" in end.split()
    assert json.loads(stats.read_text("utf-8"))["items_dropped"] == 1
    assert "1 parsed items dropped" in result.stderr
