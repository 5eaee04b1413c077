"""Parsers installed as Python plugins: entry points of the group `crawl.parsers`.

A distribution adds a parser by declaring, in its pyproject.toml,

    [project.entry-points."crawl.parsers"]
    price = "crawl_price:parse"

`parse(page)` gets a `ParserPage` (`url`, `final_url`, `status`, `headers`, `text`,
`selector`, `soup()`, `urljoin()`) and returns the page's records: an iterable of
dicts (a generator will do; one dict alone is one record; None is none), or a pair
`(records, links)` when it also finds links for the follow rules (each resolved
against the page exactly as a link found in it is: `ParserPage.link`).

Every plugin of the group is imported once, at start-up. One that fails to import
(or is not callable) stays in the registry with the reason, so that start-up can
say it in one line and a run that asks for it can stop (exit 2) before fetching.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import Any

from pipelines.parsers.base import Output, Parser
from pipelines.parsers.page import ParserPage

GROUP = "crawl.parsers"


def one_line(error: BaseException) -> str:
    """`ExceptionType: message`, on one line (the message's whitespace collapsed)."""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def origin_of(entry: metadata.EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    source = f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    return f"plugin {source} ({entry.value})"


def discover(group: str = GROUP) -> list[Parser]:
    """A parser for each entry point of `group`, imported; in the order found."""
    found = []
    for entry in metadata.entry_points(group=group):
        origin = origin_of(entry)
        try:
            function = entry.load()
        except Exception as error:  # noqa: BLE001 - whatever the plugin's import raises
            found.append(Parser(entry.name, origin, None, f"did not load: {one_line(error)}"))
            continue
        if not callable(function):
            problem = f"did not load: {entry.value} is not callable ({type(function).__name__})"
            found.append(Parser(entry.name, origin, None, problem))
            continue
        found.append(Parser(entry.name, origin, runner(function)))
    return found


def runner(function: Callable[[ParserPage], Any]) -> Callable[[ParserPage], Output]:
    """`function` as a registry parser: its result read as the module's docstring says."""

    def parse(page: ParserPage) -> Output:
        return read_result(function(page), page)

    parse.__wrapped__ = function  # type: ignore[attr-defined]
    return parse


def read_result(result: Any, page: ParserPage) -> Output:
    links: Iterable[Any] = ()
    if (
        isinstance(result, tuple)
        and len(result) == 2
        and not isinstance(result[0], Mapping)
        and not isinstance(result[1], Mapping)
    ):
        result, links = result
    if result is None:
        records: list[Any] = []
    elif isinstance(result, Mapping):
        records = [result]
    else:
        records = list(result)
    for number, record in enumerate(records, 1):
        if not isinstance(record, Mapping):
            raise TypeError(f"record {number} is a {type(record).__name__}, not a dict")
    absolute = []
    for link in links or ():
        if not isinstance(link, str):
            raise TypeError(f"a link is a str, not a {type(link).__name__}")
        absolute.append(page.link(link))
    return Output(records, absolute)
