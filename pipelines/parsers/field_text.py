"""The text steps of a declared field, the same for a CSS/XPath field and a JSON one.

Each raw string, in order: white space stripped; with `pattern`, the first match
kept (its first group when it has groups) and a string it does not match passed
over; an empty or blank value passed over; with `url`, the value resolved against
the page; without `every` (a field's `all`), the first value that is left ends the list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipelines.parsers.page import ParserPage


def text_values(
    raws: Iterable[str], pattern: re.Pattern[str] | None, url: bool, every: bool, page: ParserPage
) -> list[str]:
    found = []
    for raw in raws:
        value = raw.strip()
        if pattern is not None:
            match = pattern.search(value)
            if match is None:
                continue
            value = (match.group(1) if pattern.groups else match.group(0)) or ""
        if not value or value.isspace():
            continue
        found.append(page.urljoin(value) if url else value)
        if not every:
            break
    return found
