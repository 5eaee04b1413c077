# The board parser as it was before the tag-scan rewrite (commit 81a536e): correct but
# quadratic on crafted pages. Kept as the oracle that the rewrite gives the same entries.
# ruff: noqa
"""The board-ranking parser for Maoyan-style film boards. Pure: text in, entries out.

The tutorial matches one regex with many `.*?` over the whole page; on a crafted
page of unterminated `<dd>` blocks that backtracks for minutes. Here the page is
first cut into `<dd>...</dd>` blocks with plain string searches (each byte looked
at a bounded number of times), and each field is then found inside its block by a
regex whose variable parts cannot cross a `<` or `>`, so the whole parse is linear
in the page's size.

Each entry has the keys index, title, actor, time and score, in that order: HTML
entities unescaped, whitespace trimmed, the labels `主演：` and `上映时间：` removed,
and the score joined from its integer part and its fraction (`9.` + `5` = `9.5`).
A block without a rank number or a title is not an entry.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator


class NoEntries(ValueError):
    """The page has no board entry: a verification page, or not a board at all."""

    def __init__(self) -> None:
        super().__init__("no entries found")


_FIELDS = {
    "index": re.compile(r'class="[^"<>]*\bboard-index\b[^<>]*>\s*(\d+)\s*<'),
    "title": re.compile(r'class="name"[^<>]*>\s*<a\b[^<>]*>([^<]*)<'),
    "actor": re.compile(r'class="star"[^<>]*>([^<]*)<'),
    "time": re.compile(r'class="releasetime"[^<>]*>([^<]*)<'),
    "integer": re.compile(r'class="integer"[^<>]*>([^<]*)<'),
    "fraction": re.compile(r'class="fraction"[^<>]*>([^<]*)<'),
}
_LABELS = {"actor": "主演：", "time": "上映时间："}


def dd_blocks(text: str) -> Iterator[str]:
    """The innermost `<dd>...</dd>` blocks of `text`, in order."""
    position = 0
    while True:
        end = text.find("</dd>", position)
        if end < 0:
            return
        start = text.rfind("<dd", position, end)
        if start >= 0:
            yield text[start:end]
        position = end + 5


def _field(block: str, name: str) -> str:
    match = _FIELDS[name].search(block)
    if not match:
        return ""
    value = " ".join(html.unescape(match.group(1)).split())
    label = _LABELS.get(name)
    if label and value.startswith(label):
        value = value[len(label) :].strip()
    return value


def parse_entry(block: str) -> dict[str, str] | None:
    """One board entry from the inside of a `<dd>` block, or None if it is not one."""
    index, title = _field(block, "index"), _field(block, "title")
    if not index or not title:
        return None
    return {
        "index": index,
        "title": title,
        "actor": _field(block, "actor"),
        "time": _field(block, "time"),
        "score": _field(block, "integer") + _field(block, "fraction"),
    }


def parse_board(text: str) -> list[dict[str, str]]:
    """Every entry of a board page, in page order; raises `NoEntries` if there is none."""
    entries = [entry for block in dd_blocks(text) if (entry := parse_entry(block))]
    if not entries:
        raise NoEntries()
    return entries
