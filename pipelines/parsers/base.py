"""What a parser is, whatever its origin: a name, where it comes from, and one verb.

`parse(page) -> Output` takes a `ParserPage` and returns the page's records (dicts
whose keys are written in their order), the links it found (absolute URLs, for the
follow rules) and the items it dropped for want of a required field, by field.
A parser may raise: the registry turns that into the page's `error:` line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from pipelines.parsers.page import ParserPage

BUILT_IN = "built-in"


class DeclarationError(ValueError):
    """A `[parsers.NAME]` table that cannot be used; the message is one line naming
    the parser, the field and the selector."""


class ParseFailure(Exception):
    """An expected failure of a parser on a page (not a text page, a parser that
    cannot run): its message is the reason as written, without the exception's type."""


class Output(NamedTuple):
    records: list[Mapping[str, object]]
    links: list[str] = []  # noqa: RUF012 - never mutated: a NamedTuple default
    dropped: Mapping[str, int] = {}


@dataclass(frozen=True)
class Parser:
    """One parser of the registry. `origin` says where it comes from, as
    `--list-parsers` prints it; `problem` is set when it cannot run (a plugin that
    did not load), and then `parse` is None."""

    name: str
    origin: str
    parse: Callable[[ParserPage], Output] | None = field(default=None, compare=False)
    problem: str | None = None
