"""Plugins: a small distribution the tests build and pip-install (tests/plugin_dist.py),
seen by the real `crawl` through importlib.metadata: its parsers' records, a parser
that raises, one that does not import, --list-parsers, and the names they may take.
Then what a plugin's return value may be, in-process."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from crawler.model import Page
from pipelines import parse_page
from pipelines.parsers import Parser, ParserPage, RegistryError, build
from pipelines.parsers.plugins import read_result, runner
from pipelines.records import read_line
from tests import plugin_dist
from tests.conftest import ROOT, crawl_command, crawl_env, write_urls
from tests.server import TestServer

ORIGIN = f"plugin {plugin_dist.NAME} {plugin_dist.VERSION}"
QUOTES = [
    {"text": "“The world as we have created it is a process of our thinking.”",
     "author": "Albert Einstein"},
    {"text": "“It is our choices, Harry, that show what we truly are, far more than our "
     "abilities.”", "author": "J.K. Rowling"},
]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plugin_dist.install(tmp_path_factory.mktemp("plugin"))


def crawl(site: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = crawl_env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(site)])
    return subprocess.run(
        crawl_command(*args), capture_output=True, text=True, timeout=90, env=env, cwd=cwd
    )


def db_records(db: Path) -> list[tuple[str, str, str]]:
    lines = db.read_text("utf-8").splitlines()
    return [tuple(read_line(line)) for line in lines if not line.startswith("run:")]


def test_list_parsers_names_each_with_where_it_comes_from(site: Path, tmp_path: Path) -> None:
    config = tmp_path / "crawl.toml"
    config.write_text('[parsers.title]\n[parsers.title.fields]\ntitle = "title::text"\n')
    result = crawl(site, "--list-parsers", "--config", str(config))
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: " ".join(line.split()[1:]) for line in result.stdout.splitlines()}
    assert lines["board"].startswith("built-in")
    assert lines["title"] == f"config {config}"
    assert lines["quotes"] == f"{ORIGIN} (crawl_test_plugins:quotes)"
    assert lines["broken"] == (
        f"{ORIGIN} (crawl_test_missing:parse): did not load: "
        "ModuleNotFoundError: No module named 'crawl_test_missing'"
    )
    assert lines["notfunc"].endswith(
        "did not load: crawl_test_plugins:CONSTANT is not callable (int)"
    )
    assert "Bad-Name" not in lines  # not a name a line could ask for
    assert list(lines)[:2] == ["board", "quotes"]  # built-ins, plugins, then the config's


def test_a_crawl_writes_plugin_records_and_an_error_line_for_one_that_raises(
    site: Path, server: TestServer, tmp_path: Path
) -> None:
    quotes = server.url("/pages/quotes.html")
    other = server.url("/page/a")
    urls = write_urls(
        tmp_path / "urls.txt",
        f"{quotes}  quotes,explode,about",
        f"{quotes}?again  soup_quotes,half,not_json,nothing",
        f"{other}  linked",
    )
    db = tmp_path / "db.txt"
    result = crawl(site, str(urls), "--output", str(db), "--workers", "1")
    assert result.returncode == 1, result.stderr  # the pages whose parser failed count as failed
    lines = db_records(db)
    by_kind: dict[str, list] = {}
    for kind, key, rest in lines:
        by_kind.setdefault(kind, []).append((key, rest))
    assert [json.loads(rest) for key, rest in by_kind["quotes"]] == QUOTES
    assert [json.loads(rest) for key, rest in by_kind["soup_quotes"]] == QUOTES
    ((_, about),) = by_kind["about"]
    assert json.loads(about) == {
        "status": 200, "type": "text/html", "final": quotes, "chars": len(
            (ROOT / "tests" / "pages" / "quotes.html").read_text("utf-8"))
    }  # fmt: skip
    assert by_kind["linked"] == [(other, '{"title": "a"}')]
    errors = sorted(rest for _, rest in by_kind["error"])
    assert errors == [
        "explode: ValueError: no price on this page",
        "half: KeyError: 'second'",  # what it yielded before it raised is not written
        "not_json: TypeError: Object of type set is not JSON serializable",
        "nothing: no entries found",
    ]
    assert len(by_kind["url"]) == 3  # every page fetched and summed up: the run went on
    # The plugins that cannot run are said once each, at start-up.
    assert result.stderr.count("did not load") == 2
    assert f"crawl: parser 'broken': {ORIGIN} (crawl_test_missing:parse): did not load: " in (
        result.stderr
    )
    assert "crawl: parser 'Bad-Name': " in result.stderr
    assert "crawl: parser 'board': " in result.stderr and "the built-in parser's" in result.stderr


def test_a_plugin_named_like_the_built_in_does_not_replace_it(
    site: Path, server: TestServer, tmp_path: Path
) -> None:
    urls = write_urls(tmp_path / "urls.txt", f"{server.url('/board/')}  board")
    db = tmp_path / "db.txt"
    result = crawl(site, str(urls), "--output", str(db), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(db_records(db)[1][2])["title"] == "霸王别姬"


def test_parse_naming_a_plugin_that_did_not_load_exits_2_before_fetching(
    site: Path, server: TestServer, tmp_path: Path
) -> None:
    urls = write_urls(tmp_path / "urls.txt", server.url("/page/a"))
    db = tmp_path / "db.txt"
    result = crawl(site, str(urls), "--output", str(db), "--parse", "quotes,broken")
    assert result.returncode == 2
    assert "--parse: parser broken cannot run: " in result.stderr
    assert "ModuleNotFoundError" in result.stderr
    assert server.count("/page/a") == 0 and not db.exists()


def test_a_url_line_naming_a_plugin_that_did_not_load_stops_the_run_there(
    site: Path, server: TestServer, tmp_path: Path
) -> None:
    urls = write_urls(
        tmp_path / "urls.txt",
        server.url("/page/a"),
        f"{server.url('/page/b')}  quotes,broken",
        server.url("/page/c"),
    )
    db, stats = tmp_path / "db.txt", tmp_path / "stats.json"
    result = crawl(site, str(urls), "--output", str(db), "--workers", "1", "--stats", str(stats))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(stats.read_text("utf-8"))
    assert (report["status"], report["exit"]) == ("stopped", 2)
    assert f"crawl: {urls} line 2: parser broken cannot run: " in result.stderr
    assert "stopped reading the URL file there" in result.stderr
    assert server.count("/page/b") == 0 and server.count("/page/c") == 0
    text = db.read_text("utf-8")
    assert f"url:<{server.url('/page/a')}>" in text  # what came before is kept
    assert " end status=stopped " in text


def test_a_declared_parser_may_not_take_a_plugin_s_name(site: Path, tmp_path: Path) -> None:
    config = tmp_path / "crawl.toml"
    config.write_text('[parsers.quotes]\n[parsers.quotes.fields]\ntitle = "title::text"\n')
    result = crawl(site, "u.txt", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"crawl: error: config {config}: parser 'quotes': the name is taken by the "
        f"{ORIGIN} (crawl_test_plugins:quotes); rename [parsers.quotes]"
    )


def test_crawl_parse_shows_a_plugin_s_traceback_on_stderr(site: Path) -> None:
    page = ROOT / "tests" / "pages" / "quotes.html"
    result = crawl(site, "parse", "explode", str(page), "--url", "https://q.example/")
    assert result.returncode == 1
    assert (
        result.stdout == "error:<https://q.example/> explode: ValueError: no price on this page\n"
    )
    assert "Traceback (most recent call last)" in result.stderr
    assert 'raise ValueError("no price on\\nthis page")' in result.stderr
    result = crawl(site, "parse", "soup_quotes", str(page), "--url", "https://q.example/")
    assert result.returncode == 0, result.stderr
    assert [json.loads(read_line(line).rest) for line in result.stdout.splitlines()] == QUOTES


# -- in-process: the registry with plugins given, and what a plugin may return ------------

URL = "https://shop.example/list/"
TEXT = '<html><body><a href="/p/1">one</a><a href="https://else.example/x">x</a></body></html>'


def view() -> ParserPage:
    return ParserPage(Page(URL, 200, "text/html", TEXT, len(TEXT), len(TEXT), 1))


def plugin(name: str, function) -> Parser:
    return Parser(name, f"plugin test 1.0 (tests:{name})", runner(function))


@pytest.mark.parametrize(
    ("returned", "records", "links"),
    [
        ([{"a": 1}, {"a": 2}], [{"a": 1}, {"a": 2}], []),
        (iter([{"a": 1}]), [{"a": 1}], []),
        ({"a": 1}, [{"a": 1}], []),  # one dict alone is one record
        (None, [], []),
        (({"a": 1}, {"a": 2}), [{"a": 1}, {"a": 2}], []),  # a tuple of two dicts: records
        (([{"a": 1}], ["/p/2", "https://x.example/"]), [{"a": 1}],
         ["https://shop.example/p/2", "https://x.example/"]),  # (records, links): absolute
        (([], ["next"]), [], [f"{URL}next"]),
    ],
)  # fmt: skip
def test_what_a_plugin_may_return(returned, records, links) -> None:
    output = read_result(returned, view())
    assert (list(output.records), output.links) == (records, links)


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (["text"], "record 1 is a str, not a dict"),
        ([{"a": 1}, 3], "record 2 is a int, not a dict"),
        (([{"a": 1}], [3]), "a link is a str, not a int"),
    ],
)
def test_a_plugin_result_that_is_not_records_is_a_type_error(returned, message) -> None:
    with pytest.raises(TypeError, match=message):
        read_result(returned, view())


def test_links_alone_are_not_no_entries_and_every_error_stays_on_one_line() -> None:
    def links_only(page):
        return [], ["next"]

    def long_message(page):
        raise RuntimeError("x" * 2000 + "\n\u2028tail")

    registry = build(plugins=lambda: [plugin("nav", links_only), plugin("long", long_message)])
    page = Page(URL, 200, "text/html", TEXT, len(TEXT), len(TEXT), 1)
    parsed = parse_page(page, ("nav", "long"), registry)
    assert parsed.links == ["https://shop.example/list/next"]
    (line,) = parsed.lines[1:]
    assert line.startswith(f"error:<{URL}> long: RuntimeError: xxx") and line.endswith("...")
    assert len(line) < 600 and len(line.splitlines()) == 1
    assert parsed.failure == line.split("> ", 1)[1]


def test_two_distributions_installing_one_name_make_it_unusable() -> None:
    first = Parser("price", "plugin a 1.0 (a:parse)", runner(lambda page: []))
    second = Parser("price", "plugin b 2.0 (b:parse)", runner(lambda page: []))
    registry = build(plugins=lambda: [first, second])
    assert registry.problem("price") == "parser price cannot run: installed twice"
    assert registry.problems == [
        "parser 'price': plugin a 1.0 (a:parse) and plugin b 2.0 (b:parse): installed twice"
    ]


def test_plugin_names_that_would_break_a_line_are_refused() -> None:
    named = [plugin(name, lambda page: []) for name in ("url", "error", "run", "Price", "a-b")]
    registry = build(plugins=lambda: named)
    assert list(registry) == ["board"]
    assert len(registry.problems) == 5


def test_a_config_naming_a_plugin_s_name_is_a_registry_error() -> None:
    tables = {"price": {"fields": {"p": "p::text"}}}
    with pytest.raises(RegistryError, match=r"the name is taken by the plugin test 1\.0"):
        build(tables, "c.toml", plugins=lambda: [plugin("price", lambda page: [])])
