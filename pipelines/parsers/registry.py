"""The one registry of parsers: built once at start-up, asked by everything that
names a parser (the URL file, `--parse`, follow rules, `crawl parse`).

It is built from, in this order:
1. the built-ins (`board`);
2. the plugins, entry points of the group `crawl.parsers` (`plugins.py`);
3. the `[parsers.NAME]` tables of the `--config` file (`selectors.py`).

Names: a parser's name is the KIND of its lines, so it is a lowercase identifier and
is not `url`, `error` or `run`. A declared parser whose name is unusable, taken by a
built-in or by an installed plugin, or whose table is bad, stops the start-up
(`RegistryError`, one line: exit 2). A plugin whose name is unusable or taken by a
built-in, or that two distributions install, or that did not load, is a start-up
line (`problems`) and cannot run: a run that asks for it stops.

`records(page, names)` runs the parsers a page asks for and turns what they give
into lines; a parser that raises costs that page's records of that parser, never
the run (see `Registry.records`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from crawler.model import Page
from crawler.page.jsondoc import NotJSON
from crawler.page.selectors import SearchFailure
from pipelines.parsers.base import BUILT_IN, DeclarationError, Output, ParseFailure, Parser
from pipelines.parsers.board import NoEntries, parse_board
from pipelines.parsers.page import ParserPage
from pipelines.parsers.plugins import one_line
from pipelines.records import RESERVED_KINDS, error_line, is_kind, record_lines

MAX_REASON = 500  # characters of an exception's message kept in an error: line
# Failures a parser expects: their message is the reason, without the exception's type.
EXPECTED = (ParseFailure, NoEntries, NotJSON, SearchFailure)


class RegistryError(ValueError):
    """The parsers cannot be set up as configured; the message is one line."""


def _board(page: ParserPage) -> Output:
    return Output(parse_board(page.text))


BUILT_INS = (Parser("board", f"{BUILT_IN}: the Maoyan film board (a linear regex parser)", _board),)


class Parsed(NamedTuple):
    """What the parsers asked for made of one page: the record lines (and `error:`
    lines), the first failure's reason (None if none failed), the links found, the
    items dropped for want of a required field (by parser and field), and the
    exceptions no parser expected (for `crawl parse` to show)."""

    lines: list[str]
    failure: str | None
    links: list[str]
    dropped: dict[tuple[str, str], int]
    errors: list[tuple[str, BaseException]]
    records: dict[str, int] = {}  # noqa: RUF012 - records made, by parser (0: failed)


class Registry:
    """Parsers by name. Iterating gives the names (those that cannot run too), in
    the order of the module's docstring."""

    def __init__(self, parsers: Iterable[Parser] = BUILT_INS, problems: Sequence[str] = ()):
        self._parsers = {parser.name: parser for parser in parsers}
        self.problems = list(problems)  # one line each, said at start-up
        self._lock = threading.Lock()
        self._dropped = 0

    def __contains__(self, name: object) -> bool:
        return name in self._parsers

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsers)

    def __len__(self) -> int:
        return len(self._parsers)

    def get(self, name: str) -> Parser | None:
        return self._parsers.get(name)

    def problem(self, name: str) -> str | None:
        """Why `name` cannot run (unknown, or a plugin that did not load); None if it can."""
        parser = self._parsers.get(name)
        if parser is None:
            return f"unknown parser {name} (known: {', '.join(self._parsers)})"
        if parser.parse is None:
            return f"parser {name} cannot run: {parser.problem}"
        return None

    def check(self, names: Iterable[str]) -> str | None:
        """The first problem among `names`, or None if every one can run."""
        return next((p for name in names if (p := self.problem(name)) is not None), None)

    def listing(self) -> list[str]:
        """One line per parser, `NAME  ORIGIN`, as `crawl --list-parsers` prints them."""
        width = max((len(name) for name in self._parsers), default=0)
        lines = []
        for parser in self._parsers.values():
            problem = f": {parser.problem}" if parser.problem else ""
            lines.append(f"{parser.name:<{width}}  {parser.origin}{problem}")
        return lines

    @property
    def dropped(self) -> int:
        """Items dropped for want of a required field, over every page so far."""
        return self._dropped

    def records(
        self,
        page: Page,
        names: Iterable[str],
        view: ParserPage | None = None,
        quiet: bool = False,
    ) -> Parsed:
        """The lines of the parsers `names` on `page`, in that order. Never raises.
        `view`: the page as parsers see it, if the caller made it (it holds what is
        parsed once a page); `quiet`: a page without records is the normal end of a
        chain of API pages, and its parsers' `no entries found` is no line.

        Each parser gives its records as `NAME:<URL> {json}` lines, or one
        `error:<URL> NAME: REASON` line: `no entries found` when it gives no record
        (and no link), `not a text page`, `not JSON (line L column C)` when it reads
        the page's JSON and there is none, or `ExceptionType: message` when it
        raised. A parser's records of a page are all written or none is.
        """
        lines: list[str] = []
        links: list[str] = []
        dropped: dict[tuple[str, str], int] = {}
        errors: list[tuple[str, BaseException]] = []
        made: dict[str, int] = {}
        failure = None
        for name in dict.fromkeys(names):
            made[name] = 0
            try:
                parser = self._parsers.get(name)
                if parser is None or parser.parse is None:
                    raise ParseFailure(self.problem(name))
                if view is None:
                    if page.text is None:
                        raise ParseFailure("not a text page")
                    view = ParserPage(page)
                output = parser.parse(view)
                for field, count in output.dropped.items():
                    dropped[name, field] = dropped.get((name, field), 0) + count
                found = record_lines(name, page.url, output.records)
                if not found and not output.links:
                    raise NoEntries()
            except Exception as error:  # noqa: BLE001 - a parser's failure costs its records
                if quiet and isinstance(error, NoEntries):
                    continue
                reason = f"{name}: {_reason(error)}"
                failure = failure or reason
                lines.append(error_line(page.url, reason))
                if not isinstance(error, EXPECTED):
                    errors.append((name, error))
                continue
            lines.extend(found)
            links.extend(output.links)
            made[name] = len(found)
        if dropped:
            with self._lock:
                self._dropped += sum(dropped.values())
        return Parsed(lines, failure, links, dropped, errors, made)


def _reason(error: Exception) -> str:
    text = str(error) if isinstance(error, EXPECTED) else one_line(error)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def build(
    tables: object = None,
    config: Path | str | None = None,
    plugins: Callable[[], list[Parser]] | None = None,
) -> Registry:
    """The registry of the built-ins, the installed plugins (`plugins()`, by default
    every entry point of `crawl.parsers`) and the `[parsers]` table `tables` of the
    config file `config`. Raises RegistryError for a config that cannot be used."""
    if plugins is None:
        from pipelines.parsers.plugins import discover as plugins
    parsers: dict[str, Parser] = {parser.name: parser for parser in BUILT_INS}
    problems: list[str] = []
    installed: dict[str, Parser] = {}
    for plugin in plugins():
        taken = _name_problem(plugin.name)
        if taken is None and plugin.name in parsers:
            taken = f"the name is the {BUILT_IN} parser's, which is used"
        if taken is None and plugin.name in installed:
            first = installed[plugin.name]
            both = f"{first.origin} and {plugin.origin}"
            installed[plugin.name] = Parser(plugin.name, both, None, "installed twice")
            continue
        if taken is not None:
            problems.append(f"parser {plugin.name!r}: {plugin.origin}: {taken}")
            continue
        installed[plugin.name] = plugin
    for plugin in installed.values():
        if plugin.problem:
            problems.append(f"parser {plugin.name!r}: {plugin.origin}: {plugin.problem}")
    parsers.update(installed)
    for parser in _declared(tables, config):
        other = parsers.get(parser.name)
        if other is not None:
            owner = "the built-in parser" if other in BUILT_INS else f"the {other.origin}"
            raise RegistryError(
                f"{_where(config)}: parser {parser.name!r}: the name is taken by {owner}; "
                f"rename [parsers.{parser.name}]"
            )
        parsers[parser.name] = parser
    return Registry(parsers.values(), problems)


def _where(config: Path | str | None) -> str:
    return f"config {config}" if config is not None else "config"


def _name_problem(name: str) -> str | None:
    if not is_kind(name):
        return f"a parser's name is a lowercase identifier (a-z, 0-9, _), not {name!r}"
    if name in RESERVED_KINDS:
        return f"the name is taken by the {name}: lines"
    return None


def _declared(tables: object, config: Path | str | None) -> list[Parser]:
    """The `[parsers.NAME]` tables compiled, in the file's order."""
    if tables is None:
        return []
    where = _where(config)
    if not isinstance(tables, Mapping):
        raise RegistryError(f"{where}: parsers is a table of [parsers.NAME] tables")
    from pipelines.parsers.selectors import declared

    compiled = []
    for name, table in tables.items():
        problem = _name_problem(name)
        if problem is not None:
            raise RegistryError(f"{where}: parser {name!r}: {problem}")
        try:
            compiled.append(declared(name, table, where))
        except DeclarationError as error:
            raise RegistryError(f"{where}: {error}") from None
    return compiled


_active = Registry()


def install(registry: Registry) -> Registry:
    """Make `registry` the one this process's run asks (`active()`); returns it."""
    global _active
    _active = registry
    return registry


def active() -> Registry:
    """The registry installed at start-up; the built-ins alone until one is."""
    return _active
