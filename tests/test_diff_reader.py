"""Both runs' lines brought together URL by URL (pipelines.diff_reader): in URL order,
file order within a URL, through a temporary database that spills to disk, is 0600
and leaves nothing behind."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pytest

from pipelines.diff import FROM, TO, Row
from pipelines.diff_reader import by_url, read_rows
from pipelines.records import run_line, url_line
from pipelines.runs import list_runs
from tests.test_export import A, B, as_file, end, start


def sqlite_temp_files() -> dict[str, int]:
    """Path -> mode of each SQLite temporary file this process holds open."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        with_path = f"/proc/self/fd/{fd}"
        try:
            target = os.readlink(with_path)
            if "etilqs_" in target:
                found[target] = stat.S_IMODE(os.stat(with_path).st_mode)
        except OSError:
            continue
    return found


def test_rows_come_back_url_by_url_in_file_order() -> None:
    rows = [
        ("http://h/b", Row("url", FROM, 2, "size:[1]")),
        ("http://h/a", Row("url", FROM, 3, "size:[1]")),
        ("http://h/b", Row("board", FROM, 4, "{}")),
        ("http://h/a", Row("url", TO, 9, "size:[2]")),
        ("http://h/b", Row("url", TO, 10, "size:[1]")),
    ]
    with by_url(rows) as groups:
        got = [(url, [row.number for row in group]) for url, group in groups]
    assert got == [("http://h/a", [3, 9]), ("http://h/b", [2, 4, 10])]


def test_records_in_both_runs_as_often_do_not_come_back() -> None:
    same, moved = '{"index": "1"}', '{"index": "2"}'
    rows = [
        ("http://h/a", Row("url", FROM, 1, "size:[1]")),
        ("http://h/a", Row("board", FROM, 2, same)),
        ("http://h/a", Row("board", FROM, 3, same)),
        ("http://h/a", Row("board", FROM, 4, moved)),
        ("http://h/a", Row("url", TO, 11, "size:[1]")),
        ("http://h/a", Row("board", TO, 12, same)),  # one of the two is gone
        ("http://h/a", Row("board", TO, 13, moved)),
    ]
    with by_url(rows) as groups:
        ((_, group),) = list(groups)
    assert group == [
        Row("url", FROM, 1, "size:[1]"),  # a page's lines always come back
        Row("board", FROM, 2, same),  # the excess, where it first stood
        Row("url", TO, 11, "size:[1]"),
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_the_temporary_database_spills_to_a_0600_file_that_leaves_nothing() -> None:
    rows = ((f"http://h/{n:06d}", Row("url", n % 2, n, f"size:[{n}]")) for n in range(60_000))
    before = set(sqlite_temp_files())
    with by_url(rows, cache_kib=256) as groups:  # a small cache: it must spill
        first = next(groups)
        held = {path: mode for path, mode in sqlite_temp_files().items() if path not in before}
        assert held, "nothing spilled to disk"
        assert set(held.values()) == {0o600}
        assert all(path.endswith("(deleted)") for path in held)  # unlinked once open
        assert first[0] == "http://h/000000" and sum(1 for _ in groups) == 59_999
    assert set(sqlite_temp_files()) <= before


def test_reading_both_runs_in_one_pass(tmp_path: Path) -> None:
    lines = as_file(
        start(A),
        url_line("http://h/1", 1),
        end(A),
        start(B),
        url_line("http://h/1", 2),
        "board:<http://h/1> {}",
        run_line(B, "resume", {"pid": 2}),
        url_line("http://h/2", 3),
    )
    db = io.BytesIO(b"".join(lines))
    before, after = list_runs(db)
    rows = list(read_rows(db, before, after))
    assert [(url, row.kind, row.side, row.number) for url, row in rows] == [
        ("http://h/1", "url", FROM, 2),
        ("http://h/1", "url", TO, 5),
        ("http://h/1", "board", TO, 6),
        ("http://h/2", "url", TO, 8),
    ]
    pages = list(read_rows(db, before, after, kinds={"url"}))
    assert [row.kind for _, row in pages] == ["url", "url", "url"]
    itself = list(read_rows(db, after, after))  # a run against itself: both sides
    assert sorted((row.number, row.side) for _, row in itself)[:2] == [(5, FROM), (5, TO)]
