"""JMESPath in declared parsers: items and fields that read JSON, the page's own or
JSON embedded in HTML (a CSS/XPath selector's text chained into JMESPath).

    [parsers.film]                                   # a JSON API
    item = { jmespath = "data.movies[*]" }
    [parsers.film.fields]
    rank  = { jmespath = "rank", required = true }   # 1 stays 1
    stars = { jmespath = "star", all = true }        # a list
    link  = { jmespath = "detailUrl", url = true }   # a string, made absolute

    [parsers.next]                                   # data a page embeds
    item = { css = "script#__NEXT_DATA__::text", jmespath = "props.pageProps.items[*]" }

What a JSON query reads: the item it is in (a JSON value), else the page's JSON;
chained (`css` or `xpath`, and `jmespath`), each text its selector matches, parsed as
JSON once a page (`ParserPage.embedded`): a text that is not JSON is passed over, so
one broken JSON-LD block does not hide the others, and several blocks each count.

An item's elements: the result's elements when it is a list (`data.movies[*]`), else
the result itself; null is no item; a chained item's elements of each text in turn.

A field's value, in this order:
1. the JMESPath result on what it reads (each text in turn, chained);
2. without `re`, `join` or `url`, the value keeps its JSON type: the first result
   that is not null (a list stays a list, an object an object), or null when there
   is none; with `all = true`, the results flattened one level (a list gives its
   elements, another value itself), nulls left out, `[]` when there is none;
3. with `re`, `join` or `url`, the value is text, as an HTML field's: the results
   flattened one level, each a string as it is or as its JSON text (`3`, `true`,
   `{"a": 1}`), then trimmed, `re`, blanks left out, `url`, and the first (or ""),
   the list (`all`) or the list joined (`join`): see `selectors`.
A field has no value (for `required`, and for "no field found anything") when it is
null, or an empty list.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crawler.page.jsondoc import NotJSON
from crawler.page.selectors import Expression, Query, SelectorError, texts
from pipelines.parsers.base import DeclarationError
from pipelines.parsers.field_text import text_values

if TYPE_CHECKING:
    from pipelines.parsers.page import ParserPage


def compile_expression(where: str, source: object) -> Expression:
    """A field's or an item's JMESPath, compiled when the config loads; an error
    names it. A search that fails on a page's data (a function given a value of
    the wrong type) raises SearchFailure: that page's error line, naming the
    expression."""
    if not isinstance(source, str) or not source.strip():
        raise DeclarationError(f"{where}: jmespath is a non-empty string, not {source!r}")
    try:
        return Expression(source)
    except SelectorError as error:
        raise DeclarationError(f"{where}: {error}") from None


@dataclass(frozen=True)
class JsonQuery:
    """A JMESPath expression, alone (it reads a JSON value) or chained after an
    HTML query (it reads the JSON of each text that query matches). `reads` is
    what it is given: "json" (a JSON value) or "html" (an element)."""

    expression: Expression
    chain: Query | None = None
    reads: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads", "json" if self.chain is None else "html")

    def results(self, node: Any, page: ParserPage) -> list[Any]:
        """The result on `node`, or, chained, on each JSON text under it, in order."""
        if self.chain is None:
            return [self.expression.search(node)]
        results = []
        for text in texts(self.chain(node)):
            try:
                document = page.embedded(text)
            except NotJSON:
                continue
            results.append(self.expression.search(document))
        return results

    def items(self, node: Any, page: ParserPage) -> list[Any]:
        """The items it selects (see the module docstring)."""
        return flatten(self.results(node, page))


def flatten(results: list[Any]) -> list[Any]:
    """The results flattened one level, nulls left out."""
    found: list[Any] = []
    for result in results:
        if isinstance(result, list):
            found.extend(value for value in result if value is not None)
        elif result is not None:
            found.append(result)
    return found


def as_text(value: Any) -> str:
    """A string as it is; any other JSON value as its JSON text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class JsonField:
    """A field read with JMESPath; `values` and `value` as `selectors.Field`'s.
    Worked out once: `reads` (the query's), `textual` (`re`, `join` or `url` make
    the value a string: step 3), `absolute` (chained after an XPath from the root:
    the same on every item)."""

    name: str
    query: JsonQuery
    required: bool = False
    all: bool = False
    url: bool = False
    pattern: re.Pattern[str] | None = None
    join: str | None = None
    reads: str = field(init=False)
    textual: bool = field(init=False)
    absolute: bool = field(init=False)

    def __post_init__(self) -> None:
        chain = self.query.chain
        absolute = chain is not None and chain.source.lstrip("(").startswith("/")
        textual = self.pattern is not None or self.join is not None or self.url
        object.__setattr__(self, "reads", self.query.reads)
        object.__setattr__(self, "textual", textual)
        object.__setattr__(self, "absolute", absolute)

    def values(self, node: Any, page: ParserPage) -> list[Any]:
        """Steps 1 to 3 up to the choice of the first, the list or the joined list."""
        results = self.query.results(node, page)
        if not self.textual:
            if self.all:
                return flatten(results)
            return next(([result] for result in results if result is not None), [])
        raws = (as_text(raw) for raw in flatten(results))
        return text_values(raws, self.pattern, self.url, self.all, page)

    def value(self, found: list[Any]) -> Any:
        if self.join is not None:
            return self.join.join(found)
        if self.all:
            return found
        if found:
            return found[0]
        return "" if self.textual else None
