"""Parsers declared as selectors in the `--config` TOML, run with parsel over lxml.

    [parsers.quote]
    item = "div.quote"                 # one record per match; none: the page is one record
    [parsers.quote.fields]             # the record's keys, in this order
    text   = "span.text::text"
    author = { css = "small.author::text", required = true }
    tags   = { css = "a.tag::text", all = true }
    link   = { css = "a::attr(href)", url = true }
    price  = { xpath = "./span[@class='price']/text()", re = '[\\d.]+' }

A selector is CSS (parsel's, with `::text` and `::attr(NAME)`), or XPath when it
starts with `/`, `(` or `./` (or is given as `xpath = ...`). Within an item, a field
is looked for inside the item (an XPath field should start with `./` for that).

A field's value, in this order:
1. every match of its selector: a text node or an attribute as it is; an element
   as all the text inside it (`p` gives "Hello world" for `<p>Hello <b>world</b></p>`,
   where `p::text` gives only "Hello");
2. each match trimmed of leading and trailing whitespace;
3. with `re`, what the regex finds in it (its first group if it has one, else the
   whole match); a match it finds nothing in is left out;
4. blank ones left out;
5. with `url = true`, each made absolute against the page (`<base href>`, else where
   the page was served from);
6. the first one, or "" if none; with `all = true`, the list of them; with
   `join = SEP`, the list joined by SEP into one string (`join` implies `all`).

An item whose `required` field has no value is dropped (and counted by field); an
item where no field found anything is no record.

Items do not nest: a match inside another match is part of it, not an item of its
own. So each part of the page is searched once per field, and a field that is an
XPath from the root (`//h1`, `(//a)[1]`) is evaluated once per page: the time is
linear in the page's size, whatever a crafted page nests (see `page.html_root` for
the depth). An XPath field that walks out of its item (`ancestor::`, `following::`)
is the one exception, searching up to the whole page per item. Every selector is translated and
compiled once, when the config loads, and tried once on an empty page, so an
XPath that names an unknown function or prefix fails then, not on the first page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree, html
from parsel import css2xpath

from pipelines.parsers.base import Output, Parser
from pipelines.parsers.page import ParserPage

FIELD_KEYS = ("css", "xpath", "required", "all", "url", "re", "join")
PARSER_KEYS = ("item", "fields")
# parsel's own: `re:test(...)` and the EXSLT sets, in XPath as in Selector.xpath.
NAMESPACES = {"re": "http://exslt.org/regular-expressions", "set": "http://exslt.org/sets"}
_PROBE = html.fromstring("<html><head></head><body><p>probe</p></body></html>")
_STRING = etree.XPath("string()", smart_strings=False)
UNION_WORK = 1_000_000  # node comparisons libxml2 may make to merge a union (~1 ms)


class DeclarationError(ValueError):
    """A `[parsers.NAME]` table that cannot be used; the message is one line naming
    the parser, the field and the selector."""


def is_xpath(selector: str) -> bool:
    return selector.startswith(("/", "(", "./"))


@dataclass(frozen=True)
class Query:
    """A selector as written, its compiled XPath, and, for a union (a CSS group `a, b`
    or an XPath `A | B`), each member compiled on its own.

    libxml2 merges a union in time |A| x |B| (each node of B is looked for in A), so
    the members are evaluated first: when at most one matches, that is the result;
    when merging them costs less than `UNION_WORK` comparisons, the union is
    evaluated whole (page order, no duplicates); otherwise, on a page crafted with
    tens of thousands of matches, they are taken member by member (elements once)."""

    source: str
    xpath: etree.XPath
    members: tuple[etree.XPath, ...] = ()

    def __call__(self, node: Any) -> Any:
        if not self.members:
            return self.xpath(node)
        found = [result for member in self.members if (result := member(node))]
        if len(found) <= 1:
            return found[0] if found else []
        work, before = 0, 0
        for result in found:
            work += before * len(result)
            before += len(result)
        if work <= UNION_WORK:
            return self.xpath(node)
        seen: set[Any] = set()
        merged = []
        for result in found:
            for match in result:
                if isinstance(match, str):
                    merged.append(match)
                elif match not in seen:
                    seen.add(match)
                    merged.append(match)
        return merged


def union_members(xpath: str) -> list[str]:
    """The members of a union at the top of an XPath (`A | B` -> [A, B]); [xpath]
    when there is none (a `|` inside brackets, parentheses or quotes is not one)."""
    members, depth, quote, start = [], 0, "", 0
    for at, char in enumerate(xpath):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            members.append(xpath[start:at])
            start = at + 1
    members.append(xpath[start:])
    return [member.strip() for member in members]


def compile_query(where: str, selector: object, kind: str | None = None) -> Query:
    """`selector` (CSS, or XPath by its first characters or by `kind`) compiled;
    `where` names it in an error ("parser 'quote', field 'author'")."""
    if not isinstance(selector, str) or not selector.strip():
        raise DeclarationError(f"{where}: a selector is a non-empty string, not {selector!r}")
    kind = kind or ("xpath" if is_xpath(selector) else "css")
    try:
        text = css2xpath(selector) if kind == "css" else selector
        query = etree.XPath(text, namespaces=NAMESPACES, smart_strings=False)
        query(_PROBE)  # unknown functions and prefixes show only when evaluated
        members = union_members(text)
        parts = tuple(
            etree.XPath(member, namespaces=NAMESPACES, smart_strings=False)
            for member in (members if len(members) > 1 else ())
        )
    except Exception as error:  # noqa: BLE001 - cssselect, lxml: any failure is the selector's
        name = "CSS selector" if kind == "css" else "XPath"
        raise DeclarationError(f"{where}: bad {name} {selector!r}: {_one_line(error)}") from None
    return Query(selector, query, parts)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


@dataclass(frozen=True)
class Field:
    name: str
    query: Query
    required: bool = False
    all: bool = False
    url: bool = False
    pattern: re.Pattern[str] | None = None
    join: str | None = None

    @property
    def absolute(self) -> bool:
        """An XPath from the root (`//h1`, `(//a)[1]`) gives the same on every item."""
        return self.query.source.lstrip("(").startswith("/")

    def values(self, node: Any, page: ParserPage) -> list[str]:
        """Steps 1 to 5 of the module's docstring."""
        found = []
        pattern = self.pattern
        for raw in _texts(self.query(node)):
            value = raw.strip()
            if pattern is not None:
                match = pattern.search(value)
                if match is None:
                    continue
                value = (match.group(1) if pattern.groups else match.group(0)) or ""
            if not value or value.isspace():
                continue
            found.append(page.urljoin(value) if self.url else value)
            if not self.all:
                break
        return found

    def value(self, found: list[str]) -> str | list[str]:
        """Step 6."""
        if self.join is not None:
            return self.join.join(found)
        if self.all:
            return found
        return found[0] if found else ""


def _texts(result: Any) -> list[str]:
    """An XPath result as strings: text and attributes as they are, an element as
    its string value (all the text inside it), a number or a truth value spelled out."""
    if isinstance(result, list):
        return [node if isinstance(node, str) else _STRING(node) for node in result]
    if isinstance(result, bool):
        return ["true" if result else "false"]
    if isinstance(result, float):
        return [str(int(result)) if result.is_integer() else repr(result)]
    return [str(result)]


def compile_field(parser: str, name: object, spec: object) -> Field:
    where = f"parser {parser!r}, field {name!r}"
    if not isinstance(name, str) or not name:
        raise DeclarationError(f"parser {parser!r}: a field name is a non-empty string")
    if isinstance(spec, str):
        return Field(name, compile_query(where, spec))
    if not isinstance(spec, Mapping):
        raise DeclarationError(
            f'{where}: a field is a selector or a table such as {{ css = "..." }}, not {spec!r}'
        )
    unknown = [key for key in spec if key not in FIELD_KEYS]
    if unknown:
        raise DeclarationError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(FIELD_KEYS)})"
        )
    given = [key for key in ("css", "xpath") if key in spec]
    if len(given) != 1:
        raise DeclarationError(f"{where}: give exactly one of css or xpath")
    query = compile_query(where, spec[given[0]], given[0])
    flags = {}
    for key in ("required", "all", "url"):
        value = spec.get(key, False)
        if not isinstance(value, bool):
            raise DeclarationError(f"{where}: {key} is true or false, not {value!r}")
        flags[key] = value
    for key in ("re", "join"):
        if key in spec and not isinstance(spec[key], str):
            raise DeclarationError(f"{where}: {key} is a string, not {spec[key]!r}")
    if "join" in spec and spec.get("all") is False:
        raise DeclarationError(f"{where}: join takes every match; it cannot go with all = false")
    pattern = None
    if "re" in spec:
        try:
            pattern = re.compile(spec["re"])
        except re.error as error:
            raise DeclarationError(f"{where}: bad re {spec['re']!r}: {error}") from None
    join = spec.get("join")
    return Field(
        name,
        query,
        required=flags["required"],
        all=flags["all"] or join is not None,
        url=flags["url"],
        pattern=pattern,
        join=join,
    )


@dataclass(frozen=True)
class DeclaredParser:
    """A compiled `[parsers.NAME]` table; `parse` is its one verb."""

    name: str
    item: Query | None
    fields: tuple[Field, ...]

    def parse(self, page: ParserPage) -> Output:
        root = page.selector.root
        nodes = [root] if self.item is None else outermost(self.item(root))
        records = []
        dropped: dict[str, int] = {}
        once: dict[str, list[str]] = {}  # the fields that look at the whole page, once
        for node in nodes:
            record = {}
            missing = None
            anything = False
            for field in self.fields:
                if field.absolute:
                    if field.name not in once:
                        once[field.name] = field.values(root, page)
                    found = once[field.name]
                else:
                    found = field.values(node, page)
                if not found and field.required:
                    missing = field.name
                    break
                anything = anything or bool(found)
                record[field.name] = field.value(found)
            if missing is not None:
                dropped[missing] = dropped.get(missing, 0) + 1
            elif anything:
                records.append(record)
        return Output(records, [], dropped)


def outermost(found: Any) -> list[Any]:
    """The elements of an item selector's matches that are not inside another match,
    in page order. Items never nest, so each part of the page is searched once per
    field: a page of 250 nested matches would otherwise be searched 250 times."""
    if not isinstance(found, list):
        return []
    kept: list[Any] = []
    seen: set[Any] = set()
    for node in found:
        if not (isinstance(node, etree._Element) and isinstance(node.tag, str)):
            continue
        if kept and any(ancestor in seen for ancestor in node.iterancestors()):
            continue
        kept.append(node)
        seen.add(node)
    return kept


def compile_parser(name: str, table: object) -> DeclaredParser:
    """`[parsers.NAME]` as a parser, every selector compiled; raises DeclarationError."""
    if not isinstance(table, Mapping):
        raise DeclarationError(f"parser {name!r}: expected a table [parsers.{name}]")
    unknown = [key for key in table if key not in PARSER_KEYS]
    if unknown:
        raise DeclarationError(
            f"parser {name!r}: unknown key {unknown[0]!r} (known: {', '.join(PARSER_KEYS)})"
        )
    item = None
    if "item" in table:
        item = compile_query(f"parser {name!r}, item", table["item"])
        text = not is_xpath(item.source) and re.search(r"::(text|attr)\b", item.source)
        if text or not isinstance(item(_PROBE), list):
            raise DeclarationError(
                f"parser {name!r}, item: {item.source!r} does not select elements"
            )
    fields = table.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        raise DeclarationError(
            f"parser {name!r}: no fields (a [parsers.{name}.fields] table of selectors)"
        )
    compiled = tuple(compile_field(name, key, spec) for key, spec in fields.items())
    return DeclaredParser(name, item, compiled)


def declared(name: str, table: object, origin: str) -> Parser:
    return Parser(name, origin, compile_parser(name, table).parse)
