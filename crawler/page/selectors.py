"""The one selector compiler: parsel's CSS/XPath dialect and JMESPath, for follow
rules and declared parsers alike. Compiled once, when the config loads; an error is
one line naming the query (`bad CSS selector 'a[': ...`).

- `compile_query(selector, kind=None)`: a CSS selector (parsel's, with `::text` and
  `::attr(NAME)`) or an XPath (when it starts with `/`, `(` or `./`, or `kind` says
  so) as a `Query` over lxml, with parsel's namespaces (`re:test(...)`, the EXSLT
  sets). It is tried once on an empty page, so an XPath naming an unknown function
  or prefix fails when compiled, not on the first page.
- `texts(result)`: an XPath result as strings.
- `Expression(text)`: a compiled JMESPath; a function JMESPath does not have is an
  error then too (JMESPath says so only when a search reaches the call).

lxml, parsel and jmespath are imported on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

# parsel's own: `re:test(...)` and the EXSLT sets, in XPath as in Selector.xpath.
NAMESPACES = {"re": "http://exslt.org/regular-expressions", "set": "http://exslt.org/sets"}
UNION_WORK = 1_000_000  # node comparisons libxml2 may make to merge a union (~1 ms)


class SelectorError(ValueError):
    """A query that cannot be compiled; the message is one line naming it."""


class SearchFailure(ValueError):
    """A JMESPath search that fails on a document's data (a function given a value
    of the wrong type); the message names the expression."""


def is_xpath(selector: str) -> bool:
    return selector.lstrip().startswith(("/", "(", "./"))


@dataclass(frozen=True)
class Query:
    """A selector as written, its compiled XPath, and, for a union (a CSS group `a, b`
    or an XPath `A | B`), each member compiled on its own.

    libxml2 merges a union in time |A| x |B| (each node of B is looked for in A), so
    the members are evaluated first: when at most one matches, that is the result;
    when merging them costs less than `UNION_WORK` comparisons, the union is
    evaluated whole (page order, no duplicates); otherwise, on a page crafted with
    tens of thousands of matches, they are taken member by member (elements once).

    lxml's XPath objects are not to be shared between threads: compile one a thread."""

    source: str
    xpath: Any  # lxml.etree.XPath
    members: tuple[Any, ...] = ()

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


@cache
def probe() -> Any:
    """A small HTML tree every query is tried on when compiled (read only)."""
    from lxml import html

    return html.fromstring("<html><head></head><body><p>probe</p></body></html>")


def compile_query(selector: str, kind: str | None = None, smart_strings: bool = False) -> Query:
    """`selector` (CSS, or XPath by its first characters or by `kind`: "css" or
    "xpath") compiled; SelectorError names it. `smart_strings`: a text or attribute
    matched knows its element (`.getparent()`), as a follow rule's links need."""
    from lxml import etree
    from parsel import css2xpath

    kind = kind or ("xpath" if is_xpath(selector) else "css")
    try:
        text = css2xpath(selector) if kind == "css" else selector
        query = etree.XPath(text, namespaces=NAMESPACES, smart_strings=smart_strings)
        query(probe())  # unknown functions and prefixes show only when evaluated
        members = union_members(text)
        parts = tuple(
            etree.XPath(member, namespaces=NAMESPACES, smart_strings=smart_strings)
            for member in (members if len(members) > 1 else ())
        )
    except Exception as error:  # noqa: BLE001 - cssselect, lxml: any failure is the selector's
        name = "CSS selector" if kind == "css" else "XPath"
        raise SelectorError(f"bad {name} {selector!r}: {one_line(error)}") from None
    return Query(selector, query, parts)


def one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


@cache
def _string() -> Any:
    from lxml import etree

    return etree.XPath("string()", smart_strings=False)


def texts(result: Any) -> list[str]:
    """An XPath result as strings: text and attributes as they are, an element as
    its string value (all the text inside it), a number or a truth value spelled out."""
    if isinstance(result, list):
        string = _string()
        return [node if isinstance(node, str) else string(node) for node in result]
    if isinstance(result, bool):
        return ["true" if result else "false"]
    if isinstance(result, float):
        return [str(int(result)) if result.is_integer() else repr(result)]
    return [str(result)]


class Expression:
    """A compiled JMESPath expression, `source` as written; SelectorError names it."""

    def __init__(self, source: str) -> None:
        import jmespath
        from jmespath.exceptions import JMESPathError
        from jmespath.visitor import TreeInterpreter

        try:
            self._compiled = jmespath.compile(source)
        except JMESPathError as error:
            raise SelectorError(f"bad JMESPath {source!r}: {one_line(error)}") from None
        unknown = unknown_function(self._compiled.parsed)
        if unknown is not None:
            raise SelectorError(f"bad JMESPath {source!r}: Unknown function: {unknown}()")
        self.source = source
        self._keys = field_chain(self._compiled.parsed)
        self._interpreter = TreeInterpreter()  # one a query: jmespath makes one a search

    def search(self, value: Any) -> Any:
        """JMESPath's result on `value`; SearchFailure names the expression. A chain
        of names (`rank`, `data.next`), the most common query, is walked directly:
        JMESPath's own interpreter costs some microseconds a call, and a field is
        asked once an item."""
        keys = self._keys
        if keys is not None:
            for key in keys:
                if not isinstance(value, dict):
                    return None
                value = value.get(key)
            return value
        from jmespath.exceptions import JMESPathError

        try:
            return self._interpreter.visit(self._compiled.parsed, value)
        except JMESPathError as error:
            raise SearchFailure(f"JMESPath {self.source!r}: {one_line(error)}") from None

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


def field_chain(tree: dict[str, Any]) -> tuple[str, ...] | None:
    """The names of a query that only names fields (`a`, `a.b.c`), else None."""
    if tree.get("type") == "field":
        return (tree["value"],)
    if tree.get("type") == "subexpression":
        keys: list[str] = []
        for child in tree.get("children", ()):
            chain = field_chain(child)
            if chain is None:
                return None
            keys.extend(chain)
        return tuple(keys)
    return None


def unknown_function(tree: dict[str, Any]) -> str | None:
    """The first function a parsed JMESPath calls that JMESPath does not have."""
    from jmespath.functions import Functions

    known = Functions.FUNCTION_TABLE
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.get("type") == "function_expression" and node.get("value") not in known:
            return str(node.get("value"))
        stack.extend(child for child in node.get("children", ()) if isinstance(child, dict))
    return None
