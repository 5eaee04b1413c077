"""API pagination without code: the next page of a `[[follow.rule]]` with `next`. Pure.

    [[follow.rule]]
    next = "header"                          # the Link: <...>; rel="next" header
    [[follow.rule]]
    next = { param = "offset", step = 10 }   # this URL with ?offset= advanced by 10
    parse = ["film"]

- `next = "header"`: the targets of the response's `Link` header (RFC 8288, as
  GitHub's API sends it) whose `rel` holds `next`: several links in one header or
  in several, parameters in any order, `rel` quoted or not and holding several
  relation types (`rel="next last"`), compared in any case. Each target is resolved
  against where the page was served from, as a link in HTML is.
- `next = { param, step, start }`: the next page is this page's URL (as listed or
  found, credentials removed, fragment dropped) with the query parameter `param`
  advanced by `step`; the other parameters are kept as they are written. A URL
  without `param` is at `start`: 0 for a parameter named as an offset (`offset`,
  `skip`, `start`, `from`), else 1 (a page number), so `/api/films` is followed by
  `/api/films?page=2` and `/api/board` by `/api/board?offset=10`. A value that is not
  a whole number cannot be advanced: no next page. The chain stops at the first page
  where the rule's parsers find no item (the API's last page: counted `last-page`,
  and that page gets no `error:` line), and, like every pagination chain, at a
  page seen before (`seen`) and past the chain cap (`depth`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import quote, unquote_plus

from crawler.frontier.follow_rule import FollowRule
from crawler.model import Link

OFFSET_NAMES = frozenset({"offset", "skip", "start", "from"})
LAST_PAGE = "last-page"  # the reason a param chain ends on a page without items
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def default_start(param: str) -> int:
    """Where a URL without `param` is: 0 for an offset, 1 for a page number."""
    return 0 if param.lower() in OFFSET_NAMES else 1


def advance(url: str, param: str, step: int, start: int) -> str | None:
    """`url` with the query parameter `param` advanced by `step` (see the module
    docstring); None when its value is not a whole number."""
    url = url.split("#", 1)[0]
    base, mark, query = url.partition("?")
    pairs = query.split("&") if mark and query else []
    for index, pair in enumerate(pairs):
        name, _, value = pair.partition("=")
        if unquote_plus(name) != param:
            continue
        value = unquote_plus(value).strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", value):
            return None
        pairs[index] = f"{name}={int(value) + step}"
        return f"{base}?{'&'.join(pairs)}"
    pairs.append(f"{quote(param, safe='')}={start + step}")
    return f"{base}?{'&'.join(pairs)}"


def link_header(values: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    """The links of `Link` header values, in order: (target, parameters), parameter
    names lower-cased, a quoted value unquoted, a parameter without value ""; the
    first of a repeated parameter wins (RFC 8288, section 3). A value that does not
    parse is taken up to where it breaks."""
    links: list[tuple[str, dict[str, str]]] = []
    for value in values:
        at, end = 0, len(value)
        while True:
            opening = value.find("<", at)
            if opening < 0:
                break
            closing = value.find(">", opening)
            if closing < 0:
                break
            target = value[opening + 1 : closing].strip()
            params, at = _params(value, closing + 1, end)
            links.append((target, params))
    return links


def _params(value: str, at: int, end: int) -> tuple[dict[str, str], int]:
    """The `; name=value` parameters from `at` to the `,` that ends this link."""
    params: dict[str, str] = {}
    while at < end:
        char = value[at]
        if char in " \t":
            at += 1
        elif char == ",":
            return params, at + 1
        elif char == ";":
            at += 1
            while at < end and value[at] in " \t":
                at += 1
            name_match = _TOKEN.match(value, at)
            if name_match is None:
                continue
            name = name_match.group(0).lower()
            at = name_match.end()
            while at < end and value[at] in " \t":
                at += 1
            text = ""
            if at < end and value[at] == "=":
                at += 1
                while at < end and value[at] in " \t":
                    at += 1
                text, at = _param_value(value, at, end)
            params.setdefault(name, text)
        else:
            at += 1  # something RFC 8288 does not allow here: passed over
    return params, at


def _param_value(value: str, at: int, end: int) -> tuple[str, int]:
    if at < end and value[at] == '"':
        out = []
        at += 1
        while at < end and value[at] != '"':
            if value[at] == "\\" and at + 1 < end:
                at += 1
            out.append(value[at])
            at += 1
        return "".join(out), min(at + 1, end)
    stop = at
    while stop < end and value[stop] not in ",;":
        stop += 1
    return value[at:stop].strip(), stop


def next_targets(values: Iterable[str]) -> list[str]:
    """The targets of the links whose `rel` holds `next` (any case), in order."""
    return [
        target
        for target, params in link_header(values)
        if "next" in params.get("rel", "").lower().split()
    ]


def next_links(
    rules: Sequence[FollowRule],
    url: str,
    base: str,
    link_values: Iterable[str],
    records: Mapping[str, int] | None,
    resolve: Callable[[str, str], str],
) -> tuple[list[Link], list[tuple[str, str]]]:
    """The next pages the `next` rules give for a page: its URL `url` (as listed or
    found, credentials removed), `base` what its links are relative to, the values
    of its `Link` headers, and `records`, how many records each parser that ran on
    it made (None: none ran). A rule applies to a page whose URL passes its allow
    and deny. Returns the links (bit i set for rule i, as a selector's) and the
    next pages not taken, with the reason (`last-page`)."""
    links: list[Link] = []
    stops: list[tuple[str, str]] = []
    headers: list[str] | None = None
    for index, rule in enumerate(rules):
        paged = rule.next
        if paged is None or not rule.matches(url):
            continue
        if paged.param is None:
            if headers is None:
                headers = list(link_values)
            links.extend(
                Link(resolve(base, target), False, 1 << index) for target in next_targets(headers)
            )
            continue
        following = advance(url, paged.param, paged.step, paged.start)
        if following is None:
            continue
        ran = [records[name] for name in rule.parse if records and name in records]
        if ran and not any(ran):
            stops.append((following, LAST_PAGE))
        else:
            links.append(Link(following, False, 1 << index))
    return links, stops
