"""Pipelines turn a fetch result into the lines of `db.txt`.

A parser is a pure function from a page's text to a list of entries; `PARSERS`
names the ones a URL file line or `--parse` can ask for. The size summary is not
a parser: it is written for every fetched page whatever the line asks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from crawler.model import Failure, Page, Result
from pipelines.board import parse_board
from pipelines.records import board_line, error_line
from pipelines.size import size_summary

Parser = Callable[[str], list]
PARSERS: dict[str, tuple[Parser, Callable[[str, dict], str]]] = {
    "board": (parse_board, board_line),
}


def unknown_parsers(names: Sequence[str]) -> list[str]:
    return [name for name in names if name not in PARSERS]


def records_for(result: Result, parsers: Sequence[str]) -> tuple[list[str], str | None]:
    """The lines for one result, and why the URL failed (None if it did not).

    A failed fetch gives its one `error:` line. A fetched page gives its `url:` line,
    then each asked parser's records, or an `error:<URL> NAME: REASON` line for a
    parser that failed, which makes the URL count as failed.
    """
    if isinstance(result, Failure):
        return [error_line(result.url, result.reason)], result.reason
    page: Page = result
    lines = [size_summary(page)]
    failure = None
    for name in parsers:
        parse, line_for = PARSERS[name]
        try:
            if page.text is None:
                raise ValueError("not a text page")
            lines.extend(line_for(page.url, entry) for entry in parse(page.text))
        except Exception as error:  # noqa: BLE001 - a parser bug costs one page, not the run
            failure = f"{name}: {error}"
            lines.append(error_line(page.url, failure))
    return lines, failure
