"""`crawl parse NAME PAGE`: try a parser on one page, as `scrapy parse` does.

    crawl parse quote saved/page-1.html --config crawl.toml
    crawl parse quote https://quotes.example/page/1 --config crawl.toml
    crawl parse board saved.html --content-type "text/html; charset=gbk" --url https://...
    crawl parse film saved/board.json --config crawl.toml      # read as application/json

- PAGE is a URL (http or https: fetched once, with the crawl's own fetch and the
  config's fetch options, headers, `[sites]` tables and cookie file, so a page
  behind a login can be tried; without the HTTP cache or robots.txt), or a
  saved file.
- A saved file is decoded exactly as a fetched page is (`crawler.page.decode`): as if
  the server had sent `--content-type`. Without it, a file named `.json` is taken as
  `application/json` and one named `.jsonld` as `application/ld+json`; any other has
  no Content-Type, which a browser, and the crawl, take as HTML (or as JSON when its
  text parses as JSON) and decode by BOM, `<meta>`, then detection.
- The records go to stdout one a line, exactly as `db.txt` would get them (the
  size line is not a parser's, so it is not printed). Their key is PAGE's URL, or
  `--url` for a saved file (default: its `file://` URL), against which `url = true`
  fields are made absolute.
- Exit 0 when the parser found records; 1 with the `error:` line when it found
  none, failed, or the fetch failed (a plugin's traceback then goes to stderr);
  2 when the command line, the config or PAGE is unusable.
- Items dropped for want of a `required` field are counted on stderr.
- PAGE may be a WARC archive (`crawl --warc`'s, or any `.warc.gz`/`.warc`): then
  every page it holds (each URL's last answer with a 2xx status, in the order the
  archive holds them) is decoded as the crawl decodes a fetched page, and the
  parser's records for each are printed; exit 0 when any page gave records.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crawler.model import Failure, Page, Result
from crawler.urls import check_url
from pipelines.records import error_line

EXIT_OK, EXIT_NOTHING, EXIT_UNUSABLE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crawl parse",
        description="Run one parser on one page (a saved file or a URL) and print the records "
        "it would write to db.txt, one a line. Exit 0 if it found records, 1 if not.",
    )
    parser.add_argument("name", metavar="NAME", help="the parser (crawl --list-parsers)")
    parser.add_argument("page", metavar="PAGE", help="a saved page, or an http(s) URL to fetch")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the crawl's TOML config: its [parsers.NAME] tables and fetch options",
    )
    parser.add_argument(
        "--content-type",
        default="",
        metavar="TYPE",
        help="for a saved file, the Content-Type a server would have sent "
        "(default: application/json for a .json file, else none: HTML, or JSON if it parses)",
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="for a saved file, the URL it was fetched from (default: its file:// URL)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from crawler.config import ConfigError, load, split_tables
    from pipelines.parsers import RegistryError, build

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        content = load(args.config) if args.config is not None else {}
        options, tables = split_tables(content)
        registry = build(tables.get("parsers"), args.config)
    except (ConfigError, RegistryError) as error:
        parser.error(str(error))
    for problem in registry.problems:
        print(f"crawl parse: {problem}", file=sys.stderr)
    problem = registry.problem(args.name)
    if problem is not None:
        parser.error(problem)
    if args.page.endswith(ARCHIVE_SUFFIXES) and Path(args.page).is_file():
        return parse_archive(Path(args.page), args.name, registry)
    if check_url(args.page) is None:
        from crawler.identity import IdentityError

        try:
            result = fetch_page(args.page, options, tables, args.config)
        except ConfigError as error:
            parser.error(str(error))
        except IdentityError as error:
            print(f"crawl parse: {error}", file=sys.stderr)
            return EXIT_UNUSABLE
    else:
        path = Path(args.page)
        content_type = args.content_type or guess_content_type(path)
        result = read_page(path, args.url, content_type, parser)
    if isinstance(result, Failure):
        print(error_line(result.url, result.reason))
        return EXIT_NOTHING
    return EXIT_NOTHING if show(registry, result, args.name) else EXIT_OK


def show(registry: Any, page: Page, name: str) -> bool:
    """Print the records parser `name` makes of `page`, and what it dropped or
    raised on stderr; whether it failed (found nothing, or raised)."""
    parsed = registry.records(page, (name,))
    if parsed.lines:
        print("\n".join(parsed.lines))
    for (_, field), count in parsed.dropped.items():
        items = "item" if count == 1 else "items"
        print(f"crawl parse: {count} {items} dropped: no {field}", file=sys.stderr)
    for parser_name, error in parsed.errors:
        print(f"crawl parse: {parser_name} raised:", file=sys.stderr)
        traceback.print_exception(error, file=sys.stderr)
    return bool(parsed.failure)


ARCHIVE_SUFFIXES = (".warc.gz", ".warc")


def parse_archive(path: Path, name: str, registry: Any) -> int:
    """Parser `name` over every page of the archive at `path` (see the module's
    docstring)."""
    from crawler.archive.replay import build_index

    def warn(line: str) -> None:
        print(line.replace("crawl: --replay:", "crawl parse:", 1), file=sys.stderr)

    index = build_index([path], warn)
    found = False
    for url in index.where:
        page = archived_page(index, url)
        if page is not None:
            found = not show(registry, page, name) or found
    return EXIT_OK if found else EXIT_NOTHING


def archived_page(index: Any, url: str) -> Page | None:
    """The page the archive holds for `url`, decoded as a fetched page is; None when
    its answer is not a 2xx or its body cannot be decoded."""
    import math

    from crawler.fetching.body import TooLarge, read_body
    from crawler.fetching.transports.base import BytesResponse, Headers, Request, TransportError
    from crawler.page.decode import page_text

    stored = index.load(url)
    if stored is None or not 200 <= stored.status < 300:
        return None
    headers = Headers(stored.headers)
    answer = BytesResponse(Request(url, Headers()), stored.status, headers, stored.body)
    try:
        body = read_body(answer, 1 << 40, math.inf)
    except (TooLarge, TransportError):
        return None
    content_type = headers.get("Content-Type") or ""
    text, encoding = page_text(body, content_type)
    size = len(text) if text is not None else len(body)
    kept = tuple(sorted((key.lower(), value) for key, value in stored.headers
                        if key.lower() != "set-cookie"))  # fmt: skip
    return Page(url, stored.status, content_type, text, size, len(body), 1, headers=kept,
                encoding=encoding)  # fmt: skip


GUESSED_TYPES = {".json": "application/json", ".jsonld": "application/ld+json"}


def guess_content_type(path: Path) -> str:
    """The Content-Type a saved file is read with when none is given: JSON by its
    name's extension (any case), else none (the page decides, as a server's would)."""
    return GUESSED_TYPES.get(path.suffix.lower(), "")


def read_page(
    path: Path, url: str | None, content_type: str, parser: argparse.ArgumentParser
) -> Page:
    """A saved page, decoded as a fetched one is (`crawler.fetching.fetch.fetch_once`)."""
    from crawler.page.decode import page_text

    try:
        body = path.read_bytes()
    except OSError as error:
        parser.error(f"cannot read {path}: {error.strerror}")
    if url is not None and check_url(url) is not None:
        parser.error(f"--url: {check_url(url)}")
    text, encoding = page_text(body, content_type)
    size = len(text) if text is not None else len(body)
    headers = (("content-type", content_type),) if content_type else ()
    return Page(
        url or path.resolve().as_uri(), 200, content_type, text, size, len(body), 1,
        headers=headers, encoding=encoding,
    )  # fmt: skip


def fetch_page(
    url: str, options: dict[str, Any], tables: dict[str, Any], config: Path | None
) -> Result:
    """`url` fetched as the crawl fetches it, with the config's fetch options and
    what it says to send (`header`, `cookies`, `[sites]`: `crawler.identity`,
    whose IdentityError this raises)."""
    import os

    from crawler.cli import build_parser as crawl_parser
    from crawler.config import defaults_from
    from crawler.fetching.fetch import fetch, make_transport
    from crawler.identity import build_identity
    from crawler.model import Job
    from crawler.settings import FetchSettings

    defaults = defaults_from(crawl_parser(), options, config.parent if config else Path.cwd())
    names = {field.name for field in dataclasses.fields(FetchSettings)} - {"cache_path"}
    settings = FetchSettings(**{key: value for key, value in defaults.items() if key in names})
    identity = build_identity(
        defaults.get("header") or (),
        tables.get("sites"),
        defaults.get("cookies"),
        os.environ,
        lambda line: print(line.replace("crawl:", "crawl parse:", 1), file=sys.stderr),
    )
    (job,) = identity.listed([Job(0, url, ())])
    transport = make_transport(settings, pool_size=1)
    try:
        return fetch(transport, job.url, settings, credentials=identity.for_fetch(job.url))
    finally:
        transport.close()
