"""The parts of `--resume` one at a time: the journal (what a kill leaves is read
back whole or not at all), the last run of db.txt, what a run has done, the
fingerprint's differences, the URL file's offsets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crawler.frontier import Frontier
from crawler.frontier.core import FOUND, Entry, Fetch
from crawler.frontier.journal import FLUSH_AT, Journal, committed_groups
from crawler.frontier.policy import make_policy
from crawler.frontier.scope import make_scope
from crawler.frontier.seen import SeenUrls, digest
from crawler.model import Job, Link, Page
from crawler.page.links import PageLinks
from crawler.resume.finished import find_start, last_run, read_done
from crawler.resume.origins import KnownOrigins
from crawler.resume.replay import replay
from crawler.resume.state import differences

SITE = "http://127.0.0.1:9"


def journal_at(path: Path, **options) -> Journal:
    path.write_bytes(b"crawl-journal 1 {}\n")
    return Journal(os.open(path, os.O_WRONLY | os.O_APPEND), **options)


def following_frontier() -> Frontier:
    return Frontier(follow=make_policy(depth=3), robots_agent=None)


def page(url: str) -> Page:
    return Page(url, 200, "text/html", "", 0, 0, 1)


def test_a_commit_is_read_back_whole_and_a_torn_tail_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    journal = journal_at(path)
    journal.position(10, 1)
    journal.flush()
    journal.position(20, 2)
    journal.flush()
    journal.close()
    with path.open("ab") as out:
        out.write(b"@\t30\t3\n")  # a write a kill cut short: no commit mark
    groups = [records for _, records in committed_groups(path)]
    assert groups == [[], ["@\t10\t1"], ["@\t20\t2"]]


@pytest.mark.parametrize("torn_at", [1, 4, 8])  # the group is 9 bytes: "@\t99\t9\n.\n"
def test_a_group_cut_anywhere_is_left_out(tmp_path: Path, torn_at: int) -> None:
    path = tmp_path / "journal"
    journal = journal_at(path)
    journal.position(10, 1)
    journal.flush()
    whole = path.stat().st_size
    journal.position(99, 9)
    journal.flush()
    journal.close()
    os.truncate(path, whole + torn_at)
    (*_, (end, last)) = committed_groups(path)
    assert (end, last) == (whole, ["@\t10\t1"])


def test_a_pages_links_are_one_group_and_a_page_taken_again_adds_none(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    frontier = following_frontier()
    frontier.journal = journal_at(path)
    seed = f"{SITE}/"
    frontier.add_listed(Job(1, seed, ()), 0.0)
    fetch = frontier.next_ready(0.0)
    assert isinstance(fetch, Fetch)
    found = PageLinks(None, [Link(f"{SITE}/a"), Link(f"{SITE}/b"), Link("mailto:x@y")])
    frontier.add_links(fetch, page(seed), found, 0.0)
    frontier.journal.close()

    # Killed before the seed's line was written: the seed is fetched again, and its
    # links are not taken twice (nor counted twice).
    again = following_frontier()
    replayed = replay(path, again, SeenUrls(), 0.0)
    assert replayed.links_taken == {seed}
    assert (again.taken, again.found, dict(again.dropped)) == (3, 2, {"scheme": 1})
    again.journal = Journal(os.open(path, os.O_WRONLY | os.O_APPEND), replayed.links_taken)
    refetch = again.next_ready(0.0)
    assert refetch.url == seed
    assert again.add_links(refetch, page(seed), found, 0.0) == []
    assert (again.taken, dict(again.dropped)) == (3, {"scheme": 1})
    queued = [again.next_ready(0.0).url for _ in range(2)]
    assert queued == [f"{SITE}/a", f"{SITE}/b"]


def test_what_has_its_line_is_not_queued_again(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    frontier = Frontier(robots_agent=None)
    frontier.journal = journal_at(path)
    for n in range(5):
        frontier.add_listed(Job(n + 1, f"{SITE}/{n}", ()), 0.0)
    frontier.journal.close()
    done = SeenUrls()
    for n in (0, 2, 3):
        done.add(f"{SITE}/{n}")
    again = Frontier(robots_agent=None)
    replayed = replay(path, again, done, 0.0)
    assert replayed.admitted_done == 3
    assert [again.next_ready(0.0).url for _ in range(2)] == [f"{SITE}/1", f"{SITE}/4"]
    assert again.next_ready(0.0) is None
    again.add_listed(Job(9, f"{SITE}/2", ()), 0.0)  # listed again: seen, one line
    assert again.next_ready(0.0) is None


def test_the_journal_holds_no_password(tmp_path: Path) -> None:
    """A URL that reaches the frontier with `user:password@` (a found link's) is
    journaled, and so replayed, without it."""
    path = tmp_path / "journal"
    secret = os.urandom(6).hex()
    url = f"http://user:{secret}@127.0.0.1:9/private"
    frontier = Frontier(robots_agent=None)
    frontier.journal = journal_at(path)
    frontier.add_listed(Job(7, url, ()), 0.0)
    frontier.journal.close()
    assert secret not in path.read_text()
    again = Frontier(robots_agent=None)
    replay(path, again, SeenUrls(), 0.0)
    assert again.next_ready(0.0).url == "http://127.0.0.1:9/private"


def test_entries_keep_depth_chain_and_scope_through_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    scope = make_scope("prefix", f"{SITE}/docs/")
    entry = Entry(f"{SITE}/docs/a", ("board",), FOUND, 0, 2, 5, 0, scope)
    frontier = following_frontier()
    frontier.journal = journal_at(path)
    frontier.journal.admitted(digest(entry.url), SITE, entry)
    frontier.journal.close()
    again = following_frontier()
    replay(path, again, SeenUrls(), 0.0)
    assert again.next_ready(0.0).entry == entry


def write_db(path: Path, *lines: str, ending: str = "\n") -> Path:
    path.write_text("\n".join(lines) + ending, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("lines", "ending", "expected"),
    [
        ([], "", None),
        (["url:<a> size:[1]"], "\n", None),
        (["run:<A> start v=1", "url:<a> size:[1]"], "\n", ("A", "start", False)),
        (["run:<A> start", "run:<A> end status=finished ok=1"], "\n", ("A", "end", True)),
        (["run:<A> start", "run:<A> end status=interrupted ok=1"], "\n", ("A", "end", False)),
        (["run:<A> start", "run:<A> end status=output-error"], "\n", ("A", "end", True)),
        (["run:<A> start", "run:<A> end status=finished", "run:<B> start"], "\n",
         ("B", "start", False)),
        (["run:<A> start", "run:<A> resume pid=2"], "\n", ("A", "resume", False)),
        (["run:<A> start", "run:<A> end status=fini"], "", ("A", "start", False)),  # torn end line
    ],
    ids=["empty", "no-run", "killed", "finished", "interrupted", "output-error", "next-run",
         "resumed", "torn-end"],
)  # fmt: skip
def test_the_last_run_and_whether_it_finished(
    tmp_path: Path, lines: list[str], ending: str, expected: tuple | None
) -> None:
    last = last_run(write_db(tmp_path / "db.txt", *lines, ending=ending))
    got = None if last is None else (last.run, last.event, last.finished)
    assert got == expected


def test_the_last_run_is_found_behind_many_blocks(tmp_path: Path) -> None:
    lines = ["run:<A> start"] + [f"url:<http://x/{n}> size:[{n}]" for n in range(20000)]
    assert last_run(write_db(tmp_path / "db.txt", *lines)).run == "A"


def test_what_a_run_has_done_counts_as_its_end_line_would(tmp_path: Path) -> None:
    db = write_db(
        tmp_path / "db.txt",
        "run:<OLD> start",
        "url:<http://x/old> size:[1]",
        "run:<OLD> end status=finished",
        "run:<A> start pid=1",
        "url:<http://x/1> size:[5]",
        "board:<http://x/1> {}",
        "url:<http://x/2> size:[5]",
        "error:<http://x/2> board: no entries found",
        "error:<http://x/3> HTTP 404",
        "error:<nope> line 7: not an http(s) URL",
        "run:<A> end status=interrupted ok=1",
        "run:<A> resume pid=2",
        "error:<http://x/4> timed out after 3 attempts",
        "url:<http://x/5> si",
        ending="",
    )
    start = find_start(db, "A", 0)
    assert start == len(
        b"run:<OLD> start\nurl:<http://x/old> size:[1]\nrun:<OLD> end status=finished\n"
    )
    done = read_done(db, "A", start)
    assert (done.ok, done.failed, done.bad_lines) == (1, 4, {7})
    assert dict(done.errors) == {"board: no entries found": 1, "HTTP 404": 1,
                                 "not an http(s) URL": 1, "timed out": 1}  # fmt: skip
    assert "http://x/1" in done.keys and "http://x/old" not in done.keys
    assert "http://x/5" not in done.keys  # its line was cut short: not written
    assert done.admitted == 4


@pytest.mark.parametrize(
    ("now", "said"),
    [
        ({}, None),
        ({"urls": {"path": "/b"}}, "the URL file was /a, now /b"),
        ({"urls": {"path": "/a", "size": 2}}, "the URL file /a changed since"),
        ({"options": {"--depth": 2}}, "--depth was inf, now 2"),
        ({"options": {"--sitemaps": True}}, "--sitemaps was not given, now given"),
        ({"options": {"--deny": ["x"]}}, "--deny was none, now x"),
        ({"options": {"[follow] table": "ff"}}, "the [follow] table of --config differs"),
    ],
)
def test_a_fingerprint_names_what_differs(now: dict, said: str | None) -> None:
    then = {
        "urls": {"path": "/a", "size": 1},
        "options": {"--depth": "inf", "--sitemaps": False, "--deny": [], "[follow] table": None},
    }
    merged = {"urls": now.get("urls", then["urls"]),
              "options": {**then["options"], **now.get("options", {})}}  # fmt: skip
    got = differences(then, merged)
    assert got == said if said is None else said in got


def test_a_url_file_read_far_ahead_of_the_pages_is_not_held_in_memory(tmp_path: Path) -> None:
    """Thousands of listed URLs taken while no page is done yet (a host held by its
    robots.txt): the journal writes them as they come, a commit at a time."""
    path = tmp_path / "journal"
    frontier = Frontier(robots_agent=None)
    frontier.journal = journal_at(path)
    for n in range(3 * FLUSH_AT):
        frontier.add_listed(Job(n + 1, f"{SITE}/{n}", ()), 0.0)
    groups = [records for _, records in committed_groups(path)]
    assert sum(len(records) for records in groups) >= 2 * FLUSH_AT


def test_a_robots_txt_read_before_the_kill_is_not_asked_for_again(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    frontier = Frontier(robots_agent="crawl")
    frontier.journal = journal_at(path)
    frontier.add_listed(Job(1, f"{SITE}/a", ()), 0.0)
    frontier.add_listed(Job(2, f"{SITE}/private/b", ()), 0.0)
    robots = frontier.next_ready(0.0)
    assert robots.kind == "robots"
    text = "User-agent: *\nDisallow: /private/\nCrawl-delay: 2\n"
    frontier.done(robots, Page(robots.url, 200, "text/plain", text, 0, 0, 1), 0.0)
    frontier.journal.close()

    again = Frontier(robots_agent="crawl")
    replay(path, again, SeenUrls(), 0.0)
    first = again.next_ready(100.0)
    assert (first.kind, first.url) == ("listed", f"{SITE}/a")  # no robots.txt first
    again.done(first, page(first.url), 100.0)
    assert again.next_ready(100.5) is None  # its Crawl-delay holds
    refused = again.next_ready(103.5)
    assert refused.reason == "disallowed by robots.txt"


def test_the_first_line_of_each_origin_and_the_first_with_a_password() -> None:
    origins = KnownOrigins()
    urls = ["http://a/1", "http://A/2", "http://u:p@a/3", "http://u:q@a/4", "http://a:80/5",
            "https://a/6", "http://b:8080/7", "http://b:8080/8"]  # fmt: skip
    assert [origins.first(url) for url in urls] == [True, False, True, False, False, True,
                                                    True, False]  # fmt: skip
