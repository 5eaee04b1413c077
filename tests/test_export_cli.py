"""`crawl export`: every record of a real crawl (test server on 127.0.0.1) comes back,
as JSON Lines and as CSV read with csv.DictReader; runs are chosen with --run; old
lines and a torn last line are read as a person would want; bad arguments get one
line and exit status 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from pipelines.records import read_line
from tests import server as test_server
from tests.conftest import ROOT, crawl_command, crawl_env, run_crawl, write_urls
from tests.stress_util import db_lines, run_lines


def export(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        crawl_command("export", *args),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        env=crawl_env(),
        cwd=cwd,
    )


def jsonl(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def crawl_into(server: test_server.TestServer, tmp_path: Path, db: Path, *paths: str) -> str:
    """Crawl the server's `paths` into `db`; the run's id."""
    urls = write_urls(tmp_path / "urls.txt", *paths)
    result = run_crawl(str(urls), "--output", str(db), "--workers", "2", "--retries", "0")
    assert result.returncode in (0, 1), result.stderr
    return list(run_lines(db))[-1]


@pytest.fixture
def crawled(server: test_server.TestServer, tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "db.txt"
    run_id = crawl_into(
        server,
        tmp_path,
        db,
        server.url("/page/a"),
        server.url("/page/b?q=a>b"),  # written with %3E
        f"{server.url('/board')}  board",
        server.url("/image.png"),
        server.url("/status/404"),
        "not-a-url",
    )
    return db, run_id


def expected_records(db: Path, run_id: str) -> list[dict]:
    """What export must give for `run_id`, read from db.txt with records.read_line."""
    records, current = [], None
    for text in db_lines(db):
        line = read_line(text)
        if line.kind == "run":
            current = line.key if line.rest.startswith("start") else None
            continue
        if current != run_id:
            continue
        record = {"kind": line.kind, "url": line.key, "run": run_id}
        if line.kind == "url":
            record["size"] = int(line.rest.removeprefix("size:[").removesuffix("]"))
        elif line.kind == "error":
            record["reason"] = line.rest
        else:
            record.update(json.loads(line.rest))
        records.append(record)
    return records


def test_every_record_of_a_crawl_comes_back_as_json_lines(crawled: tuple[Path, str]) -> None:
    db, run_id = crawled
    records = jsonl(export(str(db)))
    assert records == expected_records(db, run_id)
    kinds = [record["kind"] for record in records]
    assert kinds.count("url") == 4 and kinds.count("board") == 5 and kinds.count("error") == 2
    assert all(list(record)[:3] == ["kind", "url", "run"] for record in records)
    assert any(record["url"].endswith("/page/b?q=a%3Eb") for record in records)
    board = next(record for record in records if record["kind"] == "board")
    assert list(board) == ["kind", "url", "run", "index", "title", "actor", "time", "score"]
    assert board["title"] == "霸王别姬"


@pytest.mark.parametrize("kind", ["url", "board", "error"])
def test_every_record_of_a_kind_comes_back_as_csv(crawled: tuple[Path, str], kind: str) -> None:
    db, run_id = crawled
    result = export(str(db), "--format", "csv", "--kind", kind)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("kind,url,run,")
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    wanted = [record for record in expected_records(db, run_id) if record["kind"] == kind]
    assert rows == [{key: str(value) for key, value in record.items()} for record in wanted]
    assert rows and list(rows[0]) == list(wanted[0])  # columns in the record's key order


def test_one_kind_as_json_lines(crawled: tuple[Path, str]) -> None:
    db, _ = crawled
    records = jsonl(export(str(db), "--kind", "error"))
    assert sorted(record["reason"] for record in records) == [
        "HTTP 404",
        "line 6: not an http(s) URL",
    ]
    assert jsonl(export(str(db), "--kind", "quote")) == []


def test_choosing_the_run(server: test_server.TestServer, tmp_path: Path) -> None:
    db = tmp_path / "db.txt"
    first = crawl_into(server, tmp_path, db, server.url("/page/one"))
    second = crawl_into(server, tmp_path, db, server.url("/page/two"), server.url("/page/three"))

    def pages(*args: str) -> list[tuple[str, str]]:
        """(page, run) of each record, sorted: the pages of a run end in any order."""
        records = jsonl(export(str(db), *args))
        return sorted((record["url"].rsplit("/", 1)[1], record["run"]) for record in records)

    assert pages() == pages("--run", "last") == [("three", second), ("two", second)]
    assert pages("--run", first) == [("one", first)]
    assert pages("--run", "all") == [("one", first), ("three", second), ("two", second)]
    missing = export(str(db), "--run", "20990101T000000Z-ffffff")
    assert missing.returncode == 2 and missing.stdout == ""
    assert "no run 20990101T000000Z-ffffff in " in missing.stderr


def test_a_torn_last_line_is_skipped_with_a_note(crawled: tuple[Path, str]) -> None:
    db, first = crawled
    whole = jsonl(export(str(db)))
    lines = len(db_lines(db))
    killed = "20261201T230000Z-dddddd"
    with db.open("ab") as out:  # a run killed mid-write: no end line, a torn last line
        out.write(f"run:<{killed}> start version=0.2.0 pid=1\n".encode())
        out.write(b"url:<http://127.0.0.1/whole> size:[3]\n")
        out.write(b'board:<http://127.0.0.1/whole> {"index": "1", "tit')
    note = (
        f"crawl export: {db} line {lines + 3}: the last line is cut short "
        "(a writer stopped mid-line); skipped\n"
    )
    result = export(str(db))  # the last run is the killed one
    assert jsonl(result) == [
        {"kind": "url", "url": "http://127.0.0.1/whole", "run": killed, "size": 3}
    ]
    assert result.stderr == note
    every = export(str(db), "--run", "all")
    assert jsonl(every) == [*whole, *jsonl(result)] and every.stderr == note
    before = export(str(db), "--run", first)  # ends at its end line: nothing to skip
    assert jsonl(before) == whole and before.stderr == ""


def test_lines_from_before_the_brackets(tmp_path: Path) -> None:
    db = tmp_path / "db.txt"
    db.write_text(
        "run:20261120T080000Z-0a0a0a start version=0.1.0 pid=7 workers=2 urls=urls.txt\n"
        "url:https://www.baidu.com size:[2443]\n"
        'board:https://www.maoyan.com/board/7 {"index": "1", "title": "霸王别姬"}\n'
        "error:https://example.com/missing HTTP 404\n"
        "run:20261120T080000Z-0a0a0a end status=finished ok=2 failed=1\n"
        "run:<20261201T080000Z-0b0b0b> start version=0.2.0 pid=8 workers=2 urls=urls.txt\n"
        "url:<https://www.baidu.com> size:[2450]\n"
        "run:<20261201T080000Z-0b0b0b> end status=finished ok=1 failed=0\n",
        encoding="utf-8",
    )
    records = jsonl(export(str(db), "--run", "all"))
    assert [(r["kind"], r["url"], r["run"][-6:]) for r in records] == [
        ("url", "https://www.baidu.com", "0a0a0a"),
        ("board", "https://www.maoyan.com/board/7", "0a0a0a"),
        ("error", "https://example.com/missing", "0a0a0a"),
        ("url", "https://www.baidu.com", "0b0b0b"),
    ]
    assert [r["size"] for r in records if r["kind"] == "url"] == [2443, 2450]


def test_the_default_db_is_output_db_txt(crawled: tuple[Path, str], tmp_path: Path) -> None:
    db, _ = crawled
    (tmp_path / "output").mkdir()
    db.rename(tmp_path / "output" / "db.txt")
    assert len(jsonl(export(cwd=tmp_path))) == 11


def test_a_url_file_named_export_is_crawled_as_dot_slash_export(
    server: test_server.TestServer, tmp_path: Path
) -> None:
    write_urls(tmp_path / "export", server.url("/page/x"))
    result = subprocess.run(
        crawl_command("./export", "--output", "db.txt"),
        capture_output=True,
        text=True,
        timeout=60,
        env=crawl_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert server.count("/page/x") == 1
    assert [r["url"] for r in jsonl(export("db.txt", cwd=tmp_path))] == [server.url("/page/x")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "csv"], "--format csv needs --kind"),
        (["--kind", "run"], "run: lines are not records"),
        (["--kind", "Board!"], "a kind is a lowercase name"),
        (["--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "db.txt").write_text("")
    result = export(str(tmp_path / "db.txt"), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_file(tmp_path: Path) -> None:
    result = export(str(tmp_path / "nope.txt"))
    assert result.returncode == 2
    assert result.stderr == (
        f"crawl export: cannot read {tmp_path / 'nope.txt'}: No such file or directory\n"
    )


def test_a_reader_that_stops_early(tmp_path: Path) -> None:
    """`crawl export | head -1`: exit 0, no traceback."""
    db = tmp_path / "db.txt"
    with db.open("w", encoding="utf-8") as out:
        out.write("run:<20261201T080000Z-0c0c0c> start version=0.2.0\n")
        out.writelines(f"url:<http://h/{n}> size:[{n}]\n" for n in range(200_000))
    crawl = subprocess.Popen(
        crawl_command("export", str(db)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=crawl_env(),
        cwd=ROOT,
    )
    first = crawl.stdout.readline()
    crawl.stdout.close()
    stderr = crawl.stderr.read()
    assert crawl.wait(60) == 0, stderr
    assert json.loads(first)["url"] == "http://h/0"
    assert b"Traceback" not in stderr and stderr == b""
