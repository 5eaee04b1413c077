"""JSON through the commands: `crawl parse NAME FILE.json` (the Content-Type guessed
from the name, or given), `crawl parse NAME URL` on a JSON API served on 127.0.0.1,
and a crawl's JSON records read back by `crawl export` with their types (JSONL), or
lists and objects as JSON text (CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.commands.parse import guess_content_type
from tests.conftest import crawl_command, crawl_env, run_crawl, write_urls
from tests.site_server import Site
from tests.test_parse_command import parse

CONFIG = """
[parsers.film]
item = { jmespath = "data.movies[*]" }
[parsers.film.fields]
rank  = { jmespath = "rank", required = true }
title = { jmespath = "nm" }
stars = { jmespath = "star", all = true }
link  = { jmespath = "detailUrl", url = true }
meta  = { jmespath = "meta" }
"""
BOARD = {
    "data": {
        "movies": [
            {"rank": 1, "nm": "霸王别姬", "star": ["张国荣", "张丰毅"], "detailUrl": "/films/1",
             "meta": {"year": 1993, "score": 9.5, "top": True}},
            {"rank": 2, "nm": "肖申克的救赎", "star": "蒂姆·罗宾斯", "detailUrl": "/films/2"},
        ]
    }
}  # fmt: skip
RECORDS = [
    {"rank": 1, "title": "霸王别姬", "stars": ["张国荣", "张丰毅"],
     "link": "https://api.example/films/1", "meta": {"year": 1993, "score": 9.5, "top": True}},
    {"rank": 2, "title": "肖申克的救赎", "stars": ["蒂姆·罗宾斯"],
     "link": "https://api.example/films/2", "meta": None},
]  # fmt: skip


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "crawl.toml"
    path.write_text(CONFIG, "utf-8")
    return path


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site().start()
    yield site
    site.stop()


def printed(out: str) -> list[dict]:
    return [json.loads(line.split("> ", 1)[1]) for line in out.splitlines()]


@pytest.mark.parametrize(
    ("name", "guessed"),
    [
        ("board.json", "application/json"),
        ("BOARD.JSON", "application/json"),
        ("page.jsonld", "application/ld+json"),
        ("page.html", ""),
        ("page", ""),
        ("data.json.txt", ""),
    ],
)
def test_the_content_type_of_a_saved_file_is_guessed_from_its_name(name: str, guessed: str) -> None:
    assert guess_content_type(Path(name)) == guessed


def test_crawl_parse_reads_a_saved_json_file(capsys, config: Path, tmp_path: Path) -> None:
    saved = tmp_path / "board.json"
    saved.write_text(json.dumps(BOARD, ensure_ascii=False), "utf-8")
    url = "https://api.example/board?offset=0"
    status, out, err = parse(capsys, "film", str(saved), "--config", str(config), "--url", url)
    assert status == 0, err
    assert printed(out) == RECORDS
    assert out.startswith(f"film:<{url}> ")


def test_a_saved_file_that_is_not_json_says_where_it_stops(
    capsys, config: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "board.json"
    saved.write_text('{"data": {"movies": [\n  {"rank": 1,}\n]}}', "utf-8")
    status, out, _ = parse(
        capsys, "film", str(saved), "--config", str(config), "--url", "http://h/"
    )
    assert (status, out) == (1, "error:<http://h/> film: not JSON (line 2 column 14)\n")
    # Said otherwise by --content-type, the same text is HTML: the parser finds nothing.
    status, out, _ = parse(
        capsys, "film", str(saved), "--config", str(config), "--url", "http://h/",
        "--content-type", "text/html",
    )  # fmt: skip
    assert (status, out) == (1, "error:<http://h/> film: no entries found\n")


def test_content_type_makes_any_file_json(capsys, config: Path, tmp_path: Path) -> None:
    saved = tmp_path / "board.txt"
    saved.write_text(json.dumps(BOARD), "utf-8")
    url = "https://api.example/board?offset=0"
    args = ("film", str(saved), "--config", str(config), "--url", url)
    status, out, err = parse(capsys, *args, "--content-type", "application/vnd.api+json")
    assert status == 0, err
    assert printed(out) == RECORDS


def test_crawl_parse_fetches_a_json_url(capsys, config: Path, site: Site) -> None:
    site.page("/api/board", json.dumps(BOARD), "application/json; charset=utf-8")
    url = site.url("/api/board")
    status, out, err = parse(capsys, "film", url, "--config", str(config))
    assert status == 0, err
    expected = [
        {**record, "link": record["link"].replace("https://api.example", site.base)}
        for record in RECORDS
    ]
    assert printed(out) == expected


def export(db: Path, *args: str) -> str:
    import subprocess

    result = subprocess.run(
        crawl_command("export", str(db), *args), capture_output=True, text=True,
        env=crawl_env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_crawl_s_json_records_export_with_their_types(
    config: Path, site: Site, tmp_path: Path
) -> None:
    site.page("/api/board", json.dumps(BOARD), "application/json")
    db = tmp_path / "db.txt"
    urls = write_urls(tmp_path / "urls.txt", site.url("/api/board") + "  film")
    result = run_crawl(str(urls), "--config", str(config), "--output", str(db), "--no-cache")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in export(db, "--kind", "film").splitlines()]
    own = [{key: row[key] for key in RECORDS[0]} for row in rows]
    assert own == [
        {**record, "link": record["link"].replace("https://api.example", site.base)}
        for record in RECORDS
    ]
    assert type(rows[0]["rank"]) is int and type(rows[0]["meta"]["score"]) is float
    table = list(csv.DictReader(io.StringIO(export(db, "--kind", "film", "--format", "csv"))))
    assert [row["rank"] for row in table] == ["1", "2"]
    assert json.loads(table[0]["stars"]) == ["张国荣", "张丰毅"]  # a list: its JSON text
    assert json.loads(table[0]["meta"]) == {"year": 1993, "score": 9.5, "top": True}
    assert table[1]["meta"] == ""  # null: an empty cell
