"""API pagination decided without I/O: the Link header (RFC 8288) read, a query
parameter advanced, the next pages of a page with each stop, and the `[[follow.rule]]`
keys that declare them, checked when the config loads."""

from __future__ import annotations

import pytest

from crawler.frontier.core import FOUND, Entry
from crawler.frontier.follow_rule import FollowRule, NextPage
from crawler.frontier.pagination import (
    LAST_PAGE,
    advance,
    default_start,
    link_header,
    next_links,
    next_targets,
)
from crawler.frontier.policy import make_policy
from crawler.frontier.rules import RulesError, read_follow_table
from crawler.model import Link
from crawler.page.json_links import json_links
from crawler.page.resolve import resolve_link as resolve
from crawler.page.selectors import Expression


@pytest.mark.parametrize(
    ("url", "param", "step", "start", "expected"),
    [
        ("http://h/api?offset=0", "offset", 10, 0, "http://h/api?offset=10"),
        ("http://h/api?offset=90", "offset", 10, 0, "http://h/api?offset=100"),
        ("http://h/api", "offset", 10, 0, "http://h/api?offset=10"),  # absent: at start
        ("http://h/api", "page", 1, 1, "http://h/api?page=2"),
        ("http://h/api?", "page", 1, 1, "http://h/api?page=2"),
        ("http://h/api?q=a%20b&page=2&x=", "page", 1, 1, "http://h/api?q=a%20b&page=3&x="),
        ("http://h/api?q=1#frag", "page", 1, 1, "http://h/api?q=1&page=2"),  # no fragment
        ("http://h/api?page=3&page=9", "page", 1, 1, "http://h/api?page=4&page=9"),  # first
        ("http://h/api?page=+3", "page", 2, 1, "http://h/api?page=5"),
        ("http://h/api?page=-1", "page", 1, 1, "http://h/api?page=0"),
        ("http://h/api?pa%67e=3", "page", 1, 1, "http://h/api?pa%67e=4"),  # names decoded
        ("http://h/api?page=three", "page", 1, 1, None),  # not a whole number: no next
        ("http://h/api?page=1.5", "page", 1, 1, None),
        ("http://h/api?page=", "page", 1, 1, None),
        ("http://h/api?start=20", "start", 20, 0, "http://h/api?start=40"),
        ("http://h/api?page[number]=2", "page[number]", 1, 1, "http://h/api?page[number]=3"),
        ("http://h/api", "page[number]", 1, 1, "http://h/api?page%5Bnumber%5D=2"),
    ],
)
def test_a_query_parameter_is_advanced(
    url: str, param: str, step: int, start: int, expected: str | None
) -> None:
    assert advance(url, param, step, start) == expected


@pytest.mark.parametrize(
    ("param", "start"),
    [("offset", 0), ("skip", 0), ("start", 0), ("from", 0), ("Offset", 0), ("page", 1),
     ("p", 1), ("pageNumber", 1)],
)  # fmt: skip
def test_an_offset_starts_at_0_and_a_page_number_at_1(param: str, start: int) -> None:
    assert default_start(param) == start


GITHUB = (
    '<https://api.github.com/repositories/1/issues?page=2>; rel="next", '
    '<https://api.github.com/repositories/1/issues?page=5>; rel="last"'
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([GITHUB], ["https://api.github.com/repositories/1/issues?page=2"]),
        (["<https://a/2>; rel=next"], ["https://a/2"]),  # unquoted
        (['<https://a/2>; REL="Next"'], ["https://a/2"]),  # any case
        (['<https://a/2>; rel="last next"'], ["https://a/2"]),  # several relation types
        (['<https://a/2>;rel="nextpage"'], []),  # a different relation type
        (['<https://a/1>; rel="prev", <https://a/3>; rel="next"'], ["https://a/3"]),
        (['<https://a/1>; rel="prev"', '<https://a/3>; rel="next"'], ["https://a/3"]),
        (['<https://a/3>; title="a, b; c"; rel="next"'], ["https://a/3"]),  # , ; quoted
        (['<https://a/3>; title="say \\"next\\""; rel=prev'], []),
        (['<https://a/3>; rel="prev"; rel="next"'], []),  # the first rel wins
        (['<?page=2>; rel="next"'], ["?page=2"]),  # relative: resolved by the caller
        (['< https://a/3 >; rel="next"'], ["https://a/3"]),
        (["<https://a/3>; rel"], []),
        (['<https://a/3; rel="next"'], []),  # no closing >
        (["garbage"], []),
        ([""], []),
        ([], []),
    ],
)
def test_the_link_header_gives_its_next_targets(values: list[str], expected: list[str]) -> None:
    assert next_targets(values) == expected


def test_the_link_header_s_parameters_are_read_in_order() -> None:
    assert link_header(['<a>; rel=next; title="x, y", <b>;REL="prev NEXT";hreflang=en']) == [
        ("a", {"rel": "next", "title": "x, y"}),
        ("b", {"rel": "prev NEXT", "hreflang": "en"}),
    ]


OFFSET = FollowRule(parse=("film",), pagination=True, next=NextPage("offset", 10, 0))
HEADER = FollowRule(parse=("film",), pagination=True, next=NextPage(), allow=(), deny=())


@pytest.mark.parametrize(
    ("records", "links", "stops"),
    [
        ({"film": 10}, ["http://h/api?offset=10"], []),
        ({"film": 0}, [], [("http://h/api?offset=10", LAST_PAGE)]),  # no item: the end
        ({"film": 0, "other": 3}, [], [("http://h/api?offset=10", LAST_PAGE)]),
        ({"other": 0}, ["http://h/api?offset=10"], []),  # the rule's parsers did not run
        (None, ["http://h/api?offset=10"], []),
    ],
)
def test_a_parameter_chain_ends_where_the_rule_s_parsers_find_no_item(
    records: dict[str, int] | None, links: list[str], stops: list[tuple[str, str]]
) -> None:
    found, ended = next_links((OFFSET,), "http://h/api?offset=0", "http://h/", [], records, resolve)
    assert [link.url for link in found] == links
    assert all(link.rules == 1 for link in found)
    assert ended == stops


def test_next_links_resolve_the_header_against_the_page_and_carry_the_rule_s_bit() -> None:
    rules = (FollowRule(links="a"), HEADER)
    found, ended = next_links(
        rules, "http://h/api?p=1", "http://h/api/v2/?p=1", ['<../items?p=2>; rel="next"'],
        {"film": 0}, resolve,
    )  # fmt: skip
    assert found == [Link("http://h/api/items?p=2", False, 0b10)] and ended == []


def test_a_next_rule_applies_to_pages_its_patterns_allow() -> None:
    import re

    rule = OFFSET._replace(allow=(re.compile("/api"),))
    assert next_links((rule,), "http://h/other", "http://h/other", [], None, resolve) == ([], [])


def test_json_links_keep_strings_resolved_against_the_page() -> None:
    rules = (
        FollowRule(links="a"),
        FollowRule(jmespath=Expression("data.next")),
        FollowRule(jmespath=Expression("items[*].url")),
        FollowRule(jmespath=Expression("length(data)")),  # a number: no link
        FollowRule(jmespath=Expression("abs(data)")),  # fails on this data: no link
    )
    document = {"data": {"next": "?page=2"}, "items": [{"url": "/a"}, {"url": 3}, {"no": 1}]}
    assert json_links(rules, document, "http://h/api/list?page=1") == [
        Link("http://h/api/list?page=2", False, 0b10),
        Link("http://h/a", False, 0b100),
    ]


def table(*rules: dict) -> tuple:
    return read_follow_table({"rule": list(rules)}, lambda names: None).rules


def test_rules_read_links_tables_and_next() -> None:
    jmes, css, header, offset, page = table(
        {"links": {"jmespath": "data.next"}, "pagination": True},
        {"links": {"css": "a.next"}},
        {"next": "header", "parse": ["film"]},
        {"next": {"param": "offset", "step": 10}},
        {"next": {"param": "page", "start": 0}},
    )
    assert (jmes.jmespath, jmes.selector, jmes.pagination) == (Expression("data.next"), "", True)
    assert (css.links, css.selector, css.jmespath) == ("a.next", "a.next", None)
    assert (header.next, header.pagination, header.selector) == (NextPage(), True, "")
    assert offset.next == NextPage("offset", 10, 0)
    assert page.next == NextPage("page", 1, 0)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"links": {"jmespath": "a["}}, "[[follow.rule]] 1 links: bad JMESPath 'a['"),
        ({"links": {"jmespath": ""}}, "[[follow.rule]] 1 links: jmespath is a non-empty string"),
        ({"links": {"regex": "x"}}, "[[follow.rule]] 1 links: expected one of"),
        ({"links": {"css": "a", "jmespath": "b"}}, "[[follow.rule]] 1 links: expected one of"),
        ({"next": "body"}, '[[follow.rule]] 1 next: expected "header" or'),
        ({"next": {"step": 1}}, "[[follow.rule]] 1 next param: expected the name"),
        ({"next": {"param": "p", "step": "2"}}, "[[follow.rule]] 1 next step: expected a whole"),
        ({"next": {"param": "p", "step": 0}}, "[[follow.rule]] 1 next step: 0 would never"),
        ({"next": {"param": "p", "start": 1.5}}, "next start: expected a whole number"),
        ({"next": {"param": "p", "size": 1}}, "next: unknown key 'size'"),
        ({"next": "header", "links": "a"}, "[[follow.rule]] 1: give links or next, not both"),
        ({"next": "header", "pagination": False}, "a next rule is a pagination rule"),
        ({"nxt": "header"}, "[[follow.rule]] 1: unknown key 'nxt'"),
    ],
)
def test_a_bad_rule_is_one_line(rule: dict, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        table(rule)
    assert message in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_a_pagination_rule_follows_at_depth_0_and_only_its_own_hops() -> None:
    assert not make_policy(depth=0).follows
    assert not make_policy(depth=0, rules=[FollowRule(links="a")]).follows
    assert make_policy(depth=0, rules=[FollowRule(pagination=True, next=NextPage())]).follows
    policy = make_policy(depth=0, rules=[FollowRule(links="a"), OFFSET])
    assert policy.pages_next and policy.ends_quietly(1) and not policy.ends_quietly(0)
    assert not policy.ends_quietly(-1)


def test_an_entry_keeps_its_rule_through_the_spill() -> None:
    entry = Entry("http://h/api?page=2", ("film",), FOUND, 0, 0, 1, 0, None, 3)
    assert Entry.from_line(entry.to_line()) == entry
