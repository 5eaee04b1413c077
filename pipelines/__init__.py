"""Pipelines turn a fetch result into the lines of `db.txt`.

The parsers live behind one registry (`pipelines.parsers`): the built-in `board`,
the ones declared in the config, the installed plugins. The size summary is not a
parser: it is written for every fetched page whatever the line asks.
"""

from __future__ import annotations

from collections.abc import Sequence

from crawler.model import Failure, Page, Result
from pipelines.parsers import Parsed, ParserPage, Registry, active
from pipelines.records import error_line
from pipelines.size import size_summary


def parse_page(
    page: Page,
    parsers: Sequence[str],
    registry: Registry | None = None,
    view: ParserPage | None = None,
    quiet: bool = False,
) -> Parsed:
    """The `url:` line of a fetched page, then what each asked parser makes of it
    (see `Registry.records`, and its `view` and `quiet`), with the links and the
    dropped items. Never raises."""
    parsed = (registry or active()).records(page, parsers, view, quiet)
    return parsed._replace(lines=[size_summary(page), *parsed.lines])


def records_for(
    result: Result, parsers: Sequence[str], registry: Registry | None = None
) -> tuple[list[str], str | None]:
    """The lines for one result, and why the URL failed (None if it did not).

    A failed fetch gives its one `error:` line. A fetched page gives its `url:` line,
    then each asked parser's records, or an `error:<URL> NAME: REASON` line for a
    parser that failed, which makes the URL count as failed. `registry`: the run's
    (`pipelines.parsers.active()`, installed at start-up) unless given.
    """
    if isinstance(result, Failure):
        return [error_line(result.url, result.reason)], result.reason
    parsed = parse_page(result, parsers, registry)
    return parsed.lines, parsed.failure
