"""crawler.frontier.rules: the [follow] table of --config, checked once; each fault is
one line naming where it is."""

from __future__ import annotations

import math

import pytest

from crawler.frontier.rules import FollowRule, RulesError, parse_depth, read_follow_table
from pipelines.parsers import Registry


def read(table: object):
    return read_follow_table(table, Registry().check)


def test_the_issue_example() -> None:
    table = read(
        {
            "depth": 3,
            "deny": ["/calendar/", "[?&]replytocom="],
            "rule": [
                {"links": "ul.list-pager a", "pagination": True, "parse": ["board"]},
                {"allow": r"/film/\d+$", "parse": []},
            ],
        }
    )
    assert table.depth == 3 and table.deny == ("/calendar/", "[?&]replytocom=")
    pager, films = table.rules
    assert (pager.links, pager.pagination, pager.parse) == ("ul.list-pager a", True, ("board",))
    assert (films.links, films.pagination, films.parse) == (None, False, ())
    assert films.matches("http://a.test/film/12") and not films.matches("http://a.test/film/12/x")


def test_a_rule_s_deny_wins_over_its_allow() -> None:
    rule = read({"rule": [{"allow": "/a/", "deny": ["/a/private"]}]}).rules[0]
    assert rule.matches("http://t/a/x") and not rule.matches("http://t/a/private/x")
    assert FollowRule().matches("http://t/anything")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([], "[follow] must be a table"),
        ({"depht": 2}, "[follow]: unknown key 'depht'"),
        ({"depth": -1}, "[follow] depth: must be a whole number"),
        ({"depth": "deep"}, "[follow] depth: expected a number or inf"),
        ({"depth": True}, "[follow] depth: expected a number or inf"),
        ({"deny": "(unclosed"}, "[follow] deny: bad regex '(unclosed'"),
        ({"allow": 3}, "[follow] allow: expected a string or a list of strings"),
        ({"rule": {"links": "a"}}, "[follow] rule: expected [[follow.rule]] tables"),
        ({"rule": [{"link": "a"}]}, "[[follow.rule]] 1: unknown key 'link'"),
        ({"rule": [{}, {"links": "ul..x"}]}, "[[follow.rule]] 2 links: bad CSS selector 'ul..x'"),
        ({"rule": [{"links": "//a[@"}]}, "[[follow.rule]] 1 links: bad XPath '//a[@'"),
        ({"rule": [{"links": ""}]}, "[[follow.rule]] 1 links: expected a CSS or XPath selector"),
        ({"rule": [{"pagination": "yes"}]}, "[[follow.rule]] 1 pagination: expected true or false"),
        ({"rule": [{"parse": ["nope"]}]}, "[[follow.rule]] 1 parse: unknown parser nope (known:"),
        ({"rule": [{"allow": "[x"}]}, "[[follow.rule]] 1 allow: bad regex '[x'"),
    ],
)
def test_faults_are_one_line_naming_where(table: object, message: str) -> None:
    with pytest.raises(RulesError) as raised:
        read(table)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("value", "depth"), [(0, 0), (3, 3), ("7", 7), ("inf", math.inf), ("INF", math.inf)]
)
def test_depths(value: object, depth: float) -> None:
    assert parse_depth(value) == depth


@pytest.mark.parametrize("value", [-1, 1.5, "x", None, "-2"])
def test_bad_depths(value: object) -> None:
    with pytest.raises(ValueError):
        parse_depth(value)


# -- one dialect: follow rules read CSS and XPath as declared parsers do (parsel's) -------
PAGER = """<html><body>
<ul class="pager"><li><a href="/p/2">2</a></li><li class="next"><a href="/p/3">next</a></li></ul>
<div class="card" data-url="/item/7">seven</div>
<a class="skip" href="/elsewhere">elsewhere</a>
</body></html>"""


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        # parsel's pseudo-elements, which cssselect alone refused ("bad CSS selector")
        ("li.next a::attr(href)", ["http://h.test/p/3"]),
        ("div.card::attr(data-url)", ["http://h.test/item/7"]),
        # parsel's XPath namespaces: EXSLT regular expressions
        ("//a[re:test(@href, '^/p/[0-9]+$')]", ["http://h.test/p/2", "http://h.test/p/3"]),
        # plain CSS, as before
        ("ul.pager a", ["http://h.test/p/2", "http://h.test/p/3"]),
    ],
)
def test_a_rule_s_selector_is_parsel_s_dialect(selector: str, expected: list[str]) -> None:
    from crawler.model import Page
    from crawler.page.links import extract_links
    from pipelines.parsers.selectors import query

    rule = read({"rule": [{"links": selector}]}).rules[0]
    assert rule.selector == selector
    query("a declared field", selector)  # one dialect: a declared parser takes it too
    page = Page("http://h.test/", 200, "text/html", PAGER, len(PAGER), len(PAGER), 1)
    found = extract_links(page, (rule.selector,)).links
    assert [link.url for link in found if link.rules] == expected


def test_a_rule_s_jmespath_is_compiled_when_the_config_loads() -> None:
    rule = read({"rule": [{"links": {"jmespath": "data.next"}}]}).rules[0]
    assert rule.jmespath is not None and rule.jmespath.search({"data": {"next": "/2"}}) == "/2"
    with pytest.raises(RulesError, match=r"^\[\[follow.rule\]\] 1 links: bad JMESPath 'nope\(a\)'"):
        read({"rule": [{"links": {"jmespath": "nope(a)"}}]})
