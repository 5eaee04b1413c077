"""`crawl diff` on hand-written db.txt files: which runs it compares by default, its
output as JSON Lines and as text, -q, --kind, --key, and its exit status (0 no
change, 1 changes, 2 trouble with one line on stderr)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipelines.records import board_line, error_line, run_line, url_line
from tests.conftest import run_crawl

A, B, C, D = (
    f"20261201T{hour}0000Z-{letter * 6}" for hour, letter in zip("1234", "abcd", strict=True)
)
BOARD = {"index": "1", "title": "霸王别姬", "score": "9.5"}
MOVED = {"index": "2", "title": "霸王别姬", "score": "9.5"}


def start(run: str, urls: str = "urls.txt") -> str:
    return run_line(run, "start", {"version": "0.2.0", "pid": 1, "workers": 2, "urls": urls})


def end(run: str) -> str:
    return run_line(run, "end", {"status": "finished", "ok": 1, "failed": 0})


def write_db(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def diff(*args: str) -> subprocess.CompletedProcess:
    return run_crawl("diff", *args)


def changes(result: subprocess.CompletedProcess) -> list[tuple[str, str, str]]:
    return [
        (change["change"], change["kind"], change["url"])
        for change in map(json.loads, result.stdout.splitlines())
    ]


# Hourly runs of urls.txt, and between them a run of another URL file into the same db.
HOURLY = (
    start(A),
    url_line("http://h/same", 10),
    url_line("http://h/resized", 10),
    url_line("http://h/gone", 10),
    url_line("http://h/breaks", 10),
    board_line("http://h/board", BOARD),
    end(A),
    start(B, "other.txt"),
    url_line("http://h/other", 5),
    end(B),
    start(C),
    url_line("http://h/same", 10),
    url_line("http://h/resized", 12),
    error_line("http://h/breaks", "HTTP 404"),
    url_line("http://h/new", 7),
    board_line("http://h/board", MOVED),
    end(C),
)
EVERYTHING = [  # URL by URL, in order
    ("removed", "board", "http://h/board"),
    ("added", "board", "http://h/board"),
    ("failed", "url", "http://h/breaks"),
    ("gone", "url", "http://h/gone"),
    ("new", "url", "http://h/new"),
    ("changed", "url", "http://h/resized"),
]


def test_by_default_the_last_run_against_the_one_before_that_read_the_same_file(
    tmp_path: Path,
) -> None:
    db = write_db(tmp_path / "db.txt", *HOURLY)
    result = diff(str(db))
    assert result.returncode == 1, result.stderr
    assert changes(result) == EVERYTHING  # B read other.txt: not compared
    assert result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[2] == {
        "change": "failed",
        "kind": "url",
        "url": "http://h/breaks",
        "from": {"size": 10},
        "to": {"reason": "HTTP 404"},
    }
    assert lines[-1]["from"] == {"size": 10} and lines[-1]["to"] == {"size": 12}


def test_runs_named_by_id(tmp_path: Path) -> None:
    db = write_db(tmp_path / "db.txt", *HOURLY)
    assert changes(diff(str(db), "--from", A, "--to", C)) == EVERYTHING
    same = diff(str(db), "--from", C, "--to", "last")
    assert (same.returncode, same.stdout) == (0, "")
    across = diff(str(db), "--from", A, "--to", B, "--kind", "url")
    assert ("new", "url", "http://h/other") in changes(across)


def test_key_pairs_records_into_one_change(tmp_path: Path) -> None:
    db = write_db(tmp_path / "db.txt", *HOURLY)
    result = diff(str(db), "--key", "board.title", "--kind", "board")
    assert result.returncode == 1
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {
            "change": "changed",
            "kind": "board",
            "url": "http://h/board",
            "key": {"title": "霸王别姬"},
            "from": BOARD,
            "to": MOVED,
        }
    ]


def test_kind_selects_kinds(tmp_path: Path) -> None:
    db = write_db(tmp_path / "db.txt", *HOURLY)
    pages = [change for change in EVERYTHING if change[1] == "url"]
    assert changes(diff(str(db), "--kind", "url")) == pages
    assert changes(diff(str(db), "--kind", "url,board")) == EVERYTHING
    assert changes(diff(str(db), "--kind", "quote")) == []
    assert diff(str(db), "--kind", "quote").returncode == 0


def test_text_for_a_person(tmp_path: Path) -> None:
    db = write_db(tmp_path / "db.txt", *HOURLY)
    result = diff(str(db), "--format", "text", "--key", "board.title")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"crawl diff: from run {A} to run {C}",
        'changed  board http://h/board (title "霸王别姬"): index "1" -> "2"',
        "failed   http://h/breaks size 10 -> HTTP 404",
        "gone     http://h/gone size 10",
        "new      http://h/new size 7",
        "changed  http://h/resized size 10 -> size 12",
    ]
    same = diff(str(db), "--format", "text", "--from", C)
    assert same.returncode == 0 and same.stdout.splitlines()[-1] == "no change"


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    db = write_db(tmp_path / "db.txt", *HOURLY)
    changed = diff(str(db), "-q")
    assert (changed.returncode, changed.stdout, changed.stderr) == (1, "", "")
    same = diff(str(db), "-q", "--from", C)
    assert (same.returncode, same.stdout, same.stderr) == (0, "", "")


def test_a_killed_run_and_lines_without_brackets_read_as_export_reads_them(
    tmp_path: Path,
) -> None:
    db = write_db(
        tmp_path / "db.txt",
        f"run:{A} start version=0.1.0 pid=1 workers=2 urls=urls.txt",
        "url:http://h/old size:[3]",
        'board:http://h/old {"index": "1", "title": "a"}',
        f"run:{A} end status=finished ok=1 failed=0",
        start(C),  # killed: no end line
        url_line("http://h/old", 3),
        board_line("http://h/old", {"index": "1", "title": "a"}),
        url_line("http://h/killed", 4),
    )
    assert changes(diff(str(db))) == [("new", "url", "http://h/killed")]


def test_a_resumed_run_is_one_run(tmp_path: Path) -> None:
    db = write_db(
        tmp_path / "db.txt",
        start(A),
        url_line("http://h/1", 1),
        url_line("http://h/2", 2),
        end(A),
        start(C),
        url_line("http://h/1", 1),  # killed here, resumed later by --resume
        run_line(C, "resume", {"version": "0.2.0", "pid": 2}),
        url_line("http://h/2", 2),
        end(C),
    )
    result = diff(str(db))
    assert (result.returncode, result.stdout) == (0, "")


def test_a_torn_line_is_skipped_with_a_note(tmp_path: Path) -> None:
    db = write_db(tmp_path / "db.txt", start(A), url_line("http://h/1", 1), end(A), start(C))
    with db.open("a", encoding="utf-8") as out:
        out.write(url_line("http://h/1", 1) + "\n" + "url:<http://h/2> siz")
    result = diff(str(db))
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == (
        f"crawl diff: {db} line 6: the last line is cut short (a writer stopped mid-line); "
        "skipped\n"
    )
    assert diff(str(db), "-q").stderr == ""


@pytest.mark.parametrize(
    ("lines", "args", "message"),
    [
        ((start(A), end(A)), (), f"no run before {A} in {{db}} read urls.txt"),
        (HOURLY, ("--to", B), f"no run before {B} in {{db}} read other.txt"),
        (HOURLY, ("--from", D), f"no run {D} in {{db}}"),
        (HOURLY, ("--to", "all"), "--to all: a run's id or last"),
        (("url:<http://h/1> size:[1]",), (), "no runs in {db}"),
    ],
)
def test_trouble_is_one_line_and_exit_2(tmp_path: Path, lines, args, message: str) -> None:
    db = write_db(tmp_path / "db.txt", *lines)
    result = diff(str(db), *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("crawl diff: " + message.format(db=db))
    assert len(result.stderr.splitlines()) == 1


def test_a_missing_file(tmp_path: Path) -> None:
    result = diff(str(tmp_path / "none.txt"), "-q")
    assert result.returncode == 2
    assert (
        result.stderr
        == f"crawl diff: cannot read {tmp_path / 'none.txt'}: No such file or directory\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--key", "title"), "--key 'title': KIND.FIELD"),
        (("--key", "url.size"), "--key 'url.size': url: lines have no fields"),
        (("--kind", "error"), "--kind error: a failure is a change of its page"),
        (("--kind", "Bad"), "--kind 'Bad'"),
        (("--format", "csv"), "invalid choice"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    db = write_db(tmp_path / "db.txt", *HOURLY)
    result = diff(str(db), *args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr
