"""Which HTML parser the workers' link extraction should use: lxml against
selectolax (the Lexbor engine), on the same pages, the same links asked for.

    python benchmarks/link_parsers.py [--docs DIR] [--pages DIR ...] [--rounds 3]

For each page: the time `crawler.page.links.extract_links` takes (lxml's parse,
one pass over a, area, base and meta, each href resolved by the WHATWG resolver),
and the time the same steps take with selectolax's Lexbor parser in place of
lxml (the resolving is the same code), and whether both find the same links:
the same URLs, in the same order, with the same nofollow, and the same page-wide
nofollow. The pages: the Python docs (`--docs`, Debian's python3.11-doc), and any
folder given with `--pages`, for instance Scrapy's link-extractor test pages
(tests/sample_data/link_extractor/ of github.com/scrapy/scrapy, BSD-licensed: not
copied here). Prints the medians of `--rounds` rounds and every page that differs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.model import Link, Page  # noqa: E402
from crawler.page.links import (  # noqa: E402
    PageLinks,
    _header_nofollow,
    _rel_nofollow,
    _says_nofollow,
    extract_links,
)
from crawler.page.resolve import LinkResolver, document_base  # noqa: E402

DOCS = Path("/usr/share/doc/python3.11/html")
SITE = "http://127.0.0.1:8000/"


def lexbor_links(page: Page, agent: str = "crawl") -> PageLinks:
    """`extract_links` for a run without follow rules, with selectolax's parser."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(page.text or "")
    anchors: list[tuple[object, str]] = []
    declared = nofollow = None
    for node in tree.css("a[href], area[href], base, meta"):
        tag = node.tag
        attributes = node.attributes
        if tag in ("a", "area"):
            anchors.append((attributes, attributes.get("href") or ""))
        elif tag == "base":
            if declared is None:
                declared = attributes.get("href")
        elif nofollow is None:
            name = (attributes.get("name") or "").strip().lower()
            if name in ("robots", agent) and _says_nofollow(attributes.get("content") or ""):
                nofollow = f'<meta name="{name}">'
    base = document_base(page.final_url or page.url, declared)
    nofollow = nofollow or _header_nofollow(page, agent)
    resolve = LinkResolver(base, page.encoding)
    return PageLinks(nofollow, [Link(resolve(href), _rel(attrs)) for attrs, href in anchors])


def _rel(attributes: dict) -> bool:
    rel = attributes.get("rel")
    return rel is not None and "nofollow" in rel.lower().split()


def pages_of(folder: Path, prefix: str) -> list[Page]:
    found = []
    for path in sorted(folder.rglob("*.html")):
        url = prefix + path.relative_to(folder).as_posix()
        text = path.read_bytes().decode("utf-8", "replace")
        found.append(Page(url, 200, "text/html", text, len(text), len(text), 1))
    return found


def timed(extract, pages: list[Page], rounds: int) -> tuple[float, list[PageLinks]]:
    """Median seconds for all of `pages`, and the links of the last round."""
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        found = [extract(page) for page in pages]
        spent.append(time.perf_counter() - started)
    return statistics.median(spent), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--pages", type=Path, action="append", default=[])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sets = [(f"docs ({args.docs})", pages_of(args.docs, SITE))] if args.docs.is_dir() else []
    sets += [(str(folder), pages_of(folder, "http://example.com/")) for folder in args.pages]
    assert _rel_nofollow is not None  # the lxml side's own rule, for the reader
    print(f"link extraction, median of {args.rounds} rounds, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
    for name, pages in sets:
        lxml_s, lxml_found = timed(extract_links, pages, args.rounds)
        lexbor_s, lexbor_found = timed(lexbor_links, pages, args.rounds)
        links = sum(len(found.links) for found in lxml_found)
        differ = [
            page.url
            for page, a, b in zip(pages, lxml_found, lexbor_found, strict=True)
            if (a.nofollow, a.links) != (b.nofollow, b.links)
        ]
        per = 1000 / len(pages)
        print(
            f"{name}: {len(pages)} pages, {links} links; lxml {lxml_s * per:.3f} ms a page, "
            f"selectolax {lexbor_s * per:.3f} ms a page ({lxml_s / lexbor_s:.2f}x); "
            f"pages whose links differ: {len(differ)}"
        )
        for url in differ[:10]:
            print(f"  differs: {url}")


if __name__ == "__main__":
    main()
