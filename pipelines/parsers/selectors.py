"""Parsers declared as selectors in the `--config` TOML, run with parsel over lxml
(JMESPath for JSON, the page's or embedded in it: see `json_fields`).

    [parsers.quote]
    item = "div.quote"                 # one record per match; none: the page is one record
    [parsers.quote.fields]             # the record's keys, in this order
    text   = "span.text::text"
    author = { css = "small.author::text", required = true }
    tags   = { css = "a.tag::text", all = true }
    link   = { css = "a::attr(href)", url = true }
    price  = { xpath = "./span[@class='price']/text()", re = '[\\d.]+' }

A selector is CSS (parsel's, with `::text` and `::attr(NAME)`), or XPath when it
starts with `/`, `(` or `./` (or is given as `xpath = ...`): the dialect of follow
rules too, compiled by `crawler.page.selectors`. Within an item, a field
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
is the one exception, searching up to the whole page per item.

A parser may say what it reads, `type = "html"` or `type = "json"`; without it, its
item says (a JMESPath alone reads JSON pages, a CSS/XPath selector HTML ones), or
its fields do. A field that cannot read that (CSS on JSON, a JMESPath without a
CSS/XPath to pick its text on HTML) is an error when the config loads; a parser
with no item and fields of both kinds reads either, each page with its own fields
(see `DeclaredParser`). Every selector is translated and
compiled once, when the config loads, and tried once on an empty page, so an
XPath that names an unknown function or prefix fails then, not on the first page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from crawler.page.selectors import Query, SelectorError, compile_query, is_xpath, probe, texts
from pipelines.parsers.base import DeclarationError, Output, Parser
from pipelines.parsers.field_text import text_values
from pipelines.parsers.json_fields import JsonField, JsonQuery, compile_expression
from pipelines.parsers.page import ParserPage

FIELD_KEYS = ("css", "xpath", "jmespath", "required", "all", "url", "re", "join")
PARSER_KEYS = ("item", "fields", "type")
TYPES = ("html", "json")


def query(where: str, selector: object, kind: str | None = None) -> Query:
    """`selector` (CSS, or XPath by its first characters or by `kind`) compiled;
    `where` names it in an error ("parser 'quote', field 'author'")."""
    if not isinstance(selector, str) or not selector.strip():
        raise DeclarationError(f"{where}: a selector is a non-empty string, not {selector!r}")
    try:
        return compile_query(selector, kind)
    except SelectorError as error:
        raise DeclarationError(f"{where}: {error}") from None


@dataclass(frozen=True)
class Field:
    name: str
    query: Query
    required: bool = False
    all: bool = False
    url: bool = False
    pattern: re.Pattern[str] | None = None
    join: str | None = None
    reads = "html"  # what it is given: an element (a JsonField may be given JSON)

    @property
    def absolute(self) -> bool:
        """An XPath from the root (`//h1`, `(//a)[1]`) gives the same on every item."""
        return self.query.source.lstrip("(").startswith("/")

    def values(self, node: Any, page: ParserPage) -> list[str]:
        """Steps 1 to 5 of the module's docstring."""
        return text_values(texts(self.query(node)), self.pattern, self.url, self.all, page)

    def value(self, found: list[str]) -> str | list[str]:
        """Step 6."""
        if self.join is not None:
            return self.join.join(found)
        if self.all:
            return found
        return found[0] if found else ""


def compile_field(parser: str, name: object, spec: object) -> Field | JsonField:
    where = f"parser {parser!r}, field {name!r}"
    if not isinstance(name, str) or not name:
        raise DeclarationError(f"parser {parser!r}: a field name is a non-empty string")
    if isinstance(spec, str):
        return Field(name, query(where, spec))
    if not isinstance(spec, Mapping):
        raise DeclarationError(
            f'{where}: a field is a selector or a table such as {{ css = "..." }}, not {spec!r}'
        )
    unknown = [key for key in spec if key not in FIELD_KEYS]
    if unknown:
        raise DeclarationError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(FIELD_KEYS)})"
        )
    selection = compile_selection(where, spec)
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
    kind = JsonField if isinstance(selection, JsonQuery) else Field
    return kind(
        name,
        selection,  # type: ignore[arg-type]
        required=flags["required"],
        all=flags["all"] or join is not None,
        url=flags["url"],
        pattern=pattern,
        join=join,
    )


def compile_selection(where: str, spec: Mapping[str, Any]) -> Query | JsonQuery:
    """A table's `css` or `xpath` (one of them), `jmespath`, or both chained."""
    given = [key for key in ("css", "xpath") if key in spec]
    if len(given) > 1 or not (given or "jmespath" in spec):
        raise DeclarationError(
            f"{where}: give exactly one of css or xpath, or jmespath, or both chained"
        )
    chain = query(where, spec[given[0]], given[0]) if given else None
    if "jmespath" not in spec:
        assert chain is not None
        return chain
    return JsonQuery(compile_expression(where, spec["jmespath"]), chain)


def reads(query: Query | JsonQuery) -> str:
    """What a query is given: "html" (an element) or "json" (a JSON value)."""
    return query.reads if isinstance(query, JsonQuery) else "html"


@dataclass(frozen=True)
class DeclaredParser:
    """A compiled `[parsers.NAME]` table; `parse` is its one verb.

    What it reads, decided when it loads: `json` when its item is a JMESPath alone,
    or it has no item and says `type = "json"` or has only JMESPath fields; `html`
    when its item is a CSS/XPath selector (chained into JMESPath or not), or it says
    `type = "html"`, or has only CSS/XPath fields; `either` (no item, fields of
    both): the page decides, and the fields of the other kind find nothing.
    """

    name: str
    item: Query | JsonQuery | None
    fields: tuple[Field | JsonField, ...]
    source: str = "html"

    def parse(self, page: ParserPage) -> Output:
        """On a JSON page, the JSON-reading fields (a page served as JSON that does not
        parse raises NotJSON); on an HTML page, the HTML ones. A parser that reads
        only JSON given a page without a Content-Type whose text is not JSON says
        why (`not JSON (line L column C)`); given another page, it finds nothing."""
        if page.is_json:
            if self.source == "html":
                return Output([])
            root: Any = page.json
            context = "json"
        elif self.source == "json":
            if not page.media_type:
                page.json  # noqa: B018 - raises NotJSON: why the text is not JSON
            return Output([])
        else:
            root = page.selector.root
            context = "html"
        item = self.item
        if item is None:
            nodes = [root]
        elif isinstance(item, JsonQuery):
            nodes = item.items(root, page)
            context = "json"
        else:
            nodes = outermost(item(root))
        return self._records(nodes, root, context, page)

    def _records(self, nodes: list[Any], root: Any, context: str, page: ParserPage) -> Output:
        records = []
        dropped: dict[str, int] = {}
        once: dict[str, list[Any]] = {}  # the fields that look at the whole page, once
        for node in nodes:
            record = {}
            missing = None
            anything = False
            for field in self.fields:
                if field.reads != context:
                    found: list[Any] = []  # a field of the other kind: nothing here
                elif field.absolute:
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


def compile_item(name: str, spec: object) -> Query | JsonQuery:
    where = f"parser {name!r}, item"
    if isinstance(spec, Mapping):
        unknown = [key for key in spec if key not in ("css", "xpath", "jmespath")]
        if unknown:
            raise DeclarationError(
                f"{where}: unknown key {unknown[0]!r} (known: css, xpath, jmespath)"
            )
        item = compile_selection(where, spec)
        if isinstance(item, JsonQuery):
            return item
    else:
        item = query(where, spec)
    text = not is_xpath(item.source) and re.search(r"::(text|attr)\b", item.source)
    if text or not isinstance(item(probe()), list):
        raise DeclarationError(f"{where}: {item.source!r} does not select elements")
    return item


def compile_parser(name: str, table: object) -> DeclaredParser:
    """`[parsers.NAME]` as a parser, every selector compiled; raises DeclarationError.
    A field that cannot read what its parser reads is an error (see `DeclaredParser`)."""
    if not isinstance(table, Mapping):
        raise DeclarationError(f"parser {name!r}: expected a table [parsers.{name}]")
    unknown = [key for key in table if key not in PARSER_KEYS]
    if unknown:
        raise DeclarationError(
            f"parser {name!r}: unknown key {unknown[0]!r} (known: {', '.join(PARSER_KEYS)})"
        )
    declared_type = table.get("type")
    if declared_type is not None and declared_type not in TYPES:
        raise DeclarationError(f'parser {name!r}: type is "html" or "json", not {declared_type!r}')
    item = compile_item(name, table["item"]) if "item" in table else None
    fields = table.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        raise DeclarationError(
            f"parser {name!r}: no fields (a [parsers.{name}.fields] table of selectors)"
        )
    compiled = tuple(compile_field(name, key, spec) for key, spec in fields.items())
    source = _source(name, declared_type, item, compiled)
    return DeclaredParser(name, item, compiled, source)


def _source(
    name: str,
    declared_type: str | None,
    item: Query | JsonQuery | None,
    fields: tuple[Field | JsonField, ...],
) -> str:
    """What the parser reads ("html", "json" or "either"), every query checked against it."""
    if declared_type == "json":
        if item is not None and reads(item) != "json":
            raise DeclarationError(
                f'parser {name!r}, item: type = "json" reads JSON: give jmespath alone, '
                f"not {item.source!r}"
            )
    elif declared_type == "html" and item is not None and reads(item) == "json":
        raise DeclarationError(
            f'parser {name!r}, item: type = "html" reads HTML: a jmespath item needs '
            "css or xpath to pick the JSON text"
        )
    source = declared_type or (reads(item) if item is not None else None)
    # A JSON item (the page's or embedded) is given to its fields as JSON.
    inside = "json" if isinstance(item, JsonQuery) else "html" if item is not None else source
    for field in fields:
        where = f"parser {name!r}, field {field.name!r}"
        if inside == "json" and field.reads != "json":
            what = "JSON items" if item is not None else 'JSON (type = "json")'
            raise DeclarationError(
                f"{where}: the parser reads {what}: give jmespath alone, not {_spelled(field)}"
            )
        if inside == "html" and field.reads == "json":
            what = "HTML items" if item is not None else 'HTML (type = "html")'
            raise DeclarationError(
                f"{where}: the parser reads {what}: a jmespath field needs css or xpath "
                "to pick the JSON text"
            )
    if source is not None:
        return source
    kinds = {field.reads for field in fields}
    return kinds.pop() if len(kinds) == 1 else "either"


def _spelled(field: Field | JsonField) -> str:
    selection = field.query
    chain = selection.chain if isinstance(selection, JsonQuery) else selection
    return repr(chain.source) if chain is not None else "jmespath"


def declared(name: str, table: object, origin: str) -> Parser:
    return Parser(name, origin, compile_parser(name, table).parse)
