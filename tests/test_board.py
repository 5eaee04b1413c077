"""The board parser on saved pages, on hand-made blocks, and on a hostile page."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.parsers.board import NoEntries, dd_blocks, parse_board

PAGES = Path(__file__).parent / "pages"

BOARD_ENTRIES = [
    {
        "index": "1",
        "title": "霸王别姬",
        "actor": "张国荣,张丰毅,巩俐",
        "time": "1993-01-01",
        "score": "9.5",
    },
    {
        "index": "2",
        "title": "肖申克的救赎",
        "actor": "蒂姆·罗宾斯,摩根·弗里曼,鲍勃·冈顿",
        "time": "1994-09-10(加拿大)",
        "score": "9.5",
    },
    {
        "index": "3",
        "title": "罗马假日",
        "actor": "格利高里·派克,奥黛丽·赫本,埃迪·艾伯特",
        "time": "1953-09-02(美国)",
        "score": "9.1",
    },
    {
        "index": "4",
        "title": "这个杀手不太冷",
        "actor": "让·雷诺,加里·奥德曼,娜塔莉·波特曼",
        "time": "1994-09-14(法国)",
        "score": "9.5",
    },
    {
        "index": "5",
        "title": "泰坦尼克号",
        "actor": "莱昂纳多·迪卡普里奥,凯特·温丝莱特,比利·赞恩",
        "time": "1998-04-03",
        "score": "9.5",
    },
]


def entry_html(
    index: str = "1",
    title: str = "霸王别姬",
    actor: str = "主演：张国荣",
    time: str = "上映时间：1993-01-01",
    integer: str = "9.",
    fraction: str = "5",
) -> str:
    return (
        f'<dd><i class="board-index board-index-{index}">{index}</i>'
        f'<p class="name"><a href="/films/1" title="x">{title}</a></p>'
        f'<p class="star">{actor}</p>'
        f'<p class="releasetime">{time}</p>'
        f'<p class="score"><i class="integer">{integer}</i><i class="fraction">{fraction}</i></p>'
        "</dd>"
    )


def test_saved_board_page_gives_its_five_entries_exactly() -> None:
    text = (PAGES / "board.html").read_text(encoding="utf-8")
    entries = parse_board(text)
    assert entries == BOARD_ENTRIES
    assert [list(entry) for entry in entries] == [["index", "title", "actor", "time", "score"]] * 5


def test_verification_page_has_no_entries() -> None:
    text = (PAGES / "verify.html").read_text(encoding="utf-8")
    with pytest.raises(NoEntries, match="no entries found"):
        parse_board(text)


@pytest.mark.parametrize("text", ["", "<html></html>", "<dd></dd>", "<dd>plain</dd>"])
def test_pages_without_entries(text: str) -> None:
    with pytest.raises(NoEntries):
        parse_board(text)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"title": "Tom &amp; Jerry&#39;s &lt;Film&gt;"},
            {"title": "Tom & Jerry's <Film>"},
        ),
        (
            {"actor": "\n      主演：A&nbsp;B,&quot;C&quot;\n   "},
            {"actor": 'A B,"C"'},
        ),
        ({"title": "  Two\n\t words  "}, {"title": "Two words"}),
        ({"time": "\n 上映时间：2001-07-20(日本) \n"}, {"time": "2001-07-20(日本)"}),
        # A label only comes off at the start.
        ({"actor": "A,主演：B"}, {"actor": "A,主演：B"}),
        ({"integer": " 8. ", "fraction": " 7 "}, {"score": "8.7"}),
        ({"actor": "", "time": ""}, {"actor": "", "time": ""}),
    ],
)
def test_entities_whitespace_and_labels(fields: dict, expected: dict) -> None:
    (entry,) = parse_board(entry_html(**fields))
    for key, value in expected.items():
        assert entry[key] == value


def test_missing_score_parts_give_an_empty_score() -> None:
    block = entry_html().replace('class="score"', 'class="other"').replace("integer", "x")
    block = block.replace("fraction", "y")
    assert parse_board(block)[0]["score"] == ""


@pytest.mark.parametrize(
    "broken",
    [
        entry_html(index=""),  # no rank number
        entry_html().replace('class="name"', 'class="nom"'),  # no title
    ],
)
def test_a_block_without_rank_or_title_is_not_an_entry(broken: str) -> None:
    text = broken + entry_html(index="7", title="Kept")
    assert [(e["index"], e["title"]) for e in parse_board(text)] == [("7", "Kept")]


def test_entries_keep_page_order() -> None:
    text = "".join(entry_html(index=str(i), title=f"T{i}") for i in (3, 1, 2))
    assert [e["index"] for e in parse_board(text)] == ["3", "1", "2"]


def test_dd_blocks_are_the_innermost() -> None:
    text = "<dd>outer <dd class='x'>inner</dd> tail</dd><dd>second</dd>"
    assert list(dd_blocks(text)) == ["<dd class='x'>inner", "<dd>second"]


# Adversarial pages: a couple of MB of unterminated `<dd>board-index` fragments,
# the shape that sends the tutorial's whole-page `.*?` regex into backtracking for
# minutes. Only correctness is asserted here; the timeout turns a regression to
# super-linear time into a failure instead of a hang. Timing: tests/bench_board.py.
FRAGMENT = '<dd>board-index<i class="board-index board-index-1">1</i><p class="name"><a '
HOSTILE = FRAGMENT * (2 * 1024 * 1024 // len(FRAGMENT))


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "text",
    [
        "<dd>board-index" * (2 * 1024 * 1024 // 15),
        HOSTILE,
        HOSTILE + "</dd>",
        "<dd>" + HOSTILE.replace("<dd>", "") + "</dd>",
    ],
    ids=["bare fragments", "unterminated entries", "one closing tag", "one huge block"],
)
def test_adversarial_page_has_no_entries(text: str) -> None:
    assert len(text) > 1_900_000  # about 2 MB
    with pytest.raises(NoEntries):
        parse_board(text)


@pytest.mark.timeout(20)
def test_adversarial_page_keeps_the_real_entry_after_it() -> None:
    text = HOSTILE + entry_html(index="1", title="霸王别姬")
    assert parse_board(text) == [
        {
            "index": "1",
            "title": "霸王别姬",
            "actor": "张国荣",
            "time": "1993-01-01",
            "score": "9.5",
        }
    ]
