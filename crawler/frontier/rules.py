"""The `[follow]` table of `--config`: follow rules for a site that needs more than
`--depth`. Checked once, when the run starts; a bad table is one line, exit 2.

    [follow]
    depth = 3                      # as --depth (the command line wins)
    allow = ['/docs/']             # as --allow / --deny, added to theirs
    deny = ['/calendar/', '[?&]replytocom=']

    [[follow.rule]]                # the first rule that matches a link wins
    links = "ul.list-pager a"      # CSS, or XPath (starting with / or ( ), selecting
                                   #   link elements (default: a[href] and area[href]),
                                   #   or { jmespath = "data.next" }: URL strings of a
                                   #   JSON page (absolute, or relative to the page)
    pagination = true              # a "next page" hop: costs no depth, 100 a chain
    parse = ["board"]              # parsers for the pages this rule reaches
    allow = '/board/'              # and/or deny: regexes (re.search) on the URL

    [[follow.rule]]                # instead of links, the next page of an API
    next = "header"                # the Link: <...>; rel="next" header, or
                                   # { param = "offset", step = 10, start = 0 }
                                   #   (see crawler.frontier.pagination)

A link matches a rule when the rule's selector (its JMESPath, its `next`) picked
it and its URL passes the rule's allow and deny; a `next` rule is a pagination
rule. Without rules every link is followed (within the
scope, depth and budgets) and the pages it reaches get only their size line; with
rules, a link that matches none is not followed (counted `pattern`). A listed
URL's parsers are never inherited by the pages it links to.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from crawler.frontier.follow_rule import HEADER, FollowRule, NextPage
from crawler.frontier.pagination import default_start
from crawler.page.selectors import Expression, SelectorError, compile_query, is_xpath

PAGINATION_CAP = 100  # pages a pagination chain may run to
RULE_KEYS = ("links", "next", "pagination", "parse", "allow", "deny")


class RulesError(ValueError):
    """The `[follow]` table cannot be used; the message is one line."""


class FollowTable(NamedTuple):
    depth: float | None = None  # None: not given here
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    rules: tuple[FollowRule, ...] = ()


def parse_depth(value: object) -> float:
    """A depth: a whole number of 0 or more, or `inf`."""
    if isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(value, bool):
        raise ValueError(f"expected a number or inf, not {value!r}")
    try:
        depth = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"expected a number or inf, not {value!r}") from None
    if depth < 0 or (isinstance(value, float) and value != depth):
        raise ValueError(f"must be a whole number of 0 or more, or inf, not {value!r}")
    return depth


def compile_patterns(values: Sequence[str], where: str) -> tuple[re.Pattern[str], ...]:
    patterns = []
    for value in values:
        try:
            patterns.append(re.compile(value))
        except re.error as error:
            raise RulesError(f"{where}: bad regex {value!r}: {error}") from None
    return tuple(patterns)


def read_follow_table(
    table: Any, check_parsers: Callable[[Sequence[str]], str | None]
) -> FollowTable:
    """The `[follow]` table as parsed from TOML, checked; RulesError names what is wrong.
    `check_parsers(names)` says why one of the parsers named cannot run (None: all can;
    `pipelines.parsers.Registry.check`)."""
    if not isinstance(table, dict):
        raise RulesError("[follow] must be a table")
    unknown = set(table) - {"depth", "allow", "deny", "rule"}
    if unknown:
        raise RulesError(f"[follow]: unknown key {sorted(unknown)[0]!r}")
    depth = None
    if "depth" in table:
        try:
            depth = parse_depth(table["depth"])
        except ValueError as error:
            raise RulesError(f"[follow] depth: {error}") from None
    allow = _strings(table.get("allow", ()), "[follow] allow")
    deny = _strings(table.get("deny", ()), "[follow] deny")
    compile_patterns(allow, "[follow] allow")
    compile_patterns(deny, "[follow] deny")
    rules = table.get("rule", [])
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise RulesError("[follow] rule: expected [[follow.rule]] tables")
    checked = tuple(_rule(rule, n, check_parsers) for n, rule in enumerate(rules, 1))
    return FollowTable(depth, allow, deny, checked)


def _rule(
    rule: dict[str, Any], number: int, check_parsers: Callable[[Sequence[str]], str | None]
) -> FollowRule:
    where = f"[[follow.rule]] {number}"
    unknown = set(rule) - set(RULE_KEYS)
    if unknown:
        raise RulesError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    links, jmespath = _links(rule.get("links"), f"{where} links")
    next_page = _next(rule["next"], f"{where} next") if "next" in rule else None
    if next_page is not None and "links" in rule:
        raise RulesError(f"{where}: give links or next, not both")
    pagination = rule.get("pagination", next_page is not None)
    if not isinstance(pagination, bool):
        raise RulesError(f"{where} pagination: expected true or false")
    if next_page is not None and not pagination:
        raise RulesError(f"{where} pagination: a next rule is a pagination rule")
    parse = tuple(_strings(rule.get("parse", ()), f"{where} parse"))
    problem = check_parsers(parse)
    if problem:
        raise RulesError(f"{where} parse: {problem}")
    allow = compile_patterns(_strings(rule.get("allow", ()), f"{where} allow"), f"{where} allow")
    deny = compile_patterns(_strings(rule.get("deny", ()), f"{where} deny"), f"{where} deny")
    return FollowRule(links, pagination, parse, allow, deny, jmespath, next_page)


def _links(value: Any, where: str) -> tuple[str | None, Expression | None]:
    """`links`: a CSS/XPath selector (a string, or { css = ... } / { xpath = ... }),
    parsel's dialect, as declared parsers' (`crawler.page.selectors`), or
    { jmespath = ... }; (selector, JMESPath compiled), checked."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in ("css", "xpath", "jmespath"):
            raise RulesError(f'{where}: expected one of {{ css, xpath, jmespath = "..." }}')
        kind, text = next(iter(value.items()))
        if not isinstance(text, str) or not text.strip():
            raise RulesError(f"{where}: {kind} is a non-empty string")
        if kind == "jmespath":
            try:
                return None, Expression(text)
            except SelectorError as error:
                raise RulesError(f"{where}: {error}") from None
        value = text if kind == "css" or is_xpath(text) else f"({text})"
    if not isinstance(value, str) or not value.strip():
        raise RulesError(f"{where}: expected a CSS or XPath selector")
    try:
        compile_query(value, smart_strings=True)
    except SelectorError as error:
        raise RulesError(f"{where}: {error}") from None
    return value, None


def _next(value: Any, where: str) -> NextPage:
    """`next`: "header", or { param = NAME, step = N, start = N }."""
    if value == HEADER:
        return NextPage()
    if not isinstance(value, dict):
        raise RulesError(f'{where}: expected "header" or {{ param = "...", step = N }}')
    unknown = set(value) - {"param", "step", "start"}
    if unknown:
        raise RulesError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: param, step, start)")
    param = value.get("param")
    if not isinstance(param, str) or not param.strip():
        raise RulesError(f"{where} param: expected the name of a query parameter")
    numbers = {"step": 1, "start": default_start(param)}
    for key in numbers:
        number = value.get(key, numbers[key])
        if isinstance(number, bool) or not isinstance(number, int):
            raise RulesError(f"{where} {key}: expected a whole number, not {number!r}")
        numbers[key] = number
    if numbers["step"] == 0:
        raise RulesError(f"{where} step: 0 would never leave the page")
    return NextPage(param, numbers["step"], numbers["start"])


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise RulesError(f"{where}: expected a string or a list of strings")
