"""`crawl parse NAME PAGE`: a parser tried on a saved file or on a URL served on
127.0.0.1 prints exactly the record lines a crawl writes to db.txt; exit 0, 1 or 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.cli import main
from tests.conftest import records, run_crawl, write_urls
from tests.server import PAGES, TestServer

QUOTE_CONFIG = """
workers = 1                 # options of the crawl are allowed, and ignored but for fetching
timeout = 5
[parsers.quote]
item = "div.quote"
[parsers.quote.fields]
text = "span.text::text"
author = { css = "small.author::text", required = true }
link = { css = "span a::attr(href)", url = true }
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "crawl.toml"
    path.write_text(QUOTE_CONFIG, "utf-8")
    return path


def parse(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        status = main(["parse", *args])
    except SystemExit as exit:
        status = int(exit.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def test_a_saved_file_prints_its_records_and_exits_0(capsys, config: Path) -> None:
    status, out, err = parse(
        capsys, "quote", str(PAGES / "quotes.html"), "--config", str(config),
        "--url", "https://quotes.example/page/1/",
    )  # fmt: skip
    assert status == 0, err
    assert out.splitlines() == [
        'quote:<https://quotes.example/page/1/> {"text": "“The world as we have created it is '
        'a process of our thinking.”", "author": "Albert Einstein", "link": '
        '"https://quotes.example/author/Albert-Einstein"}',
        'quote:<https://quotes.example/page/1/> {"text": "“It is our choices, Harry, that show '
        'what we truly are, far more than our abilities.”", "author": "J.K. Rowling", "link": '
        '"https://quotes.example/author/J-K-Rowling"}',
    ]
    assert err == "crawl parse: 1 item dropped: no author\n"


def test_a_saved_file_without_url_is_keyed_by_its_file_url(capsys) -> None:
    status, out, _ = parse(capsys, "board", str(PAGES / "board.html"))
    assert status == 0
    assert out.startswith(f"board:<{(PAGES / 'board.html').as_uri()}> " + '{"index": "1"')


def test_the_lines_are_exactly_those_a_crawl_writes(
    capsys, config: Path, server: TestServer, tmp_path: Path
) -> None:
    url = server.url("/pages/quotes.html")
    db = tmp_path / "db.txt"
    urls = write_urls(tmp_path / "urls.txt", f"{url}  quote")
    crawled = run_crawl(str(urls), "--config", str(config), "--output", str(db))
    assert crawled.returncode == 0, crawled.stderr
    status, out, err = parse(capsys, "quote", url, "--config", str(config))
    assert status == 0, err
    assert out.splitlines() == records(db, "quote")
    assert len(out.splitlines()) == 2
    file_status, from_file, _ = parse(
        capsys, "quote", str(PAGES / "quotes.html"), "--config", str(config), "--url", url
    )
    assert (file_status, from_file) == (0, out)  # a saved file reads as the fetched page


def test_a_page_without_a_record_prints_the_error_line_and_exits_1(
    capsys, config: Path, server: TestServer
) -> None:
    url = server.url("/verify/")
    assert parse(capsys, "quote", url, "--config", str(config))[:2] == (
        1,
        f"error:<{url}> quote: no entries found\n",
    )
    assert parse(capsys, "board", str(PAGES / "verify.html"), "--url", "http://h/")[:2] == (
        1,
        "error:<http://h/> board: no entries found\n",
    )


def test_a_failed_fetch_prints_its_error_line_and_exits_1(capsys, server: TestServer) -> None:
    url = server.url("/status/404")
    assert parse(capsys, "board", url)[:2] == (1, f"error:<{url}> HTTP 404\n")


def test_content_type_decodes_a_saved_file_as_a_server_would_have_sent_it(
    capsys, tmp_path: Path
) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[parsers.p]\n[parsers.p.fields]\np = "p::text"\n')
    page = tmp_path / "gbk.html"
    page.write_bytes("<p>中文页面，这是用国标码写成的一段比较长的文字。</p>".encode("gbk"))
    args = ("p", str(page), "--config", str(toml), "--url", "http://h/")
    status, out, _ = parse(capsys, *args, "--content-type", "text/html; charset=gbk")
    assert (status, out) == (
        0,
        'p:<http://h/> {"p": "中文页面，这是用国标码写成的一段比较长的文字。"}\n',
    )
    status, out, _ = parse(capsys, *args, "--content-type", "text/html; charset=utf-8")
    assert status == 0 and "\ufffd" in out  # what a lying header gets in a crawl too
    assert parse(capsys, *args, "--content-type", "image/png")[:2] == (
        1,
        "error:<http://h/> p: not a text page\n",
    )


def test_a_url_field_of_a_saved_page_is_resolved_in_the_page_s_encoding(
    capsys, tmp_path: Path
) -> None:
    """As a browser (and a crawl) would: the query of a link on a GBK page in GBK."""
    toml = tmp_path / "c.toml"
    toml.write_text('[parsers.p]\n[parsers.p.fields]\nu = { css = "a::attr(href)", url = true }\n')
    page = tmp_path / "gbk.html"
    page.write_bytes('<a href="../搜索?q=中文#top">中文页面</a>'.encode("gbk"))
    args = ("p", str(page), "--config", str(toml), "--url", "http://h/a/b")
    status, out, _ = parse(capsys, *args, "--content-type", "text/html; charset=gbk")
    assert (status, out) == (
        0,
        'p:<http://h/a/b> {"u": "http://h/%E6%90%9C%E7%B4%A2?q=%D6%D0%CE%C4#top"}\n',
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "x.html"], "crawl parse: error: unknown parser nope (known: board)"),
        (["board", "/no/such/page.html"], "cannot read /no/such/page.html: No such file"),
        (["board", "p.html", "--config", "/no/such.toml"], "cannot read config /no/such.toml"),
        (["board", str(PAGES / "board.html"), "--url", "ftp://h/"], "--url: "),
        (["board"], "the following arguments are required: PAGE"),
    ],
)
def test_an_unusable_command_line_exits_2(capsys, args: list[str], message: str) -> None:
    status, out, err = parse(capsys, *args)
    assert status == 2 and out == ""
    assert message in err.splitlines()[-1]


def test_a_bad_declared_parser_exits_2_naming_it(capsys, tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[parsers.p]\n[parsers.p.fields]\np = "p::txt"\n')
    status, _, err = parse(capsys, "p", str(PAGES / "board.html"), "--config", str(toml))
    assert status == 2
    assert err.splitlines()[-1] == (
        f"crawl parse: error: config {toml}: parser 'p', field 'p': bad CSS selector 'p::txt': "
        "The pseudo-element ::txt is unknown"
    )


def test_crawl_parse_through_the_real_command(server: TestServer) -> None:
    url = server.url("/board/")
    result = run_crawl("parse", "board", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"board:<{url}> " + '{"index": "1", "title": "霸王别姬"')
    assert server.count("/board/") == 1
