"""The `[follow]` table of `--config`: follow rules for a site that needs more than
`--depth`. Checked once, when the run starts; a bad table is one line, exit 2.

    [follow]
    depth = 3                      # as --depth (the command line wins)
    allow = ['/docs/']             # as --allow / --deny, added to theirs
    deny = ['/calendar/', '[?&]replytocom=']

    [[follow.rule]]                # the first rule that matches a link wins
    links = "ul.list-pager a"      # CSS, or XPath (starting with / or ( ), selecting
                                   #   link elements (default: a[href] and area[href])
    pagination = true              # a "next page" hop: costs no depth, 100 a chain
    parse = ["board"]              # parsers for the pages this rule reaches
    allow = '/board/'              # and/or deny: regexes (re.search) on the URL

A link matches a rule when the rule's selector picked its element and its URL
passes the rule's allow and deny. Without rules every link is followed (within the
scope, depth and budgets) and the pages it reaches get only their size line; with
rules, a link that matches none is not followed (counted `pattern`). A listed
URL's parsers are never inherited by the pages it links to.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

PAGINATION_CAP = 100  # pages a pagination chain may run to


class RulesError(ValueError):
    """The `[follow]` table cannot be used; the message is one line."""


class FollowRule(NamedTuple):
    links: str | None = None  # selector text; None: a[href] and area[href]
    pagination: bool = False
    parse: tuple[str, ...] = ()
    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()

    def matches(self, url: str) -> bool:
        """Whether `url` passes this rule's patterns (its selector is checked apart)."""
        if any(pattern.search(url) for pattern in self.deny):
            return False
        return not self.allow or any(pattern.search(url) for pattern in self.allow)


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
    unknown = set(rule) - {"links", "pagination", "parse", "allow", "deny"}
    if unknown:
        raise RulesError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    links = rule.get("links")
    if links is not None:
        if not isinstance(links, str) or not links.strip():
            raise RulesError(f"{where} links: expected a CSS or XPath selector")
        try:
            compile_selector(links)
        except ValueError as error:
            raise RulesError(f"{where} links: {error}") from None
    pagination = rule.get("pagination", False)
    if not isinstance(pagination, bool):
        raise RulesError(f"{where} pagination: expected true or false")
    parse = tuple(_strings(rule.get("parse", ()), f"{where} parse"))
    problem = check_parsers(parse)
    if problem:
        raise RulesError(f"{where} parse: {problem}")
    allow = compile_patterns(_strings(rule.get("allow", ()), f"{where} allow"), f"{where} allow")
    deny = compile_patterns(_strings(rule.get("deny", ()), f"{where} deny"), f"{where} deny")
    return FollowRule(links, pagination, parse, allow, deny)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise RulesError(f"{where}: expected a string or a list of strings")


def is_xpath(selector: str) -> bool:
    return selector.lstrip().startswith(("/", "(", "./"))


def compile_selector(selector: str):
    """An `lxml.etree.XPath` for a CSS or XPath selector; ValueError names the query."""
    from lxml import etree

    if is_xpath(selector):
        try:
            return etree.XPath(selector)
        except etree.XPathError as error:
            raise ValueError(f"bad XPath {selector!r}: {error}") from None
    from cssselect import HTMLTranslator, SelectorError

    try:
        return etree.XPath(HTMLTranslator().css_to_xpath(selector))
    except (SelectorError, etree.XPathError) as error:
        raise ValueError(f"bad CSS selector {selector!r}: {error}") from None
