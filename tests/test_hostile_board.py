"""The linear board parser against the regex one it replaced (kept as an oracle in
tests/hostile/board_regex_reference.py): the same entries for any markup built from
board fragments, and hostile glue around them."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.parsers import board
from tests.hostile import board_regex_reference as reference

FRAGMENTS = [
    "<dd>",
    "</dd>",
    "<dd ",
    '<i class="board-index board-index-1">',
    '<i class="board-index-2">',
    "1",
    " 12 ",
    "</i>",
    '<p class="name">',
    '<a href="x">',
    "<a>",
    "<abbr>",
    "Title",
    "</a>",
    "</p>",
    '<p class="star">',
    "主演：甲,乙",
    '<p class="releasetime">',
    "上映时间：1993",
    '<i class="integer">',
    "9.",
    '<i class="fraction">',
    "5",
    " ",
    "\n",
    "<",
    ">",
    '"',
    'class="name"',
    'class="star">',
    "&amp;",
    "&#10;",
]


def entries(module, text: str):
    try:
        return module.parse_board(text)
    except module.NoEntries:
        return "no entries"


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_same_entries_as_the_regex_parser(fragments: list[str]) -> None:
    text = "".join(fragments)
    assert entries(board, text) == entries(reference, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_same_as_the_regex_parser(text: str) -> None:
    assert entries(board, "<dd>" + text + "</dd>") == entries(reference, "<dd>" + text + "</dd>")
