"""A small plugin distribution, built by the tests as a wheel and installed with pip
into a folder of its own (put on PYTHONPATH for the crawl under test): the way a user's
`pip install crawl-something` reaches `importlib.metadata`, without the network."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

NAME, VERSION = "crawl-test-plugins", "0.3"
MODULE = "crawl_test_plugins"

SOURCE = '''
"""Parsers for crawl's tests."""

CONSTANT = 3


def quotes(page):
    """The quotes of tests/pages/quotes.html, with parsel."""
    for quote in page.selector.css("div.quote"):
        author = quote.css("small.author::text").get("").strip()
        if author:
            yield {"text": quote.css("span.text::text").get(), "author": author}


def soup_quotes(page):
    """The same records, with BeautifulSoup."""
    for quote in page.soup().select("div.quote"):
        author = quote.select_one("small.author").get_text(strip=True)
        if author:
            yield {"text": quote.select_one("span.text").get_text(), "author": author}


def linked(page):
    """Records and links: a pair."""
    links = page.selector.css("li.next a::attr(href)").getall()
    return [{"title": page.selector.css("title::text").get()}], links


def about(page):
    """One dict alone is one record."""
    return {
        "status": page.status,
        "type": page.headers["CONTENT-TYPE"],
        "final": page.final_url,
        "chars": len(page.text),
    }


def explode(page):
    raise ValueError("no price on\\nthis page")


def half(page):
    yield {"first": 1}
    raise KeyError("second")


def not_json(page):
    return [{"tags": {"a", "b"}}]


def nothing(page):
    return None
'''

ENTRY_POINTS = {
    "quotes": "quotes",
    "soup_quotes": "soup_quotes",
    "linked": "linked",
    "about": "about",
    "explode": "explode",
    "half": "half",
    "not_json": "not_json",
    "nothing": "nothing",
    "notfunc": "CONSTANT",
}
BROKEN = "crawl_test_missing:parse"  # the entry point `broken`: a module that is not there


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(folder: Path) -> Path:
    info = f"{MODULE}-{VERSION}.dist-info"
    points = "".join(f"{name} = {MODULE}:{target}\n" for name, target in ENTRY_POINTS.items())
    points += f"broken = {BROKEN}\nBad-Name = {MODULE}:quotes\nboard = {MODULE}:quotes\n"
    files = {
        f"{MODULE}.py": SOURCE,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": "[crawl.parsers]\n" + points,
    }
    encoded = {name: text.encode() for name, text in files.items()}
    record = "".join(f"{name},{_hash(data)},{len(data)}\n" for name, data in encoded.items())
    encoded[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    wheel = folder / f"{MODULE}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in encoded.items():
            archive.writestr(name, data)
    return wheel


def install(folder: Path) -> Path:
    """Build the wheel in `folder` and pip-install it into `folder/site`; returns that."""
    site = folder / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--target", str(site), str(build_wheel(folder))],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return site
