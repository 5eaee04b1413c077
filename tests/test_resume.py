"""`crawl --resume` (the real command): a run killed with `kill -9` at known moments
(pages in flight, while the frontier spills, mid pagination chain, while the URL
file is read), resumed any number of times, gets exactly the lines an uninterrupted
run gets, and no URL whose line was written is asked for again.

The site blocks on a condition (`Gate`), so a test kills at a known state: N pages
answered, the next ones held in the server. Nothing here sleeps to wait."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.records import read_line
from tests.conftest import ROOT, crawl_command, crawl_env, run_crawl, start_crawl, write_urls
from tests.site_server import Site, links
from tests.stress_util import db_lines, descendants, gone, wait_for

GATE_BOUND = 60.0  # no request is held longer, whatever a test forgets


class Gate:
    """Lets `allowed` page requests through, then holds the others until opened."""

    def __init__(self, allowed: float = float("inf")) -> None:
        self.allowed = allowed
        self.passed = 0
        self.held = 0
        self._open = threading.Event()
        self._lock = threading.Lock()

    def through(self) -> None:
        with self._lock:
            if self.passed < self.allowed:
                self.passed += 1
                return
            self.held += 1
        self._open.wait(GATE_BOUND)
        with self._lock:
            self.held -= 1

    def holding(self, passed: int, held: int = 1):
        """A condition: `passed` pages went through and `held` wait at the gate."""
        return lambda: self.passed >= passed and self.held >= held

    def open(self) -> None:
        """Let every held request go, and wait (bounded) until they have."""
        self._open.set()
        assert wait_for(lambda: self.held == 0, GATE_BOUND), "held requests did not finish"

    def close(self, allowed: float) -> None:
        with self._lock:
            self.allowed, self.passed = allowed, 0
            self._open.clear()


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site().start()
    yield site
    site.stop()


def gated(site: Site, gate: Gate, prefix: str, page) -> None:
    """Answer paths under `prefix` with `page(path)`, through the gate."""

    def answer(path: str, query: str):
        gate.through()
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page(path).encode()

    site.route(prefix, answer)


def graph_page(size: int):
    """/p/N links to three others of `size` pages, and to a fragment and a mail."""

    def page(path: str) -> str:
        n = int(path.rsplit("/", 1)[1])
        hrefs = [f"/p/{(n * 3 + 1) % size}", f"/p/{(n * 7 + 2) % size}", f"/p/{(n + 1) % size}"]
        return links(*hrefs, "#top", "mailto:a@example.com")

    return page


def crawl_args(urls: Path, db: Path, *options: str) -> list[str]:
    return [str(urls), "--output", str(db), "--workers", "2", "--no-progress", "-q",
            "--no-cache", *options]  # fmt: skip


def finished_lines(db: Path) -> list[str]:
    """The url: and error: lines, as written."""
    return [line for line in db_lines(db) if line.startswith(("url:", "error:"))]


def records(db: Path) -> Counter[str]:
    """Every line but run: lines, counted."""
    return Counter(line for line in db_lines(db) if not line.startswith("run:"))


def keys_done(db: Path) -> set[str]:
    return {read_line(line).key for line in finished_lines(db)}


def kill_when(crawl: subprocess.Popen, condition, what: str, timeout: float = 60) -> None:
    """kill -9 the main process once `condition()` holds, and wait for its workers
    to be gone, so that nothing of that run reaches the server afterwards."""
    ready = wait_for(lambda: condition() or crawl.poll() is not None, timeout)
    if crawl.poll() is not None or not ready:
        crawl.kill()
        _, err = crawl.communicate(timeout=30)
        pytest.fail(f"never {what} (exit {crawl.returncode}): {err}")
    workers = descendants(crawl.pid)
    crawl.kill()
    crawl.communicate(timeout=30)
    assert wait_for(lambda: all(gone(worker) for worker in workers), 20), "workers left behind"


def uninterrupted(site: Site, tmp_path: Path, urls: Path, *options: str) -> Path:
    db = tmp_path / "whole" / "db.txt"
    result = run_crawl(*crawl_args(urls, db, *options), timeout=180)
    assert result.returncode in (0, 1), result.stderr
    return db


class Resumes:
    """A crawl killed and resumed: which URLs were asked for after each kill."""

    def __init__(self, site: Site, urls: Path, db: Path, *options: str) -> None:
        self.site = site
        self.args = crawl_args(urls, db, "--resume", *options)
        self.db = db
        self.refetched: list[str] = []  # targets asked for again whose line was written

    def start(self) -> subprocess.Popen:
        return start_crawl(*self.args)

    def killed(self) -> None:
        """Note what is done at a kill, to check the next part asks for none of it."""
        if hasattr(self, "_done_at_kill"):
            self.refetched += self._asked_again()
        self._done_at_kill = keys_done(self.db)
        self._targets_at_kill = len(self.site.targets)

    def resume(self) -> subprocess.CompletedProcess:
        return run_crawl(*self.args, timeout=180)

    def _asked_again(self) -> list[str]:
        base = self.site.base
        later = self.site.targets[self._targets_at_kill :]
        return [target for target in later if base + target in self._done_at_kill]

    def asked_again(self) -> list[str]:
        """Targets asked for after a kill whose line was written before it, over
        every part so far."""
        return self.refetched + self._asked_again()


def test_kill_9_with_pages_in_flight_then_resume_gives_the_lines_of_a_whole_run(
    site: Site, tmp_path: Path
) -> None:
    gate = Gate()
    gated(site, gate, "/p/", graph_page(80))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    whole = uninterrupted(site, tmp_path, urls, "--depth", "inf")

    db = tmp_path / "db.txt"
    rejected = tmp_path / "rejected.tsv"
    runs = Resumes(site, urls, db, "--depth", "inf", "--rejected-log", str(rejected))
    logged: list[str] = []
    for allowed in (7, 20, 45):  # three kills, each with pages held in the server
        gate.close(allowed)
        crawl = runs.start()
        kill_when(crawl, lambda: gate.held >= 2 and len(finished_lines(db)) >= 3, "got busy")
        runs.killed()
        logged = rejected.read_text(encoding="utf-8").splitlines()
        gate.open()
    result = runs.resume()
    assert result.returncode == 0, result.stderr
    assert runs.asked_again() == []
    # The links not followed, logged by every part: a resumed run appends to the log.
    assert logged and set(logged) <= set(rejected.read_text(encoding="utf-8").splitlines())

    assert records(db) == records(whole)  # every line once, the same lines
    assert all(count == 1 for count in Counter(keys_done(db)).values())
    runs_seen = [line.split()[1] for line in db_lines(db) if line.startswith("run:")]
    assert runs_seen.count("start") == 1 and runs_seen.count("end") == 1
    assert runs_seen.count("resume") >= 1
    assert end_fields(db)["ok"] == end_fields(whole)["ok"] == "80"
    assert end_fields(db)["dropped"] == end_fields(whole)["dropped"]
    assert end_fields(db)["found"] == end_fields(whole)["found"]
    assert not (tmp_path / "db.txt.state").exists()  # a finished run leaves nothing


def end_fields(db: Path) -> dict[str, str]:
    end = [line for line in db_lines(db) if line.startswith("run:") and " end " in line][-1]
    return dict(word.split("=", 1) for word in end.split()[2:])


def test_every_part_asks_for_nothing_whose_line_was_written(site: Site, tmp_path: Path) -> None:
    gate = Gate()
    gated(site, gate, "/p/", graph_page(60))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"), site.url("/p/30"))
    whole = uninterrupted(site, tmp_path, urls, "--depth", "inf")
    db = tmp_path / "db.txt"
    runs = Resumes(site, urls, db, "--depth", "inf")
    for allowed in (4, 8, 8, 8, 8):  # pages answered in each part before the kill
        gate.close(allowed)
        crawl = runs.start()
        kill_when(
            crawl, lambda allowed=allowed: gate.held >= 1 and gate.passed >= allowed, "held a page"
        )
        runs.killed()
        gate.open()
    result = runs.resume()
    assert result.returncode == 0, result.stderr
    assert runs.asked_again() == []
    assert records(db) == records(whole)


def test_kill_9_while_the_frontier_spills_to_disk(site: Site, tmp_path: Path) -> None:
    """Two pages of 800 links on one host: more than the 1,000 a host keeps in memory,
    so the rest wait on disk when the run is killed."""
    gate = Gate()
    for hub in ("a", "b"):
        site.page(f"/hub/{hub}", links(*(f"/leaf/{hub}{n}" for n in range(800))))
    gated(site, gate, "/leaf/", lambda path: "<html><body>leaf</body></html>")
    urls = write_urls(tmp_path / "urls.txt", site.url("/hub/a"), site.url("/hub/b"))
    db = tmp_path / "db.txt"
    runs = Resumes(site, urls, db, "--depth", "1", "--max-pages", "5000")
    gate.close(30)
    crawl = runs.start()
    kill_when(crawl, lambda: gate.held >= 2 and len(finished_lines(db)) >= 20, "spilled")
    runs.killed()
    gate.open()
    result = runs.resume()
    assert result.returncode == 0, result.stderr
    assert runs.asked_again() == []
    done = Counter(read_line(line).key for line in finished_lines(db))
    assert len(done) == 1602 and max(done.values()) == 1
    assert site.count("/hub/a") == site.count("/hub/b") == 1
    assert end_fields(db)["ok"] == "1602"


def test_a_pagination_chain_goes_on_from_the_page_it_had_reached(
    site: Site, tmp_path: Path
) -> None:
    gate = Gate()

    def listing(path: str) -> str:
        n = int(path.rsplit("/", 1)[1])
        nxt = f'<a class="next" href="/list/{n + 1}">next</a>' if n < 40 else ""
        return f"<html><body><p>page {n}</p>{nxt}<a href='/other'>o</a></body></html>"

    gated(site, gate, "/list/", listing)
    config = tmp_path / "crawl.toml"
    config.write_text("[[follow.rule]]\nlinks = 'a.next'\npagination = true\n", encoding="utf-8")
    urls = write_urls(tmp_path / "urls.txt", site.url("/list/1"))
    options = ("--depth", "1", "--config", str(config))
    whole = uninterrupted(site, tmp_path, urls, *options)
    db = tmp_path / "db.txt"
    runs = Resumes(site, urls, db, *options)
    for allowed in (9, 12):
        gate.close(allowed)
        crawl = runs.start()
        kill_when(
            crawl, lambda allowed=allowed: gate.held >= 1 and gate.passed >= allowed, "held a page"
        )
        runs.killed()
        gate.open()
    result = runs.resume()
    assert result.returncode == 0, result.stderr
    assert runs.asked_again() == []
    assert records(db) == records(whole)
    assert len(finished_lines(db)) == 40
    assert end_fields(db)["dropped"] == end_fields(whole)["dropped"]


def test_the_url_file_is_read_on_with_its_duplicates_and_bad_lines(
    site: Site, tmp_path: Path
) -> None:
    gate = Gate()
    gated(site, gate, "/p/", lambda path: "<html><body>p</body></html>")
    lines = []
    for n in range(1, 3001):
        if n % 97 == 0:
            lines.append(f"not-a-url-{n}")
        elif n % 13 == 0:
            lines.append("# a comment")
        else:
            lines.append(site.url(f"/p/{n % 211}"))
    urls = write_urls(tmp_path / "urls.txt", *lines)
    whole = uninterrupted(site, tmp_path, urls)
    db = tmp_path / "db.txt"
    runs = Resumes(site, urls, db)
    for allowed in (0, 50, 120):
        gate.close(allowed)
        crawl = runs.start()
        kill_when(crawl, gate.holding(allowed, 2), "held pages")
        runs.killed()
        gate.open()
    result = runs.resume()
    assert result.returncode == 1, result.stderr  # the bad lines
    assert runs.asked_again() == []
    assert records(db) == records(whole)
    assert end_fields(db)["ok"] == "211" and end_fields(db)["failed"] == str(3000 // 97)


def test_sigterm_ends_the_run_at_once_and_it_can_be_resumed(site: Site, tmp_path: Path) -> None:
    gate = Gate()
    gated(site, gate, "/p/", graph_page(40))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    db = tmp_path / "db.txt"
    runs = Resumes(site, urls, db, "--depth", "inf", "--stats", str(tmp_path / "stats.json"))
    gate.close(10)
    crawl = runs.start()
    assert wait_for(lambda: gate.held >= 1 and gate.passed >= 10, 60)
    crawl.send_signal(signal.SIGTERM)
    _, stderr = crawl.communicate(timeout=30)
    assert crawl.returncode == 143, stderr
    assert end_fields(db)["status"] == "interrupted"
    state = tmp_path / "db.txt.state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "journal").stat().st_mode) == 0o600
    runs.killed()
    gate.open()
    result = runs.resume()
    assert result.returncode == 0, result.stderr
    assert runs.asked_again() == []
    assert len(keys_done(db)) == len(finished_lines(db)) == 40
    assert end_fields(db)["ok"] == "40" and end_fields(db)["status"] == "finished"
    report = json.loads((tmp_path / "stats.json").read_text())
    assert (report["ok"], report["status"]) == (40, "finished")
    exported = run_crawl("export", str(db), "--run", "last", "--kind", "url")
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 40  # the whole run, both parts


def test_resume_without_an_unfinished_run_starts_a_new_one(site: Site, tmp_path: Path) -> None:
    site.page("/a", "<html><body>a</body></html>")
    urls = write_urls(tmp_path / "urls.txt", site.url("/a"))
    db = tmp_path / "db.txt"
    for _ in range(2):
        result = run_crawl(*crawl_args(urls, db, "--resume"))
        assert result.returncode == 0, result.stderr
    events = [line.split()[1] for line in db_lines(db) if line.startswith("run:")]
    assert events == ["start", "end", "start", "end"]
    assert site.count("/a") == 2
    assert not (tmp_path / "db.txt.state").exists()


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (("--depth", "2"), "--depth was inf, now 2"),
        (("--depth", "inf", "--deny", "/x"), "--deny was none, now /x"),
        (("--depth", "inf", "--parse", "board"), "--parse was none, now board"),
    ],
    ids=["depth", "deny", "parse"],
)
def test_a_resume_with_other_options_says_what_differs_and_fetches_nothing(
    site: Site, tmp_path: Path, change: tuple[str, ...], said: str
) -> None:
    gate = Gate(3)
    gated(site, gate, "/p/", graph_page(30))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    db = tmp_path / "db.txt"
    crawl = start_crawl(*crawl_args(urls, db, "--resume", "--depth", "inf"))
    kill_when(crawl, lambda: gate.held >= 1, "held a page")
    before, asked = db.read_bytes(), len(site.targets)
    gate.open()
    result = run_crawl(*crawl_args(urls, db, "--resume", *change))
    assert result.returncode == 2
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert db.read_bytes() == before and len(site.targets) == asked


def test_a_resume_of_another_url_file_or_without_state_says_so(site: Site, tmp_path: Path) -> None:
    gate = Gate(2)
    gated(site, gate, "/p/", graph_page(30))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    other = write_urls(tmp_path / "other.txt", site.url("/p/1"))
    db = tmp_path / "db.txt"
    crawl = start_crawl(*crawl_args(urls, db, "--resume", "--depth", "inf"))
    kill_when(crawl, lambda: gate.held >= 1, "held a page")
    gate.open()
    result = run_crawl(*crawl_args(other, db, "--resume", "--depth", "inf"))
    assert result.returncode == 2 and "the URL file was" in result.stderr, result.stderr

    journal = tmp_path / "db.txt.state" / "journal"
    header = journal.read_bytes().split(b"\n", 1)[0] + b"\n"
    journal.write_bytes(header)  # as if a power cut had lost what followed
    result = run_crawl(*crawl_args(urls, db, "--resume", "--depth", "inf"))
    assert result.returncode == 2 and "behind" in result.stderr, result.stderr

    journal.write_bytes(header[:10])  # torn
    result = run_crawl(*crawl_args(urls, db, "--resume", "--depth", "inf"))
    assert result.returncode == 2 and "torn" in result.stderr, result.stderr

    journal.unlink()
    result = run_crawl(*crawl_args(urls, db, "--resume", "--depth", "inf"))
    assert result.returncode == 2 and "missing" in result.stderr, result.stderr
    assert "without --resume" in result.stderr

    result = run_crawl(*crawl_args(urls, db, "--depth", "inf"))  # afresh
    assert result.returncode == 0, result.stderr


def test_a_password_in_a_listed_url_is_never_in_the_state(site: Site, tmp_path: Path) -> None:
    gate = Gate(4)
    gated(site, gate, "/p/", graph_page(20))
    secret = os.urandom(8).hex()
    url = site.url("/p/0").replace("://", f"://user:{secret}@")
    urls = write_urls(tmp_path / "urls.txt", url, *(site.url(f"/p/{n}") for n in range(1, 20)))
    db = tmp_path / "db.txt"
    crawl = start_crawl(*crawl_args(urls, db, "--resume", "--per-host", "1", "--depth", "1"))
    kill_when(crawl, lambda: gate.held >= 1, "held a page")
    for path in (tmp_path / "db.txt.state").rglob("*"):
        assert secret.encode() not in path.read_bytes(), path
    gate.open()
    result = run_crawl(*crawl_args(urls, db, "--resume", "--per-host", "1", "--depth", "1"))
    assert result.returncode == 0, result.stderr
    assert len(keys_done(db)) == len(finished_lines(db)) == 20


def test_killed_at_many_moments_with_links_pagination_and_sitemaps(
    site: Site, tmp_path: Path
) -> None:
    """The held-out check's shape: --depth inf, a pagination rule and a sitemap, the
    main process killed five times as the lines grow (wherever it is then: reading,
    fetching, writing), resumed each time."""
    graph = graph_page(100)

    def page(path: str) -> str:
        if path.startswith("/list/"):
            n = int(path.rsplit("/", 1)[1])
            nxt = f'<a class="next" href="/list/{n + 1}">next</a>' if n < 30 else ""
            return f"<html><body>list {n} {nxt}<a href='/p/{n}'>p</a></body></html>"
        if path.startswith("/m/"):
            return f"<html><body>mapped {path}</body></html>"
        text = graph(path)
        return (
            text.replace("</ul>", "<li><a href='/list/1'>list</a></li></ul>")
            if path == "/p/0"
            else text
        )

    gate = Gate()
    for prefix in ("/p/", "/list/", "/m/"):
        gated(site, gate, prefix, page)
    sitemap = "".join(f"<url><loc>{site.url(f'/m/{n}')}</loc></url>" for n in range(40))
    site.page(
        "/sitemap.xml",
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{sitemap}<url><loc>{site.url('/p/7')}</loc></url></urlset>",
        "application/xml",
    )
    robots = f"User-agent: *\nDisallow: /p/13\nSitemap: {site.url('/sitemap.xml')}\n"
    site.page("/robots.txt", robots, "text/plain")
    config = tmp_path / "crawl.toml"
    config.write_text(
        "[[follow.rule]]\nlinks = 'a.next'\npagination = true\n\n[[follow.rule]]\n",
        encoding="utf-8",
    )
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    options = ("--depth", "inf", "--sitemaps", "--config", str(config), "--delay", "0.01")
    whole = uninterrupted(site, tmp_path, urls, *options)
    # The pages but /p/13 (robots.txt), the list, the mapped pages, the sitemap.
    assert len(finished_lines(whole)) == 99 + 30 + 40 + 1

    db = tmp_path / "db.txt"
    runs = Resumes(site, urls, db, *options)
    for lines in (3, 30, 60, 100, 140):
        crawl = runs.start()
        kill_when(crawl, lambda lines=lines: len(finished_lines(db)) >= lines, f"{lines} lines")
        runs.killed()
    result = runs.resume()
    assert result.returncode == 0, result.stderr
    assert runs.asked_again() == []
    assert records(db) == records(whole)
    for field in ("ok", "failed", "found", "dropped"):
        assert end_fields(db)[field] == end_fields(whole)[field], field
    # robots.txt is read once a run, resumed or not: once for the whole run, once here.
    assert site.count("/robots.txt") == 2


def test_the_config_file_can_ask_for_resume(site: Site, tmp_path: Path) -> None:
    gate = Gate(5)
    gated(site, gate, "/p/", graph_page(30))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    config = tmp_path / "crawl.toml"
    config.write_text("resume = true\ndepth = 'inf'\n", encoding="utf-8")
    db = tmp_path / "db.txt"
    runs = Resumes(site, urls, db, "--config", str(config))
    runs.args.remove("--resume")
    crawl = runs.start()
    kill_when(crawl, gate.holding(5), "held a page")
    runs.killed()
    gate.open()
    result = runs.resume()
    assert result.returncode == 0, result.stderr
    assert runs.asked_again() == []
    events = [line.split()[1] for line in db_lines(db) if line.startswith("run:")]
    assert events == ["start", "resume", "end"]
    assert len(keys_done(db)) == len(finished_lines(db)) == 30


def test_who_the_crawl_is_on_each_site_holds_after_a_resume(tmp_path: Path) -> None:
    """--header goes to the listed URLs' sites, a listed URL's password to its site;
    neither is in the state, and a resume, which reads the URL file on from where
    it was, still sends both where they belong."""
    first, second = Site().start(), Site().start()
    try:
        gate = Gate(6)
        for site in (first, second):
            gated(site, gate, "/p/", lambda path: "<html><body>p</body></html>")
        token, password = os.urandom(8).hex(), os.urandom(8).hex()
        listed = [first.url(f"/p/{n}") for n in range(15)]
        listed += [second.url("/p/0").replace("://", f"://user:{password}@")]
        listed += [second.url(f"/p/{n}") for n in range(1, 15)]
        urls = write_urls(tmp_path / "urls.txt", *listed)
        db = tmp_path / "db.txt"
        args = crawl_args(urls, db, "--resume", "--header", f"X-Token: {token}")
        crawl = start_crawl(*args)
        kill_when(crawl, gate.holding(6, 2), "held pages")
        for path in (tmp_path / "db.txt.state").rglob("*"):
            data = path.read_bytes()
            assert token.encode() not in data and password.encode() not in data, path
        asked = (len(first.targets), len(second.targets))
        gate.open()
        result = run_crawl(*args)
        assert result.returncode == 0, result.stderr
        assert len(keys_done(db)) == len(finished_lines(db)) == 30
        for site in (first, second):
            pages = [
                h for t, h in zip(site.targets, site.headers, strict=True) if t.startswith("/p/")
            ]
            assert pages and all(h.get("X-Token") == token for h in pages)
        since = asked[1]
        later = [h for t, h in zip(second.targets[since:], second.headers[since:], strict=True)
                 if t.startswith("/p/")]  # fmt: skip
        assert later and all(h.get("Authorization", "").startswith("Basic ") for h in later)
    finally:
        first.stop()
        second.stop()


def test_an_api_paged_by_a_parameter_goes_on_from_the_page_it_had_reached(
    site: Site, tmp_path: Path
) -> None:
    """A `next = { param = "page" }` chain of 40 pages, killed twice mid-chain: the
    resumed run asks for the page after the last one written, and the chain ends
    at the first empty page as an uninterrupted run's does."""
    gate = Gate()
    items = [{"id": n} for n in range(1, 196)]

    def api(path: str, query: str):
        gate.through()
        page = int(query.partition("page=")[2] or 1)
        body = {"data": {"items": items[(page - 1) * 5 : page * 5]}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    site.route("/api", api)
    config = tmp_path / "crawl.toml"
    config.write_text(
        '[parsers.item]\nitem = { jmespath = "data.items[*]" }\n'
        '[parsers.item.fields]\nid = { jmespath = "id", required = true }\n\n'
        '[[follow.rule]]\nnext = { param = "page" }\nparse = ["item"]\n',
        encoding="utf-8",
    )
    urls = write_urls(tmp_path / "urls.txt", site.url("/api") + "  item")
    options = ("--config", str(config))
    whole = uninterrupted(site, tmp_path, urls, *options)
    db = tmp_path / "db.txt"
    runs = Resumes(site, urls, db, *options)
    for allowed in (12, 9):
        gate.close(allowed)
        crawl = runs.start()
        kill_when(crawl, gate.holding(allowed), "held a page")
        runs.killed()
        gate.open()
    result = runs.resume()
    assert result.returncode == 0, result.stderr
    assert runs.asked_again() == []
    assert records(db) == records(whole)
    assert sum(1 for line in db_lines(db) if line.startswith("item:")) == 195
    assert end_fields(db)["dropped"] == end_fields(whole)["dropped"] == "last-page:1"


def test_a_run_without_resume_starts_afresh_and_removes_the_killed_runs_state(
    site: Site, tmp_path: Path
) -> None:
    gate = Gate(3)
    gated(site, gate, "/p/", graph_page(20))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    db = tmp_path / "db.txt"
    crawl = start_crawl(*crawl_args(urls, db, "--resume", "--depth", "inf"))
    kill_when(crawl, gate.holding(3), "held a page")
    assert (tmp_path / "db.txt.state").exists()
    gate.open()
    result = run_crawl(*crawl_args(urls, db, "--depth", "inf"))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "db.txt.state").exists()
    events = [line.split()[1] for line in db_lines(db) if line.startswith("run:")]
    assert events == ["start", "start", "end"]


def test_a_state_with_a_record_no_crawl_writes_is_torn(site: Site, tmp_path: Path) -> None:
    gate = Gate(3)
    gated(site, gate, "/p/", graph_page(20))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    db = tmp_path / "db.txt"
    args = crawl_args(urls, db, "--resume", "--depth", "inf")
    crawl = start_crawl(*args)
    kill_when(crawl, gate.holding(3), "held a page")
    gate.open()
    with (tmp_path / "db.txt.state" / "journal").open("ab") as journal:
        journal.write(b"+\tnot hex\tx\n.\n")
    result = run_crawl(*args)
    assert result.returncode == 2 and "is torn" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_run_that_read_standard_input_cannot_be_resumed(site: Site, tmp_path: Path) -> None:
    gate = Gate(2)
    gated(site, gate, "/p/", graph_page(20))
    db = tmp_path / "db.txt"
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    args = ["-", "--output", str(db), "--workers", "2", "--no-progress", "-q", "--no-cache",
            "--resume", "--depth", "inf"]  # fmt: skip
    with urls.open("rb") as stdin:
        crawl = subprocess.Popen(
            crawl_command(*args), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=crawl_env(), cwd=ROOT,
        )  # fmt: skip
        kill_when(crawl, gate.holding(2), "held a page")
    gate.open()
    result = run_crawl(*args, stdin=site.url("/p/0") + "\n")
    assert result.returncode == 2, result.stderr
    assert "standard input, which cannot be read again" in result.stderr


def test_max_pages_counts_both_parts(site: Site, tmp_path: Path) -> None:
    gate = Gate()
    gated(site, gate, "/p/", graph_page(80))
    urls = write_urls(tmp_path / "urls.txt", site.url("/p/0"))
    options = ("--depth", "inf", "--max-pages", "30")
    whole = uninterrupted(site, tmp_path, urls, *options)
    db = tmp_path / "db.txt"
    runs = Resumes(site, urls, db, *options)
    gate.close(10)
    crawl = runs.start()
    kill_when(crawl, gate.holding(10), "held a page")
    runs.killed()
    gate.open()
    result = runs.resume()
    assert result.returncode == 0, result.stderr
    assert runs.asked_again() == []
    assert len(finished_lines(db)) == len(finished_lines(whole)) == 30
    assert end_fields(db)["found"] == end_fields(whole)["found"] == "29"
