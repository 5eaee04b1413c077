"""Links a parser returns are requested as a browser requests them: a crawl (with
--depth) of a page whose plugin returns hrefs no `<a>` holds, each WHATWG-resolved
against the page and sent to the 127.0.0.1 server exactly so. In the same crawl,
Scrapy's latin-1 page: a charset label that is no WHATWG label is skipped, as a
browser skips it, and the page's UTF-8 bytes give the link a browser requests."""

from __future__ import annotations

import html
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, crawl_command, crawl_env, write_urls
from tests.site_server import Site

PLUGIN = '''
def go(page):
    """The hrefs a page keeps in data-go attributes, which no <a href> shows."""
    return [], page.selector.css("[data-go]::attr(data-go)").getall()
'''

# (href the parser returns, the request target a browser sends; None: none is sent)
HREFS = [
    ("\\x", "/x"),
    ("/foo%", "/foo%"),
    ("x y", "/dir/x%20y"),
    ("/a/../b/./c", "/b/c"),
    ("/pipe|x", "/pipe|x"),
    ("/é", "/%C3%A9"),
    ("/%7e", "/%7e"),
    ("/q?a='b'&c=é", "/q?a=%27b%27&c=%C3%A9"),
    ("/z#frag", "/z"),
    ("  /trimmed\t", "/trimmed"),
    ("http://192.168.0.257/", None),  # a host a browser rejects: never requested
    ("#top", None),  # the page itself
    ("mailto:a@b.test", None),
]


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site().start()
    yield served
    served.stop()


def plugin_folder(tmp_path: Path) -> Path:
    """A distribution with one `crawl.parsers` entry point, as pip would leave it."""
    folder = tmp_path / "site-packages"
    info = folder / "crawl_test_go-1.0.dist-info"
    info.mkdir(parents=True)
    (folder / "crawl_test_go.py").write_text(PLUGIN, encoding="utf-8")
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: crawl-test-go\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[crawl.parsers]\ngo = crawl_test_go:go\n", encoding="utf-8"
    )
    return folder


def test_each_link_a_parser_returns_is_sent_as_a_browser_sends_it(
    tmp_path: Path, site: Site
) -> None:
    spans = "".join(f'<span data-go="{html.escape(href)}">{n}</span>' for n, (href, _) in
                    enumerate(HREFS))  # fmt: skip
    site.page("/dir/index.html", f"<!DOCTYPE html><html><body>{spans}</body></html>")
    # Scrapy's linkextractor_latin1.html: UTF-8 bytes served as `charset=latin-1`
    latin1 = '<html><body><a href="sample_ñ.html">ñ</a></body></html>'.encode()
    site.page("/latin1/index.html", latin1, "text/html; charset=latin-1")
    urls = write_urls(tmp_path / "urls.txt", f"{site.url('/dir/index.html')}  go",
                      site.url("/latin1/index.html"))  # fmt: skip
    env = crawl_env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(plugin_folder(tmp_path))])
    done = subprocess.run(
        crawl_command(str(urls), "--depth", "1", "--workers", "1", "--no-cache", "--no-progress",
                      "--output", str(tmp_path / "db.txt")),
        capture_output=True, text=True, timeout=90, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    expected = {target for _, target in HREFS if target is not None}
    expected.add("/latin1/sample_%C3%B1.html")  # not sample_%C3%83%C2%B1.html
    sent = set(site.targets) - {"/robots.txt", "/dir/index.html", "/latin1/index.html"}
    assert sent == expected
