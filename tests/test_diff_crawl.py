"""`crawl diff` between two real crawls of a site on 127.0.0.1 that changed between
them: a page added, one removed, one resized, the board reordered; and a run stopped
and resumed, compared as one run."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_crawl, start_crawl, write_urls
from tests.site_server import Site, links
from tests.stress_util import wait_for
from tests.test_resume import Gate, crawl_args, gated, graph_page


def board_html(titles: list[str]) -> str:
    """A board page the built-in parser reads: one <dd> per title, in rank order."""
    entries = "".join(
        f'<dd><i class="board-index board-index-{rank}">{rank}</i>'
        f'<p class="name"><a title="{title}">{title}</a></p>'
        f'<p class="star">主演：{title}的主演</p><p class="releasetime">上映时间：1993-01-01</p>'
        f'<p class="score"><i class="integer">9.</i><i class="fraction">{len(title)}</i></p></dd>'
        for rank, title in enumerate(titles, 1)
    )
    return f'<html><head><meta charset="utf-8"></head><body><dl>{entries}</dl></body></html>'


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site().start()
    yield site
    site.stop()


def crawl(site: Site, tmp_path: Path, db: Path) -> None:
    urls = write_urls(tmp_path / "urls.txt", site.url("/"), site.url("/board") + " board")
    result = run_crawl(str(urls), "--output", str(db), "--depth", "1", "--workers", "2")
    assert result.returncode == 0, result.stderr


def diff(db: Path, *args: str) -> tuple[int, list[tuple]]:
    result = run_crawl("diff", str(db), *args)
    assert result.returncode in (0, 1), result.stderr
    found = []
    for change in map(json.loads, result.stdout.splitlines()):
        path = change["url"].split("/", 3)[3]
        versions = [change.get(side, {}).get("index") for side in ("from", "to")]
        detail = versions if change["kind"] == "board" else None
        found.append((change["change"], change["kind"], "/" + path, detail))
    return result.returncode, found


def test_what_changed_between_two_crawls(site: Site, tmp_path: Path) -> None:
    db = tmp_path / "output" / "db.txt"
    site.page("/", links("/resized", "/removed", "/same"))
    site.page("/resized", "<p>short</p>")
    site.page("/removed", "<p>removed next time</p>")
    site.page("/same", "<p>same</p>")
    site.page("/board", board_html(["霸王别姬", "活着", "大闹天宫"]))
    crawl(site, tmp_path, db)
    first = run_crawl("diff", str(db), "-q")  # one run only: nothing to compare with yet
    assert first.returncode == 2 and "nothing to compare with" in first.stderr

    site.page("/", links("/resized", "/added", "/same"))
    site.page("/resized", "<p>a longer page than before</p>")
    site.page("/added", "<p>new</p>")
    site.page("/board", board_html(["大闹天宫", "霸王别姬", "活着"]))
    crawl(site, tmp_path, db)

    code, plain = diff(db)
    assert code == 1
    assert plain == [
        ("changed", "url", "/", None),  # its links changed
        ("new", "url", "/added", None),
        *[("removed", "board", "/board", [index, None]) for index in ("1", "2", "3")],
        *[("added", "board", "/board", [None, index]) for index in ("1", "2", "3")],
        ("gone", "url", "/removed", None),
        ("changed", "url", "/resized", None),
    ]
    code, keyed = diff(db, "--key", "board.title")
    assert code == 1
    board = [change for change in keyed if change[1] == "board"]
    assert board == [
        ("changed", "board", "/board", ["3", "1"]),  # 大闹天宫 climbed to the top
        ("changed", "board", "/board", ["1", "2"]),
        ("changed", "board", "/board", ["2", "3"]),
    ]
    assert [change for change in keyed if change[1] == "url"] == [
        change for change in plain if change[1] == "url"
    ]
    assert run_crawl("diff", str(db), "-q").returncode == 1


def test_a_run_stopped_and_resumed_is_compared_whole(site: Site, tmp_path: Path) -> None:
    """The second run is stopped by SIGTERM (an end line, status=interrupted) and
    continued by --resume later in the file: both parts are one run, the same pages
    as the first run, so nothing changed."""
    gate = Gate()
    gated(site, gate, "/p/", graph_page(30))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    db = tmp_path / "db.txt"
    args = crawl_args(urls, db, "--resume", "--depth", "inf")
    first = run_crawl(*args)
    assert first.returncode == 0, first.stderr

    gate.close(8)
    crawl = start_crawl(*args)
    try:
        assert wait_for(lambda: gate.held >= 1 and gate.passed >= 8, 60)
        crawl.send_signal(signal.SIGTERM)
        crawl.communicate(timeout=30)
    finally:
        if crawl.poll() is None:
            crawl.kill()
    gate.open()
    half = run_crawl("diff", str(db), "--kind", "url")
    assert half.returncode == 1 and '"change": "gone"' in half.stdout  # only its first part
    resumed = run_crawl(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert sum(" resume " in line for line in db.read_text("utf-8").splitlines()) == 1

    result = run_crawl("diff", str(db))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
