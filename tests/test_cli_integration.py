"""The real `crawl` command (a subprocess) against tests/server.py on 127.0.0.1.

Each test checks what a user would: db.txt, the exit status, stderr. Every test
also checks the contract's central rule with `assert_one_fetch_line_each`: each
distinct URL of a run has exactly one `url:` line or one `error:` line for its fetch.
Waits are on conditions (a request reaching the server, a line in db.txt), each
with a bound; none is a fixed sleep.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from pipelines.parsers import Registry
from pipelines.records import read_line
from tests.conftest import ROOT, records, run_crawl, start_crawl, write_urls
from tests.server import GBK_PAGE, PNG, TestServer, page_text

PARSERS = Registry()  # the built-in parsers

START_METHODS = ["fork", "spawn"]
RUN_LINE = re.compile(r"^run:<\d{8}T\d{6}Z-[0-9a-f]{6}> (start|end) ")


# -- helpers -----------------------------------------------------------------------
def fetch_lines(db: Path) -> Counter[str]:
    """How many fetch lines (`url:`, or `error:` other than a parser's) each URL got."""
    counts: Counter[str] = Counter()
    for line in records(db):
        record = read_line(line)
        assert record is not None, f"not a record line: {line!r}"
        kind, url, rest = record
        if kind == "url":
            assert rest.startswith("size:[") and rest.endswith("]"), line
            assert rest[len("size:[") : -1].isdigit(), line
            counts[url] += 1
        elif kind == "error":
            assert rest, line
            if not any(rest.startswith(f"{name}: ") for name in PARSERS):
                counts[url] += 1
        else:
            assert kind in ("board", "run"), f"unknown kind of line: {line!r}"
    return counts


def assert_one_fetch_line_each(db: Path, *urls: str) -> None:
    """Each of `urls` has exactly one fetch line in db.txt (one run), and no other
    URL has any."""
    assert fetch_lines(db) == Counter(set(urls))


def line_for(db: Path, url: str) -> str:
    (line,) = [
        line
        for line in records(db)
        if line.startswith((f"url:<{url}> size:[", f"error:<{url}> "))
        and not any(f"{url}> {name}: " in line for name in PARSERS)
    ]
    return line


def run_lines(db: Path) -> list[str]:
    lines = records(db, "run")
    assert all(RUN_LINE.match(line) for line in lines), lines
    return lines


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, f"gave up waiting for {what} after {timeout} s"
        time.sleep(0.05)


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"crawl did not finish in {timeout} s; stderr:\n{err}")
    return process.returncode, out, err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "out" / "db.txt"


# -- one run with every kind of page, looked at by many tests -----------------------
class Mixed:
    """A crawl over pages of every kind, run once for the module."""

    def __init__(self, server: TestServer, folder: Path) -> None:
        self.server = server
        self.db = folder / "db.txt"
        self.urls = {
            name: server.url(path)
            for name, path in {
                "page": "/page/one",
                "board": "/board",
                "verify": "/verify",
                "404": "/status/404",
                "flaky": "/flaky/mixed",
                "big": "/big?bytes=20000&length=1",
                "big-chunked": "/big?bytes=20000&length=0",
                "loop": "/redirect-loop",
                "redirect": "/redirect/3",
                "gbk": "/gbk",
                "image": "/image.png",
                "duplicate": "/page/twice",
                "retry-after": "/retry-after/mixed?value=1",
                "gzip": "/gzip-bomb?bytes=5000",
                "gzip-bomb": "/gzip-bomb?bytes=5000000",
            }.items()
        }
        self.secret_url = self.urls["page"].replace("//", "//user:secret@").replace("one", "cred")
        self.urls["credentials"] = self.urls["page"].replace("one", "cred")
        lines = [
            "# every kind of page",
            "",
            self.urls["page"],
            "not-a-url  board",  # line 4
            f"{self.urls['board']}  board",
            f"{self.urls['verify']}  board",
            *(self.urls[name] for name in ("404", "flaky", "big", "big-chunked")),
            *(self.urls[name] for name in ("loop", "redirect", "gbk", "image", "duplicate")),
            self.urls["duplicate"],
            self.secret_url,
            *(self.urls[name] for name in ("retry-after", "gzip", "gzip-bomb")),
        ]
        urls_file = write_urls(folder / "urls.txt", *lines)
        self.result = run_crawl(
            str(urls_file),
            *("--output", str(self.db), "--workers", "3"),
            *("--timeout", "5", "--retries", "2", "--max-bytes", "10000"),
        )

    def line(self, name: str) -> str:
        return line_for(self.db, self.urls[name])


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mixed]:
    server = TestServer().start()
    try:
        yield Mixed(server, tmp_path_factory.mktemp("mixed"))
    finally:
        server.stop()


def test_mixed_run_has_one_fetch_line_per_url(mixed: Mixed) -> None:
    assert_one_fetch_line_each(mixed.db, "not-a-url", *mixed.urls.values())


def test_mixed_run_exits_1_and_says_it_finished(mixed: Mixed) -> None:
    assert mixed.result.returncode == 1, mixed.result.stderr
    start, end = run_lines(mixed.db)
    assert " start " in start and " end status=finished " in end
    assert "Traceback" not in mixed.result.stderr


def test_ordinary_page(mixed: Mixed) -> None:
    size = len(page_text("one"))
    assert mixed.line("page") == f"url:<{mixed.urls['page']}> size:[{size}]"


def test_board_page_gives_its_entries_as_exact_json_lines(mixed: Mixed) -> None:
    url = mixed.urls["board"]
    assert records(mixed.db, "board") == [
        f'board:<{url}> {{"index": "1", "title": "霸王别姬", "actor": "张国荣,张丰毅,巩俐", '
        '"time": "1993-01-01", "score": "9.5"}',
        f'board:<{url}> {{"index": "2", "title": "肖申克的救赎", '
        '"actor": "蒂姆·罗宾斯,摩根·弗里曼,鲍勃·冈顿", '
        '"time": "1994-09-10(加拿大)", "score": "9.5"}',
        f'board:<{url}> {{"index": "3", "title": "罗马假日", '
        '"actor": "格利高里·派克,奥黛丽·赫本,埃迪·艾伯特", '
        '"time": "1953-09-02(美国)", "score": "9.1"}',
        f'board:<{url}> {{"index": "4", "title": "这个杀手不太冷", '
        '"actor": "让·雷诺,加里·奥德曼,娜塔莉·波特曼", '
        '"time": "1994-09-14(法国)", "score": "9.5"}',
        f'board:<{url}> {{"index": "5", "title": "泰坦尼克号", '
        '"actor": "莱昂纳多·迪卡普里奥,凯特·温丝莱特,比利·赞恩", '
        '"time": "1998-04-03", "score": "9.5"}',
    ]
    assert mixed.line("board").startswith(f"url:<{url}> size:[")


def test_board_lines_follow_their_url_line(mixed: Mixed) -> None:
    # All the lines of one page are written together.
    url = mixed.urls["board"]
    lines = records(mixed.db)
    first = lines.index(mixed.line("board"))
    assert [line.split(" ", 1)[0] for line in lines[first : first + 6]] == [
        f"url:<{url}>",
        *[f"board:<{url}>"] * 5,
    ]


def test_verification_page_is_fetched_but_fails_as_a_board(mixed: Mixed) -> None:
    url = mixed.urls["verify"]
    assert mixed.line("verify").startswith(f"url:<{url}> size:[")
    assert f"error:<{url}> board: no entries found" in records(mixed.db, "error")


def test_404_is_an_error_and_not_retried(mixed: Mixed) -> None:
    assert mixed.line("404") == f"error:<{mixed.urls['404']}> HTTP 404"
    assert mixed.server.count("/status/404") == 1


def test_flaky_url_succeeds_on_its_third_attempt(mixed: Mixed) -> None:
    assert mixed.line("flaky").startswith(f"url:<{mixed.urls['flaky']}> size:[")
    assert mixed.server.count("/flaky/mixed") == 3


def test_slow_drip_times_out(server: TestServer, tmp_path: Path, db: Path) -> None:
    # Its own run: the small --timeout would be a risk for the mixed run's pages.
    drip = server.url("/drip?bytes=100&every=0.3")  # 30 s for the whole body
    result = run_crawl(
        str(write_urls(tmp_path / "urls.txt", drip)),
        *("--output", str(db), "--workers", "1", "--timeout", "1", "--retries", "1"),
    )
    assert result.returncode == 1, result.stderr
    assert line_for(db, drip) == f"error:<{drip}> timed out after 2 attempts"
    assert server.count("/drip") == 2
    assert_one_fetch_line_each(db, drip)


@pytest.mark.parametrize("name", ["big", "big-chunked"])
def test_body_over_the_cap(mixed: Mixed, name: str) -> None:
    assert mixed.line(name) == f"error:<{mixed.urls[name]}> larger than 10000 bytes"


def test_429_with_retry_after_is_retried(mixed: Mixed) -> None:
    assert mixed.line("retry-after").startswith(f"url:<{mixed.urls['retry-after']}> size:[")
    assert mixed.server.count("/retry-after/mixed") == 2


def test_gzip_body_is_decoded_and_capped_after_decoding(mixed: Mixed) -> None:
    assert mixed.line("gzip") == f"url:<{mixed.urls['gzip']}> size:[5000]"
    assert mixed.line("gzip-bomb") == f"error:<{mixed.urls['gzip-bomb']}> larger than 10000 bytes"


def test_redirect_loop_stops_after_10_redirects(mixed: Mixed) -> None:
    assert mixed.line("loop") == f"error:<{mixed.urls['loop']}> too many redirects (10)"
    assert mixed.server.count("/redirect-loop") == 11


def test_redirects_are_followed_and_recorded_under_the_listed_url(mixed: Mixed) -> None:
    size = len(page_text("redirected"))
    assert mixed.line("redirect") == f"url:<{mixed.urls['redirect']}> size:[{size}]"


def test_gbk_page_is_decoded(mixed: Mixed) -> None:
    size = len(GBK_PAGE.decode("gb18030"))
    assert size < len(GBK_PAGE)  # characters, not bytes
    assert mixed.line("gbk") == f"url:<{mixed.urls['gbk']}> size:[{size}]"


def test_image_size_is_its_byte_count(mixed: Mixed) -> None:
    assert mixed.line("image") == f"url:<{mixed.urls['image']}> size:[{len(PNG)}]"


def test_malformed_line_is_reported_with_its_number_and_the_run_goes_on(mixed: Mixed) -> None:
    assert "error:<not-a-url> line 4: not an http(s) URL" in records(mixed.db, "error")
    assert "line 4" in mixed.result.stderr
    assert "not-a-url" in mixed.result.stderr
    assert mixed.line("image").startswith("url:")  # lines after it were fetched


def test_credentials_are_used_but_never_shown(mixed: Mixed) -> None:
    size = len(page_text("cred"))
    assert mixed.line("credentials") == f"url:<{mixed.urls['credentials']}> size:[{size}]"
    assert mixed.server.count("/page/cred") == 1
    assert "secret" not in mixed.db.read_text("utf-8")
    assert "secret" not in mixed.result.stderr


def test_duplicate_url_is_fetched_once(mixed: Mixed) -> None:
    assert mixed.server.count("/page/twice") == 1
    assert mixed.line("duplicate").startswith("url:")


def test_summary_on_stderr(mixed: Mixed) -> None:
    summary = mixed.result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"crawl: 10 ok, 7 failed, \d+ retried, \d+ bytes in [\d.]+ s \([\d.]+ pages/s\)"
        r"; cache \d+ bytes, 0 evicted(; per-host limits held workers back [\d.]+ s)?"
        r"; slowed down: http://127\.0\.0\.1:\d+ \(1 x 429, 2 x 503, paused 1\.0 s, .*\)",
        summary,
    ), summary


# -- the pool under each start method ------------------------------------------------
@pytest.mark.parametrize("start_method", START_METHODS)
def test_a_clean_run_exits_0(
    server: TestServer, tmp_path: Path, db: Path, start_method: str
) -> None:
    urls = [server.url(f"/page/p{i}") for i in range(6)] + [server.url("/board")]
    lines = [*urls[:-1], f"{urls[-1]}  board"]
    result = run_crawl(
        str(write_urls(tmp_path / "urls.txt", *lines)),
        *("--output", str(db), "--workers", "2", "--start-method", start_method),
    )
    assert result.returncode == 0, result.stderr
    assert_one_fetch_line_each(db, *urls)
    assert len(records(db, "board")) == 5
    start, end = run_lines(db)
    assert " workers=2 " in start
    assert " end status=finished ok=7 failed=0 " in end
    assert result.stderr.strip().splitlines()[-1].startswith("crawl: 7 ok, 0 failed")


# -- signals and locks -----------------------------------------------------------
@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"]
)
def test_signal_mid_run_keeps_finished_pages(
    server: TestServer, tmp_path: Path, db: Path, signum: signal.Signals, status: int
) -> None:
    done = [server.url(f"/page/t{i}") for i in range(3)]
    hang = server.url("/hang")
    crawl = start_crawl(
        str(write_urls(tmp_path / "urls.txt", *done, hang)),
        *("--output", str(db), "--workers", "2", "--timeout", "30"),
    )
    try:
        server.wait_for("/hang")
        wait_until(lambda: db.is_file() and len(records(db, "url")) == 3, "3 pages in db.txt")
        crawl.send_signal(signum)
        exit_status, _, err = finish(crawl, timeout=30)
    finally:
        if crawl.poll() is None:
            crawl.kill()
    assert exit_status == status, err
    assert f"interrupted by {signum.name}" in err
    assert "Traceback" not in err
    assert_one_fetch_line_each(db, *done)  # and none for the URL cut off
    assert " end status=interrupted " in run_lines(db)[-1]


def test_a_killed_run_leaves_no_workers_and_no_lock(
    server: TestServer, tmp_path: Path, db: Path
) -> None:
    hang = server.url("/hang")
    crawl = start_crawl(
        str(write_urls(tmp_path / "urls.txt", hang)),
        *("--output", str(db), "--workers", "2", "--timeout", "30"),
    )
    try:
        server.wait_for("/hang")
        workers = psutil.Process(crawl.pid).children(recursive=True)
        assert workers
        crawl.kill()
        crawl.wait(30)
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, f"workers left behind: {alive}"
    finally:
        if crawl.poll() is None:
            crawl.kill()
    (start,) = run_lines(db)  # killed: no end line
    assert " start " in start
    page = server.url("/page/after")
    result = run_crawl(
        str(write_urls(tmp_path / "again.txt", page)), "--output", str(db), "--workers", "1"
    )
    assert result.returncode == 0, result.stderr  # the lock went with the killed run
    assert fetch_lines(db) == Counter([page])


def test_two_runs_started_at_once_on_one_output(
    server: TestServer, tmp_path: Path, db: Path
) -> None:
    hang = server.url("/hang")
    runs = [
        start_crawl(
            str(write_urls(tmp_path / f"urls-{name}.txt", hang)),
            *("--output", str(db), "--workers", "1", "--timeout", "30"),
        )
        for name in ("a", "b")
    ]
    try:
        wait_until(lambda: any(run.poll() is not None for run in runs), "one run to stop")
        loser, winner = runs if runs[0].poll() is not None else runs[::-1]
        status, _, err = finish(loser)
        assert status == 75, err
        assert f"another crawl is writing to {db}" in err
        assert "nothing fetched" in err
        assert "Traceback" not in err
        server.wait_for("/hang")
        assert winner.poll() is None  # the other run goes on
        winner.send_signal(signal.SIGTERM)
        status, _, err = finish(winner, timeout=30)
        assert status == 143, err
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
    assert server.count("/hang") == 1  # the run that stopped fetched nothing
    assert_one_fetch_line_each(db)  # the run that went on was cut off
    start, end = run_lines(db)  # one run's lines only
    assert " start " in start and " end status=interrupted " in end


# -- the command line --------------------------------------------------------------
def test_stdin_and_appending_to_an_existing_output(server: TestServer, db: Path) -> None:
    db.parent.mkdir()
    db.write_text("url:http://old.example/ size:[1]\nrun:cut-off-by-a-crash star", "utf-8")
    urls = [server.url("/page/in1"), server.url("/page/in2")]
    result = run_crawl("-", "--output", str(db), "--workers", "1", stdin="\n".join(urls) + "\n")
    assert result.returncode == 0, result.stderr
    lines = records(db)
    # Appended, and the torn last line of the crash left on a line of its own.
    assert lines[:2] == ["url:http://old.example/ size:[1]", "run:cut-off-by-a-crash star"]
    db.write_text("\n".join(lines[2:]) + "\n", "utf-8")  # this run's lines alone
    assert_one_fetch_line_each(db, *urls)
    assert " urls=- " in run_lines(db)[0] + " "


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/no-such-file.txt"], "cannot read {tmp}/no-such-file.txt: No such file"),
        (["{tmp}/urls.txt", "--bogus"], "unrecognized arguments: --bogus"),
        (["{tmp}/urls.txt", "--output", "{tmp}/file/db.txt"], "{tmp}/file is not a folder"),
    ],
    ids=["missing URL file", "unknown option", "output under a file"],
)
def test_unusable_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    # More cases, in-process: tests/test_cli.py.
    (tmp_path / "file").write_text("x")
    write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/")
    args = [arg.format(tmp=tmp_path) for arg in args]
    if "--output" not in args:
        args += ["--output", str(tmp_path / "out" / "db.txt")]
    result = run_crawl(*args)
    assert result.returncode == 2, result.stderr
    assert not (tmp_path / "out").exists()  # nothing written
    assert message.format(tmp=tmp_path) in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = run_crawl("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"crawl \d+\.\d+\.\d+\n", result.stdout)


def test_demo(db: Path) -> None:
    result = run_crawl("--demo", "--output", str(db), "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert str(db) in result.stdout
    assert "board:" in result.stdout
    board = records(db, "board")
    assert board and all(json.loads(line.split(" ", 1)[1])["title"] for line in board)
    urls = [read_line(line).key for line in records(db, "url")]
    assert len(urls) == 4
    assert_one_fetch_line_each(db, *urls)
    news = (ROOT / "crawler" / "demo_site" / "news-gbk.html").read_bytes()
    (news_line,) = [line for line in records(db, "url") if "/news> " in line]
    assert news_line.endswith(f" size:[{len(news.decode('gb18030'))}]")  # its <meta> was read
