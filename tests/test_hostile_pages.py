"""Hostile pages: the saved corpus (tests/hostile) and generated giants, run through
the decoder and the parsers in-process, then through the real `crawl`. Nothing raises
but a documented parser failure, nothing takes more than linear time, every record
stays one line, and nothing crawl prints carries a raw escape."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Collection
from pathlib import Path

import psutil
import pytest

from crawler.model import Page
from crawler.page.decode import decode_body
from pipelines import records_for
from pipelines.parsers.board import parse_board
from pipelines.records import read_line, record_key
from tests import server as test_server
from tests.conftest import start_crawl, write_urls
from tests.hostile import corpus
from tests.stress_util import LINE, db_lines

SAVED = sorted(corpus.saved_pages())
# What no record and no terminal line may hold raw: C0/C1 controls (ESC, CSI), DEL,
# and the separators str.splitlines() breaks on.
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MB = 1024 * 1024


def lines_for(body: bytes, content_type: str, url: str = "http://h/p") -> list[str]:
    text = decode_body(body, content_type)
    page = Page(url, 200, content_type, text, len(text), len(body), 1)
    lines, _ = records_for(page, ("board",))
    return lines


def assert_records_clean(lines: list[str], urls: Collection[str] = ("http://h/p",)) -> None:
    """Each line is whole, has no raw control character, and reads back through
    `read_line` to a known kind and to the key of one of `urls` (or a run id)."""
    keys = {record_key(url.split()[0] if url.split() else url) for url in urls}
    for line in lines:
        assert LINE.match(line), line
        assert len(line.splitlines()) == 1, line
        assert not RAW_CONTROL.search(line), line
        record = read_line(line)
        assert record is not None and record.kind in ("url", "board", "error", "run"), line
        assert record.kind == "run" or record.key in keys, line


@pytest.mark.parametrize("name", SAVED)
def test_saved_page_through_decoder_and_parsers(name: str) -> None:
    body = (corpus.PAGES / name).read_bytes()
    for content_type in (corpus.content_type(name), "", "text/html; charset=gbk"):
        assert_records_clean(lines_for(body, content_type))


def test_saved_pages_match_their_generator() -> None:
    for name, (body, _) in corpus.saved_pages().items():
        assert (corpus.PAGES / name).read_bytes() == body, (
            f"run python -m tests.hostile.corpus ({name})"
        )


def test_hostile_titles_are_kept_escaped_on_one_line_each() -> None:
    body = (corpus.PAGES / "hostile-titles.html").read_bytes()
    lines = lines_for(body, "text/html; charset=utf-8")
    boards = [line for line in lines if line.startswith("board:")]
    assert len(boards) == len(corpus.HOSTILE_TITLES)
    assert '"title": "line break"' in boards[0]  # whitespace runs are one space, by design
    assert '"title": "a > b > c"' in boards[2]
    assert '"title": "\\u001b[31mred\\u001b[0m"' in boards[3]
    assert_records_clean(lines)


def test_nul_bytes_and_invalid_utf8_decode_with_replacement() -> None:
    body = (corpus.PAGES / "nul-invalid-utf8.html").read_bytes()
    text = decode_body(body, "text/html")
    assert "\ufffd" in text and "nul" in text
    (entry,) = parse_board(text)
    assert entry["title"] == "nul\x00title"  # kept in the value; escaped in the record
    assert_records_clean(lines_for(body, "text/html"))


def test_a_lying_charset_is_believed_but_never_breaks_the_record() -> None:
    body = (corpus.PAGES / "lying-charset-gbk.html").read_bytes()
    text = decode_body(body, "text/html; charset=utf-8")
    assert "\ufffd" in text  # the header said UTF-8; the browser rule believes it
    assert_records_clean(lines_for(body, "text/html; charset=utf-8"))
    ascii_page = (corpus.PAGES / "lying-charset-utf16.html").read_bytes()
    assert "plain ascii" in decode_body(ascii_page, "text/html; charset=x-no-such-charset")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("size", [1 * MB, 4 * MB])
def test_adversarial_board_page_parses_in_linear_time(size: int) -> None:
    body = corpus.adversarial_board(size)
    started = time.monotonic()
    entries = parse_board(decode_body(body, "text/html; charset=utf-8"))
    assert entries[-1]["title"] == "最后"
    # Linear is about a second per MB here at worst; quadratic would be hours.
    assert time.monotonic() - started < 30


@pytest.mark.timeout(60)
def test_deeply_nested_markup() -> None:
    (entry,) = parse_board(corpus.nested_board(200_000).decode())
    assert entry["title"] == "深"


# -- through the real command ---------------------------------------------------------


def test_crawl_of_the_corpus_keeps_lines_whole_and_the_terminal_clean(
    server: test_server.TestServer, tmp_path: Path
) -> None:
    urls = [f"{server.url('/hostile/' + name)}  board" for name in SAVED]
    urls.append(server.url("/hostile/adversarial?bytes=3000000") + "  board")
    urls.append("http://127.0.0.1/\x1b[2Jcleared")  # a bad line with an escape in it
    urls.append("http://127.0.0.1/\x9b2J\u2028x")
    db = tmp_path / "db.txt"
    crawl = start_crawl(
        str(write_urls(tmp_path / "urls.txt", *urls)), "--output", str(db), "-v", "--workers", "2"
    )
    _, stderr = crawl.communicate(timeout=120)
    assert crawl.returncode == 1, stderr
    assert "\x1b" not in stderr and "\x9b" not in stderr and "\u2028" not in stderr
    assert "Traceback" not in stderr
    lines = db_lines(db)
    assert_records_clean(lines, urls)
    assert len(db.read_text(encoding="utf-8").splitlines()) == len(lines)
    assert sum(line.startswith("board:") for line in lines) == len(corpus.HOSTILE_TITLES) + 3
    assert sum(line.startswith("error:<http://127.0.0.1/") for line in lines) == 2


def peak_tree_rss(pid: int, done: threading.Event, peaks: list[int]) -> None:
    root = psutil.Process(pid)
    while not done.wait(0.05):
        try:
            processes = [root, *root.children(recursive=True)]
            peaks.append(sum(p.memory_info().rss for p in processes if p.is_running()))
        except psutil.Error:
            continue


def test_gzip_bomb_is_cut_off_at_the_cap_with_bounded_memory(
    server: test_server.TestServer, tmp_path: Path
) -> None:
    inflated = 300 * MB  # compresses to about 300 kB
    urls = write_urls(tmp_path / "urls.txt", server.url(f"/gzip-bomb?bytes={inflated}"))
    db = tmp_path / "db.txt"
    crawl = start_crawl(str(urls), "--output", str(db), "--workers", "1", "--max-bytes", str(MB))
    done, peaks = threading.Event(), []
    sampler = threading.Thread(target=peak_tree_rss, args=(crawl.pid, done, peaks), daemon=True)
    sampler.start()
    _, stderr = crawl.communicate(timeout=120)
    done.set()
    sampler.join(5)
    assert crawl.returncode == 1, stderr
    (error,) = [line for line in db_lines(db) if line.startswith("error:")]
    assert error.endswith(f" larger than {MB} bytes")
    # Two Python processes and a 1 MB body: far below the 300 MB it inflates to.
    assert max(peaks) < 200 * MB, f"peak {max(peaks) / MB:.0f} MB"
    print(f"gzip bomb of {inflated // MB} MB: peak tree RSS {max(peaks) / MB:.0f} MB")
