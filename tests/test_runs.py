"""Which lines of db.txt belong to which run (pipelines.runs), as `crawl export` and
`crawl diff` both read them: start, resume and end lines, killed runs, the list of
runs with the URL file each read."""

from __future__ import annotations

import io

import pytest

from pipelines.records import run_line, url_line
from pipelines.runs import LAST, last_event, list_runs, parse_fields, run_lines, select_run
from tests.test_export import A, B, C, as_file, end, start


def resume(run: str) -> str:
    return run_line(run, "resume", {"version": "0.2.0", "pid": 2})


def owners(lines: list[bytes], runs: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    return [(line.key, run) for _, run, line in run_lines(lines, runs)]


# A run killed, resumed later (after a finished run of another URL file), ended.
RESUMED = as_file(
    start(A),
    url_line("http://h/1", 1),
    start(B),
    url_line("http://h/b", 1),
    end(B),
    resume(A),
    url_line("http://h/2", 2),
    end(A),
    start(C),
    url_line("http://h/3", 3),
)


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ((A,), [("http://h/1", A), ("http://h/2", A)]),  # both parts of A
        ((B,), [("http://h/b", B)]),
        ((C,), [("http://h/3", C)]),  # killed: lasts to the end of the file
        ((A, C), [("http://h/1", A), ("http://h/2", A), ("http://h/3", C)]),
        (None, [("http://h/1", A), ("http://h/b", B), ("http://h/2", A), ("http://h/3", C)]),
    ],
)
def test_a_run_is_every_line_after_its_start_or_resume_lines(runs, expected) -> None:
    assert owners(RESUMED, runs) == expected


def test_a_run_resumed_after_an_end_line_is_still_that_run() -> None:
    """A run stopped by a signal writes an end line; --resume continues it later."""
    lines = as_file(
        start(A), url_line("http://h/1", 1), end(A), resume(A), url_line("http://h/2", 2)
    )
    assert owners(lines, (A,)) == [("http://h/1", A), ("http://h/2", A)]


def test_a_torn_last_line_is_told_only_when_it_is_in_a_run_asked_for() -> None:
    lines = as_file(start(A), url_line("http://h/1", 1), end(A), start(B), "url:<http://h/2> si",
                    last_newline=False)  # fmt: skip
    told: list[int] = []
    list(run_lines(lines, (A,), skipped=lambda number, why: told.append(number)))
    assert told == []
    list(run_lines(lines, (B,), skipped=lambda number, why: told.append(number)))
    assert told == [5]


def test_the_list_of_runs_in_the_order_they_started() -> None:
    runs = list_runs(RESUMED)
    assert [run.id for run in runs] == [A, B, C]
    assert [run.number for run in runs] == [1, 3, 9]
    assert runs[0].urls == "u.txt" and runs[0].fields["workers"] == "2"
    assert runs[1].offset == sum(len(raw) for raw in RESUMED[:2])


@pytest.mark.parametrize(
    ("rest", "fields"),
    [
        ("version=0.2.0 pid=1 urls=u.txt", {"version": "0.2.0", "pid": "1", "urls": "u.txt"}),
        ("urls=my urls.txt workers=2", {"urls": "my urls.txt", "workers": "2"}),
        ("urls=- cache=on", {"urls": "-", "cache": "on"}),
        ("", {}),
    ],
)
def test_the_fields_of_a_run_line(rest: str, fields: dict[str, str]) -> None:
    assert parse_fields(rest) == fields


def interrupted(run: str) -> str:
    return run_line(run, "end", {"status": "interrupted", "ok": 1})


GARBAGE = "not a record line \u2028 run:<nope> start"  # a stray line, e.g. another tool's


@pytest.mark.parametrize(
    ("lines", "last_newline", "expected"),
    [
        ([], True, None),
        ([url_line("http://h/0", 1)], True, None),  # the tutorial's db.txt: no run
        ([start(A), url_line("http://h/1", 1)], True, (A, False)),  # killed
        ([start(A), url_line("http://h/1", 1), end(A)], True, (A, True)),  # finished
        ([start(A), url_line("http://h/1", 1), interrupted(A)], True, (A, False)),  # SIGTERM
        ([start(A), end(A), start(B), url_line("http://h/2", 2)], True, (B, False)),  # two runs
        ([start(A), end(A), start(B), end(B)], True, (B, True)),
        ([start(A), GARBAGE, url_line("http://h/1", 1), GARBAGE, end(A), GARBAGE], True,
         (A, True)),  # interleaved garbage lines
        ([start(A), "run:<A", url_line("http://h/1", 1)], True, (A, False)),  # a torn run: line
        ([start(A), url_line("http://h/1", 1), end(A)], False, (A, False)),  # end line cut short
        ([start(A), end(A), start(B), interrupted(B), resume(B)], True, (B, False)),  # resumed
        ([start(A), start(B), end(B), resume(A), url_line("http://h/3", 3)], True, (A, False)),
    ],
    ids=["empty", "no-run", "killed", "finished", "interrupted", "two-runs", "two-finished",
         "garbage", "torn-run-line", "torn-end", "resumed", "resumed-after-another"],
)  # fmt: skip
def test_the_last_run_is_one_thing_read_forwards_or_backwards(
    lines: list[str], last_newline: bool, expected: tuple[str, bool] | None
) -> None:
    """`crawl export --run last` (forwards) and `--resume` (backwards) pick the
    same run: the one the last whole `run:` line names; it finished when that line
    is its end line and does not say it was interrupted."""
    data = as_file(*lines, last_newline=last_newline) if lines else []
    event = last_event(io.BytesIO(b"".join(data)))
    assert (None if event is None else (event.run, event.finished)) == expected
    selected = select_run(data, LAST)
    assert selected is not None
    assert selected.run == (None if expected is None else expected[0])
