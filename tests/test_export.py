"""Reading db.txt back as records (pipelines.export): which lines make a run, which
run is chosen, what each kind of line becomes, and what is skipped."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from pipelines.export import EVERY_RECORD, Selection, read_records, select_run, to_record
from pipelines.records import board_line, error_line, read_line, run_line, url_line

A, B, C = "20261201T100000Z-aaaaaa", "20261201T110000Z-bbbbbb", "20261201T120000Z-cccccc"
BOARD = {"index": "1", "title": "霸王别姬", "actor": "张国荣", "time": "1993", "score": "9.5"}


def start(run: str) -> str:
    return run_line(run, "start", {"version": "0.2.0", "pid": 1, "workers": 2, "urls": "u.txt"})


def end(run: str) -> str:
    return run_line(run, "end", {"status": "finished", "ok": 1, "failed": 0})


def as_file(*lines: str, last_newline: bool = True) -> list[bytes]:
    """The byte lines of a file holding `lines`, as iterating a binary file gives them."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    if not last_newline:
        data = data[:-1]
    return data.splitlines(keepends=True)


def every(lines: list[bytes], which: str, kind: str | None = None) -> list[dict]:
    """What `crawl export --run which` prints: select, seek, read."""
    selection = select_run(lines, which)
    assert selection is not None
    offset = 0
    for index, raw in enumerate(lines):
        if offset == selection.offset:
            rest = lines[index:]
            break
        offset += len(raw)
    else:
        rest = []
    run = None if which == "all" else selection.run
    return list(read_records(rest, run, kind, selection.number))


# A file as cron leaves it: a run, a killed run, then a finished one.
FILE = as_file(
    start(A),
    url_line("http://h/1", 10),
    end(A),
    start(B),
    url_line("http://h/2", 20),  # B was killed: no end line
    start(C),
    url_line("http://h/3", 30),
    error_line("http://h/4", "HTTP 404"),
    end(C),
)


def urls(records: list[dict]) -> list[tuple[str, str | None]]:
    return [(record["url"], record["run"]) for record in records]


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("last", [("http://h/3", C), ("http://h/4", C)]),
        (A, [("http://h/1", A)]),
        (B, [("http://h/2", B)]),  # a killed run lasts until the next run's start
        (C, [("http://h/3", C), ("http://h/4", C)]),
        ("all", [("http://h/1", A), ("http://h/2", B), ("http://h/3", C), ("http://h/4", C)]),
    ],
)
def test_a_run_is_the_lines_between_its_start_and_its_end(which: str, expected: list) -> None:
    assert urls(every(FILE, which)) == expected


def test_selecting_a_run_finds_its_start_line() -> None:
    assert select_run(FILE, "all") == EVERY_RECORD
    b_offset = sum(len(raw) for raw in FILE[:3])
    assert select_run(FILE, B) == Selection(B, b_offset, 4)
    assert select_run(FILE, "last").number == 6
    assert select_run(FILE, "20990101T000000Z-ffffff") is None


def test_a_killed_last_run_is_the_last_run() -> None:
    lines = as_file(
        start(A), url_line("http://h/1", 1), end(A), start(B), url_line("http://h/2", 2)
    )
    assert urls(every(lines, "last")) == [("http://h/2", B)]


def test_records_outside_any_run_have_no_run() -> None:
    lines = as_file(url_line("http://h/0", 1), start(A), url_line("http://h/1", 1), end(A))
    assert urls(every(lines, "all")) == [("http://h/0", None), ("http://h/1", A)]
    assert urls(every(lines, "last")) == [("http://h/1", A)]


def test_a_file_without_run_lines_is_all_last() -> None:
    """The tutorial's own db.txt has no run: lines; its last run is the whole file."""
    lines = as_file("url:<https://www.baidu.com> size:[2443]", "url:<https://b.example> size:[1]")
    assert select_run(lines, "last") == EVERY_RECORD
    assert urls(every(lines, "last")) == [
        ("https://www.baidu.com", None),
        ("https://b.example", None),
    ]


def test_lines_from_before_the_brackets_are_read() -> None:
    lines = as_file(
        f"run:{A} start version=0.1.0 pid=1 workers=2 urls=u.txt",
        "url:https://www.baidu.com size:[2443]",
        'board:https://www.maoyan.com/board/7 {"index": "1", "title": "霸王别姬"}',
        "error:https://example.com/missing HTTP 404",
        f"run:{A} end status=finished ok=2 failed=1",
    )
    assert every(lines, "last") == [
        {"kind": "url", "url": "https://www.baidu.com", "run": A, "size": 2443},
        {
            "kind": "board",
            "url": "https://www.maoyan.com/board/7",
            "run": A,
            "index": "1",
            "title": "霸王别姬",
        },
        {"kind": "error", "url": "https://example.com/missing", "run": A, "reason": "HTTP 404"},
    ]


def test_each_kind_of_line_as_a_record() -> None:
    def record(line: str) -> dict | None:
        return to_record(read_line(line), A)

    assert record(url_line("http://h/a?q=a>b", 12)) == {
        "kind": "url",
        "url": "http://h/a?q=a%3Eb",
        "run": A,
        "size": 12,
    }
    assert record(error_line("http://h/a", "timed out after 3 attempts")) == {
        "kind": "error",
        "url": "http://h/a",
        "run": A,
        "reason": "timed out after 3 attempts",
    }
    assert record(board_line("http://h/b", BOARD)) == {
        "kind": "board",
        "url": "http://h/b",
        "run": A,
        **BOARD,
    }
    assert list(record(board_line("http://h/b", BOARD))) == ["kind", "url", "run", *BOARD]
    # Any parser's records, not just the board's; its keys in its order.
    quote = 'quote:<http://q/1> {"text": "…", "author": "Albert Einstein", "tags": ["a", "b"]}'
    assert record(quote) == {
        "kind": "quote",
        "url": "http://q/1",
        "run": A,
        "text": "…",
        "author": "Albert Einstein",
        "tags": ["a", "b"],
    }


def test_a_parser_field_named_like_a_record_key_is_kept() -> None:
    line = 'link:<http://h/> {"url": "http://elsewhere/", "kind": "external", "url_": 1}'
    assert to_record(read_line(line), None) == {
        "kind": "link",
        "url": "http://h/",
        "run": None,
        "url_": "http://elsewhere/",
        "kind_": "external",
        "url__": 1,
    }


def test_escaped_scraped_text_comes_back_as_json_decodes_it() -> None:
    entry = {**BOARD, "title": "a\u2028b\x85c\nd"}
    line = board_line("http://h/b", entry)
    assert "\u2028" not in line and "\n" not in line
    assert to_record(read_line(line), None)["title"] == "a\u2028b\x85c\nd"


@pytest.mark.parametrize(
    "line",
    [
        "url:<http://h/torn> size:[12",  # a torn line that a later run wrote after
        "url:<http://h/x> size:[]",
        "url:<http://h/x> 12",
        "url:<http://h/x>",
        "error:<http://h/x>",
        'board:<http://h/b> {"index": "1", "tit',
        "board:<http://h/b> [1, 2]",
        "board:<http://h/b> not json",
    ],
)
def test_a_line_that_is_not_whole_is_not_a_record(line: str) -> None:
    assert to_record(read_line(line), None) is None


def test_torn_and_stray_lines_are_skipped_and_told() -> None:
    lines = as_file(
        start(A),
        url_line("http://h/1", 1),
        "url:<http://h/torn> size:[12",
        "",
        "some stray text",
        url_line("http://h/2", 2),
        'board:<http://h/b> {"index": "1", "ti',  # torn at the very end
        last_newline=False,
    )
    told: list[tuple[int, str]] = []
    records = list(read_records(lines, skipped=lambda number, why: told.append((number, why))))
    assert urls(records) == [("http://h/1", A), ("http://h/2", A)]
    assert [number for number, _ in told] == [3, 5, 7]
    assert "cut short" in told[-1][1]
    assert "not a whole url: line" in told[0][1]


def test_a_torn_last_line_is_skipped_even_if_it_looks_whole() -> None:
    """`HTTP 40` may be what is left of `HTTP 404`: without its newline, a line is
    not known to be whole."""
    lines = as_file(start(A), error_line("http://h/1", "HTTP 40"), last_newline=False)
    told: list[int] = []
    assert list(read_records(lines, skipped=lambda number, why: told.append(number))) == []
    assert told == [2]
    assert select_run(as_file(url_line("http://h/", 1), start(A), last_newline=False), "last") == (
        EVERY_RECORD
    )


def test_one_kind_only() -> None:
    kinds = [record["kind"] for record in every(FILE, "all", kind="error")]
    assert kinds == ["error"]
    assert every(FILE, "all", kind="board") == []


def test_records_are_read_as_a_stream() -> None:
    """An endless file gives its first records at once: nothing is read ahead."""

    def endless() -> Iterator[bytes]:
        yield (start(A) + "\n").encode()
        for n in itertools.count():
            yield (url_line(f"http://h/{n}", n) + "\n").encode()

    first = list(itertools.islice(read_records(endless(), A), 3))
    assert [record["size"] for record in first] == [0, 1, 2]
    # A run asked for by its id is found without reading past its start line.
    assert select_run(endless(), A) == Selection(A, 0, 1)
