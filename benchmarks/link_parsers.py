"""Which HTML parser the workers' link extraction should use: Lexbor (selectolax)
against lxml, on the same pages, the same links asked for.

    python benchmarks/link_parsers.py [--docs DIR] [--pages DIR ...] [--rounds 3]

For each page, CPU time of the two ways `crawler.page.links` can take its links:
`lexbor_links` (what a run without follow rules of their own selector uses) and
`lxml_links` (what a rule with its own CSS/XPath selector needs): the parse, one
pass over a, area, base and meta, each distinct href resolved once by the same
WHATWG resolver; and whether both find the same links: the same URLs, in the same
order, with the same nofollow, and the same page-wide nofollow. The pages: the
Python docs (`--docs`, Debian's python3.11-doc), and any folder given with
`--pages`, for instance Scrapy's link-extractor test pages
(tests/sample_data/link_extractor/ of github.com/scrapy/scrapy, BSD-licensed: not
copied here). Prints the best of `--rounds` rounds and every page that differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.model import Page  # noqa: E402
from crawler.page.links import PageLinks, lexbor_links, lxml_links  # noqa: E402

DOCS = Path("/usr/share/doc/python3.11/html")
SITE = "http://127.0.0.1:8000/"


def pages_of(folder: Path, prefix: str) -> list[Page]:
    found = []
    for path in sorted(folder.rglob("*.html")):
        url = prefix + path.relative_to(folder).as_posix()
        text = path.read_bytes().decode("utf-8", "replace")
        found.append(Page(url, 200, "text/html", text, len(text), len(text), 1))
    return found


def timed(ways: list, pages: list[Page], rounds: int) -> list[tuple[float, list[PageLinks]]]:
    """For each way: the least CPU seconds for all of `pages` over `rounds` (the ways
    alternate round by round, so a busier moment of the machine falls on both), and
    the links it found."""
    spent: list[list[float]] = [[] for _ in ways]
    found: list[list[PageLinks]] = [[] for _ in ways]
    for _ in range(rounds):
        for index, extract in enumerate(ways):
            started = time.process_time()
            found[index] = [extract(page, page.text) for page in pages]
            spent[index].append(time.process_time() - started)
    return [(min(times), links) for times, links in zip(spent, found, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--pages", type=Path, action="append", default=[])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sets = [(f"docs ({args.docs})", pages_of(args.docs, SITE))] if args.docs.is_dir() else []
    sets += [(str(folder), pages_of(folder, "http://example.com/")) for folder in args.pages]
    print(f"link extraction, CPU, best of {args.rounds} rounds, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
    for name, pages in sets:
        (lxml_s, lxml_found), (lexbor_s, lexbor_found) = timed(
            [lxml_links, lexbor_links], pages, args.rounds
        )
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
