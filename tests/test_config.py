"""--config FILE (TOML) and --wait-lock."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from crawler.cli import parse_arguments, settings_from
from pipelines.run_lock import RunLock
from tests.conftest import records, run_crawl, start_crawl, write_urls


def parse(tmp_path: Path, toml: str, *argv: str):
    config = tmp_path / "crawl.toml"
    config.write_text(toml, encoding="utf-8")
    return parse_arguments(["--config", str(config), *argv])


def test_any_option_from_the_file(tmp_path: Path) -> None:
    args = parse(
        tmp_path,
        'urls_file = "list.txt"\nworkers = 3\nper-host = 2\ndelay = 1.5\nparse = ["board"]\n'
        'ignore-robots = true\nno_cache = true\noutput = "out/db.txt"\nwait-lock = 30\n'
        'user-agent = "bot/1"\nprogress = false\nthreads = 4\n',
    )
    settings = settings_from(args)
    assert args.urls_file == str(tmp_path / "list.txt")  # relative to the file's folder
    assert settings.output == tmp_path / "out" / "db.txt"
    assert (settings.workers, settings.per_host, settings.delay) == (3, 2, 1.5)
    assert (settings.threads, settings.concurrency, settings.max_in_flight) == (4, 12, 26)
    assert settings.parse == ("board",)
    assert settings.obey_robots is False and settings.fetch.cache_path is None
    assert settings.wait_lock == 30 and settings.fetch.user_agent == "bot/1"
    assert settings.progress is False


def test_the_command_line_wins(tmp_path: Path) -> None:
    args = parse(tmp_path, "workers = 3\nper-host = 2\n", "--workers", "5", "urls.txt")
    assert (args.workers, args.per_host, args.urls_file) == (5, 2, "urls.txt")


def test_defaults_without_a_file() -> None:
    settings = settings_from(parse_arguments(["u.txt"]))
    assert (settings.per_host, settings.delay, settings.obey_robots) == (4, 0.0, True)
    assert settings.threads == 1
    assert settings.fetch.cache_path == Path("output") / "http-cache.sqlite"
    assert settings.fetch.user_agent.startswith("crawl/")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("colour = 1\n", "unknown option 'colour'"),
        ("workers = 0\n", "workers: must be at least 1"),
        ("threads = 0\n", "threads: must be at least 1"),
        ('workers = "many"\n', "workers: invalid literal"),
        ('ignore-robots = "yes"\n', "ignore-robots: expected true or false"),
        ('parse = "nosuch"\n', "parse: unknown parser nosuch"),
        ('start-method = "thread"\n', "start-method: 'thread' is not one of"),
        ("workers = [\n", "is not valid TOML"),
        ('config = "other.toml"\n', "unknown option 'config'"),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2(tmp_path: Path, toml: str, message: str, capsys):
    with pytest.raises(SystemExit) as stop:
        parse(tmp_path, toml)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_crawl_from_cron_with_only_a_config(server, tmp_path: Path) -> None:
    write_urls(tmp_path / "urls.txt", server.url("/page/a"))
    config = tmp_path / "crawl.toml"
    config.write_text('urls_file = "urls.txt"\noutput = "db.txt"\nworkers = 1\n', "utf-8")
    result = run_crawl("--config", str(config))
    assert result.returncode == 0, result.stderr
    assert len(records(tmp_path / "db.txt", "url")) == 1
    missing = run_crawl("--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "cannot read config" in missing.stderr
    assert "Traceback" not in missing.stderr


def holds_lock(pid: int, lock: Path) -> bool:
    """Whether process `pid` has `lock` open (it is waiting for it, or holds it)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(lock.resolve()) for fd in fds.iterdir())
    except OSError:
        return False


def test_wait_lock_waits_for_the_other_run(server, tmp_path: Path) -> None:
    db = tmp_path / "db.txt"
    urls = write_urls(tmp_path / "urls.txt", server.url("/page/a"))
    lock = RunLock(db)
    lock.acquire()
    crawl = start_crawl(str(urls), "--output", str(db), "--workers", "1", "--wait-lock", "60")
    try:
        give_up = time.monotonic() + 30
        while not holds_lock(crawl.pid, lock.path) and time.monotonic() < give_up:
            assert crawl.poll() is None, crawl.communicate()
            time.sleep(0.05)
        assert crawl.poll() is None  # waiting, not exited 75
        lock.release()
        _out, err = crawl.communicate(timeout=60)
    finally:
        lock.release()
        if crawl.poll() is None:
            crawl.kill()
            crawl.communicate()
    assert crawl.returncode == 0, err
    assert len(records(db, "url")) == 1


def test_ctrl_c_while_waiting_for_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "db.txt"
    urls = write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/never")
    lock = RunLock(db)
    lock.acquire()
    crawl = start_crawl(str(urls), "--output", str(db), "--wait-lock", "60")
    try:
        give_up = time.monotonic() + 30
        while not holds_lock(crawl.pid, lock.path) and time.monotonic() < give_up:
            time.sleep(0.05)
        crawl.send_signal(signal.SIGINT)
        _out, err = crawl.communicate(timeout=30)
    finally:
        lock.release()
        if crawl.poll() is None:
            crawl.kill()
            crawl.communicate()
    assert crawl.returncode == 130
    assert "Traceback" not in err and "nothing fetched" in err


def test_wait_lock_gives_up_with_75(tmp_path: Path) -> None:
    db = tmp_path / "db.txt"
    urls = write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/never")
    lock = RunLock(db)
    lock.acquire()
    try:
        started = time.monotonic()
        result = run_crawl(str(urls), "--output", str(db), "--wait-lock", "0.5")
        assert time.monotonic() - started >= 0.5
    finally:
        lock.release()
    assert result.returncode == 75
    assert "waited 0.5 s" in result.stderr and "nothing fetched" in result.stderr


def test_tables_that_are_not_options_are_handed_to_their_owners(tmp_path: Path) -> None:
    args = parse(
        tmp_path,
        'workers = 2\n[parsers.quote]\nitem = "div.quote"\n[parsers.quote.fields]\n'
        'text = "span.text::text"\n[follow]\ndepth = 2\n',
        "u.txt",
    )
    settings = settings_from(args)
    assert settings.config_tables == {
        "parsers": {"quote": {"item": "div.quote", "fields": {"text": "span.text::text"}}},
        "follow": {"depth": 2},
    }
    assert settings.workers == 2


def test_an_unknown_table_is_an_unknown_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        parse(tmp_path, "[colours]\nred = 1\n", "u.txt")
    assert stop.value.code == 2
    assert "unknown option 'colours'" in capsys.readouterr().err
