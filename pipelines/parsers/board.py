"""The board-ranking parser for Maoyan-style film boards. Pure: text in, entries out.

The tutorial matches one regex with many `.*?` over the whole page; on a crafted
page of unterminated `<dd>` blocks that backtracks for minutes. Here the page is
first cut into `<dd>...</dd>` blocks with plain string searches (each byte looked
at a bounded number of times). Each block is then read once as a sequence of tags
(`<...>`, no `<` or `>` inside) and the text after each; a field is the text after
the first tag whose class names it. Field regexes that searched the whole block
(`class="name"[^<>]*>...`) were quadratic: a block holding many `class="name"` and
no `>` made every one of them scan to the block's end (20 s for 200 kB). Here no
byte is scanned twice by the same step, so the whole parse is linear in the page's
size (benchmarks/parse_time.py prints it for 1 to 8 MB).

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


_TAG = re.compile(r"<([^<>]*)>")
_INDEX_CLASS = re.compile(r'class="[^"<>]*\bboard-index\b')
_LINK = re.compile(r"a\b")
_NUMBER = re.compile(r"\s*(\d+)\s*")
# The fields whose value is the text right after a tag with this exact class.
_TEXT_AFTER = {
    'class="star"': "actor",
    'class="releasetime"': "time",
    'class="integer"': "integer",
    'class="fraction"': "fraction",
}
_LABELS = {"actor": "主演：", "time": "上映时间："}
_FIELD_COUNT = 2 + len(_TEXT_AFTER)


def _text_after(block: str, end: int) -> str | None:
    """The text from `end` up to the next `<`; None if no `<` follows."""
    after = block.find("<", end)
    return block[end:after] if after >= 0 else None


def _clean(name: str, raw: str) -> str:
    value = " ".join(html.unescape(raw).split())
    label = _LABELS.get(name)
    if label and value.startswith(label):
        value = value[len(label) :].strip()
    return value


def _raw_fields(block: str) -> dict[str, str]:
    """The first raw text of each field in a block, read in one pass over its tags."""
    found: dict[str, str] = {}
    title_link_at = -1  # where a link must start to hold the title: right after `class="name"`
    for tag in _TAG.finditer(block):
        start, end, attributes = tag.start(), tag.end(), tag.group(1)
        if start == title_link_at and "title" not in found and _LINK.match(attributes):
            text = _text_after(block, end)
            if text is not None:
                found["title"] = text
        title_link_at = -1
        if 'class="' not in attributes:
            continue
        text = _text_after(block, end)
        if text is None:
            continue
        if "index" not in found and _INDEX_CLASS.search(attributes):
            number = _NUMBER.fullmatch(text)
            if number:
                found["index"] = number.group(1)
        if 'class="name"' in attributes and not text.strip():
            title_link_at = end + len(text)
        for anchor, name in _TEXT_AFTER.items():
            if name not in found and anchor in attributes:
                found[name] = text
        if len(found) == _FIELD_COUNT:
            break
    return found


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


def parse_entry(block: str) -> dict[str, str] | None:
    """One board entry from the inside of a `<dd>` block, or None if it is not one."""
    raw = _raw_fields(block)
    field = {name: _clean(name, value) for name, value in raw.items()}
    index, title = field.get("index", ""), field.get("title", "")
    if not index or not title:
        return None
    return {
        "index": index,
        "title": title,
        "actor": field.get("actor", ""),
        "time": field.get("time", ""),
        "score": field.get("integer", "") + field.get("fraction", ""),
    }


def parse_board(text: str) -> list[dict[str, str]]:
    """Every entry of a board page, in page order; raises `NoEntries` if there is none."""
    entries = [entry for block in dd_blocks(text) if (entry := parse_entry(block))]
    if not entries:
        raise NoEntries()
    return entries
