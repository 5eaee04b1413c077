"""The comparison of two runs (pipelines.diff), pure: what becomes of a page, of a
kind's records with and without key fields, and the JSON a change is written as."""

from __future__ import annotations

import json

import pytest

from pipelines.diff import (
    FROM,
    TO,
    Change,
    PageState,
    Row,
    page_change,
    page_state,
    record_changes,
    url_changes,
)

U = "http://h/board"
OK_99, OK_120 = PageState(99), PageState(120)
FAILED_404, FAILED_500 = PageState(None, "HTTP 404"), PageState(None, "HTTP 500")
PARSER_FAILED = PageState(99, "board: no entries found")


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        (None, None, None),
        (None, OK_99, "new"),
        (OK_99, None, "gone"),
        (FAILED_404, None, "gone"),
        (OK_99, OK_99, None),
        (OK_99, OK_120, "changed"),
        (OK_99, FAILED_404, "failed"),  # failed in --to: failed, not gone
        (None, FAILED_404, "failed"),
        (FAILED_404, FAILED_404, None),  # still failing: no news
        (FAILED_404, FAILED_500, None),
        (FAILED_404, OK_99, "changed"),  # it works again
        (OK_99, PARSER_FAILED, "failed"),  # fetched, but its parser found nothing
        (PARSER_FAILED, OK_99, "changed"),
    ],
)
def test_what_became_of_a_page(before, after, change) -> None:
    found = page_change(U, before, after)
    assert (found and found.change) == change
    if found is not None:
        assert (found.kind, found.url, found.before, found.after) == ("url", U, before, after)


@pytest.mark.parametrize(
    ("rows", "state"),
    [
        ([], None),
        ([Row("url", TO, 1, "size:[12]")], PageState(12)),
        ([Row("url", TO, 1, "size:[12] cached:[1]")], PageState(12)),  # fields a later version adds
        ([Row("error", TO, 1, "HTTP 404")], PageState(None, "HTTP 404")),
        ([Row("url", TO, 1, "size:[9]"), Row("error", TO, 2, "board: no entries found")],
         PageState(9, "board: no entries found")),
        ([Row("url", TO, 1, "size:[12")], None),  # torn: not read
    ],
)  # fmt: skip
def test_a_page_in_one_run(rows: list[Row], state: PageState | None) -> None:
    assert page_state(rows) == state


def rec(index: str, title: str, score: str = "9.5") -> str:
    return json.dumps({"index": index, "title": title, "score": score}, ensure_ascii=False)


def summary(changes: list[Change]) -> list[tuple]:
    """(change, index in --from, index in --to) of each change."""
    return [
        (c.change, c.before and c.before["index"], c.after and c.after["index"]) for c in changes
    ]


@pytest.mark.parametrize(
    ("before", "after", "key", "expected"),
    [
        ([rec("1", "a")], [rec("1", "a")], (), []),
        ([], [rec("1", "a")], (), [("added", None, "1")]),
        ([rec("1", "a")], [], (), [("removed", "1", None)]),
        # a multiset: two equal records count twice
        ([rec("1", "a")], [rec("1", "a"), rec("1", "a")], (), [("added", None, "1")]),
        ([rec("1", "a"), rec("1", "a")], [rec("1", "a")], (), [("removed", "1", None)]),
        # order alone is no change
        ([rec("1", "a"), rec("2", "b")], [rec("2", "b"), rec("1", "a")], (), []),
        # reordered board: without a key, each moved entry is removed and added
        ([rec("1", "a"), rec("2", "b")], [rec("1", "b"), rec("2", "a")], (),
         [("removed", "1", None), ("removed", "2", None), ("added", None, "1"),
          ("added", None, "2")]),
        # with the key, each is one change with both versions
        ([rec("1", "a"), rec("2", "b")], [rec("1", "b"), rec("2", "a")], ("title",),
         [("changed", "2", "1"), ("changed", "1", "2")]),
        # a key with no partner: added or removed as without a key
        ([rec("1", "a"), rec("2", "b")], [rec("1", "a"), rec("2", "c")], ("title",),
         [("removed", "2", None), ("added", None, "2")]),
        # two fields make one key
        ([rec("1", "a", "9")], [rec("1", "a", "8")], ("index", "title"), [("changed", "1", "1")]),
        ([rec("1", "a", "9")], [rec("2", "a", "8")], ("index", "title"),
         [("removed", "1", None), ("added", None, "2")]),
        # the same key twice: paired first with first
        ([rec("1", "a", "1"), rec("2", "a", "2")], [rec("3", "a", "1"), rec("4", "a", "2")],
         ("title",), [("changed", "1", "3"), ("changed", "2", "4")]),
        # the same object written with its keys in another order is the same record
        (['{"title": "a", "index": "1", "score": "9.5"}'], [rec("1", "a")], (), []),
        # a torn line is not a record
        (['{"index": "1", "tit'], [rec("1", "a")], (), [("added", None, "1")]),
    ],
)  # fmt: skip
def test_the_records_of_a_kind_and_url(before, after, key, expected) -> None:
    assert summary(record_changes("board", U, before, after, key)) == expected


def test_a_changed_record_carries_its_key_and_both_versions() -> None:
    (change,) = record_changes(
        "board", U, [rec("1", "霸王别姬")], [rec("2", "霸王别姬")], ("title",)
    )
    assert change.as_json() == {
        "change": "changed",
        "kind": "board",
        "url": U,
        "key": {"title": "霸王别姬"},
        "from": {"index": "1", "title": "霸王别姬", "score": "9.5"},
        "to": {"index": "2", "title": "霸王别姬", "score": "9.5"},
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (Change("new", "url", U, None, PageState(12)),
         {"change": "new", "kind": "url", "url": U, "to": {"size": 12}}),
        (Change("gone", "url", U, PageState(12)),
         {"change": "gone", "kind": "url", "url": U, "from": {"size": 12}}),
        (Change("failed", "url", U, PageState(12), PageState(None, "HTTP 404")),
         {"change": "failed", "kind": "url", "url": U, "from": {"size": 12},
          "to": {"reason": "HTTP 404"}}),
        (Change("added", "board", U, None, {"title": "a"}),
         {"change": "added", "kind": "board", "url": U, "to": {"title": "a"}}),
        (Change("removed", "board", U, {"title": "a"}),
         {"change": "removed", "kind": "board", "url": U, "from": {"title": "a"}}),
    ],
)  # fmt: skip
def test_a_change_as_json(change: Change, expected: dict) -> None:
    assert change.as_json() == expected


def test_one_urls_changes_page_first_then_kind_by_kind() -> None:
    rows = [
        Row("url", FROM, 1, "size:[10]"),
        Row("quote", FROM, 2, '{"text": "q"}'),
        Row("board", FROM, 3, rec("1", "a")),
        Row("url", TO, 11, "size:[11]"),
        Row("board", TO, 12, rec("2", "a")),
        Row("quote", TO, 13, '{"text": "q"}'),
    ]
    plain = [(c.change, c.kind) for c in url_changes(U, rows)]
    assert plain == [("changed", "url"), ("removed", "board"), ("added", "board")]
    keyed = [(c.change, c.kind) for c in url_changes(U, rows, {"board": ("title",)})]
    assert keyed == [("changed", "url"), ("changed", "board")]
