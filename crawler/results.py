"""What a finished fetch leads to, in the main process: the cookies kept, the
frontier told, the page's lines made, what it links to admitted, its lines written.

`Results.finished` decides, for each answer the pool sends back, in this order:
1. An answer that is neither a Page nor a Failure (a pool or task bug) is taken
   for `worker error: bad result TYPE`, as `run_task` says it.
2. The run's identity keeps the cookies the answer set (`crawler.identity`),
   before the host is free: the host's next fetch sends them.
3. The frontier settles the fetch (`Frontier.settle`): the site's rate learns
   from the answer and the host is free again, a robots.txt is read, a
   redirect's URLs are seen. A 429 or 503 the worker gave back may be queued
   again (no line now: its next answer gets it). A robots.txt fetch ends here:
   it has no line of its own.
4. The page's lines (`read_answer`): a Page's `url:` line and its parsers'
   records (or their `error:` lines), a Failure's `error:` line. A sitemap that
   cannot be read adds `error:<URL> sitemap: WHY`; links the worker could not
   take add `error:<URL> links: WHY`. A pipeline bug costs this page
   (`error:<URL> pipeline error: TYPE`), never the run.
5. What the page leads to is admitted: a sitemap's entries; or (when the run
   follows) the page's links as the worker took them, then those its parsers
   returned (taken like `a[href]` ones: a follow rule with its own selector does
   not see them), then those the JMESPath rules select in a JSON page.
6. Its lines are written, in one append, then counted and shown.

Links before lines: a page whose lines are in db.txt has had its links admitted,
which `--resume` relies on (`crawler.frontier.journal`, the order of writes).

Links are taken where the page is, in the worker (`crawler.fetching.worker`);
this process never reads a page's HTML for them. A worker that could not take
them sends why instead (`Page.links` is then a str): the page keeps its `url:`
line and records, gets `error:<URL> links: WHY` beside them, and counts as
failed, as a page whose parser failed does, so that no page's links go missing
without a word.

Called from the pool's callback thread, and from the main thread for refused
URLs and bad lines: every frontier call holds `lock` (the loop's), the counters
their own lock. Raises OutputError when db.txt cannot take the lines (the loop
stops the run); a rejected-log or reporter trouble is not the run's.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, TextIO

from crawler.frontier import ROBOTS, SITEMAP, Fetch, Frontier, Refused
from crawler.frontier.sitemaps import Sitemap, read_sitemap
from crawler.model import BadLine, Failure, Judged, Link, Page, Result, as_links
from crawler.page.json_links import json_links
from crawler.page.jsondoc import NotJSON
from crawler.page.links import NO_LINKS, PageLinks, with_more
from crawler.report import Reporter, Stats
from crawler.run_report import error_kind
from pipelines import parse_page, records_for
from pipelines.parsers import ParserPage
from pipelines.records import error_line, record_key
from pipelines.writer import Writer

if TYPE_CHECKING:
    from crawler.identity import Identity


class Outputs(NamedTuple):
    """Where a run's words go: db.txt's writer, the terminal's reporter, and the
    `--rejected-log` file (a line per link not followed; None: not kept)."""

    writer: Writer
    reporter: Reporter
    rejected_log: TextIO | None = None


class Answer(NamedTuple):
    """What a finished page makes: its lines, why it failed (None: it did not),
    and what its admission needs (the sitemap read, the parsers' links, the one
    view of the page its parsers and JSON links read, the records each parser
    made)."""

    lines: list[str]
    reason: str | None
    sitemap: Sitemap | None = None
    parser_links: Sequence[str] = ()
    view: ParserPage | None = None
    made: dict[str, int] | None = None
    dropped_items: int = 0


def read_answer(fetch: Fetch, result: Result, quiet: bool = False) -> Answer:
    """The lines of `result`, the answer to `fetch` (`result.url` is the entry's
    URL already); `quiet`: the page may end without a record or an `error:`
    line (`Frontier.ends_quietly`). Never raises."""
    url, parsers = result.url, fetch.entry.parsers if fetch.entry is not None else ()
    try:
        if not isinstance(result, Page):
            return Answer(*records_for(result, parsers))
        # One view of the page for its parsers and its JSON links: parsed once.
        view = ParserPage(result) if result.text is not None else None
        parsed = parse_page(result, parsers, view=view, quiet=quiet)
        lines, reason = parsed.lines, parsed.failure
        sitemap = None
        if fetch.kind == SITEMAP:
            sitemap = read_sitemap((result.text or "").encode("latin-1", "replace"))
            if sitemap.problem is not None:
                reason = f"sitemap: {sitemap.problem}"
                lines.append(error_line(url, reason))
        if isinstance(result.links, str):  # the worker could not take them: why
            lines.append(error_line(url, f"links: {result.links}"))
            reason = reason or f"links: {result.links}"
        made = parsed.records if parsers else None
        dropped = sum(parsed.dropped.values()) if parsed.dropped else 0
        return Answer(lines, reason, sitemap, parsed.links, view, made, dropped)
    except Exception as error:  # noqa: BLE001 - a pipeline bug costs this page, not the run
        reason = f"pipeline error: {type(error).__name__}"
        return Answer([error_line(url, reason)], reason)


class Results:
    """The main process's side of each finished fetch (see the module docstring)."""

    def __init__(
        self,
        frontier: Frontier,
        outputs: Outputs,
        lock: threading.Condition | threading.Lock,
        clock: Callable[[], float] = time.monotonic,
        identity: Identity | None = None,
        freed: Callable[[], None] | None = None,
    ) -> None:
        """`freed`: called under `lock` once the frontier has settled a fetch, its
        host free again, before the page's lines are made: whoever sends the next
        fetch need not wait for the parsers and the writer."""
        self.frontier = frontier
        self.outputs = outputs
        self.stats = Stats(following=frontier.following, dropped=frontier.dropped)
        self._lock = lock  # the frontier's: the loop holds it around its own calls
        self._counting = threading.Lock()  # the callback thread and the main thread count
        self._clock = clock
        self._identity = identity
        self._freed = freed

    def finished(self, fetch: Fetch, result: Result) -> None:
        """A fetch's answer, from its end at the frontier to its lines in db.txt."""
        if not isinstance(result, (Page, Failure)):  # a pool or task bug: said as run_task says
            result = Failure(fetch.url, f"worker error: bad result {type(result).__name__}", 1)
        if self._identity is not None:  # before the host is free: its next fetch sends them
            self._identity.absorb(result)
        with self._lock:
            settled, rejected = self.frontier.settle(fetch, result, self._clock())
            if self._freed is not None:
                self._freed()
        self._log_rejected(rejected, fetch.url)
        if settled is None:  # given back: sent again when its site allows, its line then
            return
        result, entry = settled, fetch.entry
        if fetch.kind == ROBOTS or entry is None:
            return
        result = result._replace(url=entry.url)
        answer = read_answer(fetch, result, self.frontier.ends_quietly(entry))
        if answer.dropped_items:
            with self._counting:
                self.stats.items_dropped += answer.dropped_items
        # The links first, then the lines (see the module docstring).
        if answer.sitemap is not None:
            with self._lock:
                rejected = self.frontier.add_sitemap(fetch, answer.sitemap, self._clock())
            self._log_rejected(rejected, entry.url)
        elif isinstance(result, Page) and self.frontier.follow.follows and fetch.links:
            self._admit_links(fetch, result, answer)
        self.record(entry.url, answer.lines, answer.reason, result)

    def refused(self, refused: Refused) -> None:
        """A URL robots.txt refuses: a URL of the run gets its `error:` line, a
        found link a line in the rejected log."""
        url = refused.entry.url
        if refused.recorded:
            self.record(url, [error_line(url, refused.reason)], refused.reason, None)
        else:
            self._log_rejected([(url, refused.counted or "robots")], "")

    def bad_line(self, bad: BadLine) -> None:
        """A URL file line that cannot be fetched: its `error:` line."""
        reason = f"line {bad.line}: {bad.reason}"
        self.record(bad.text, [error_line(bad.text, reason)], reason, None)

    def _admit_links(self, fetch: Fetch, page: Page, answer: Answer) -> None:
        """The page's links, its parsers', its JSON ones, to the frontier at once;
        it adds the next pages of the `next` rules, knowing the records each
        parser made."""
        found, judged = NO_LINKS, None
        if type(page.links) is Judged:  # taken and judged there (crawler.frontier.link_verdicts)
            judged = page.links
            found = PageLinks(judged.nofollow, [], [])
        elif isinstance(page.links, tuple):  # taken in the worker (crawler.fetching.worker)
            counts = list(page.links[2]) if len(page.links) == 3 else None
            found = PageLinks(page.links[0], as_links(page.links[1]), counts)
        extra: list[Link] = []
        if answer.parser_links:
            selectors = self.frontier.follow.selectors
            bits = sum(1 << n for n, selector in enumerate(selectors) if selector is None)
            extra = [Link(link, False, bits) for link in answer.parser_links]
        extra += self._json_links(page, answer.view)
        if extra:
            found = with_more(found, extra)
        with self._lock:
            rejected = self.frontier.add_links(
                fetch, page, found, self._clock(), answer.made, judged
            )
        self._log_rejected(rejected, fetch.url)

    def _json_links(self, page: Page, view: ParserPage | None) -> list[Link]:
        """What the `links = { jmespath }` rules select in a JSON page, read from the
        JSON its parsers read (parsed once, in this process, where they run)."""
        rules = self.frontier.follow.rules
        if view is None or not any(rule.jmespath for rule in rules) or not view.is_json:
            return []
        try:
            document = view.json
        except NotJSON:
            return []
        return json_links(rules, document, page.final_url or page.url)

    def _log_rejected(self, rejected: list[tuple[str, str]], parent: str) -> None:
        """One line per link not followed: reason, URL, and the page it was on."""
        log = self.outputs.rejected_log
        if log is None or not rejected:
            return
        text = "".join(
            f"{reason}\t{record_key(url)}\t{record_key(parent) if parent else '-'}\n"
            for url, reason in rejected
        )
        with self._counting, contextlib.suppress(OSError, ValueError):
            log.write(text)

    def record(self, url: str, lines: list[str], reason: str | None, result: Result | None) -> None:
        """Write a URL's lines in one append, then count and show it. Raises
        OutputError when they cannot be written (nothing is counted then)."""
        self.outputs.writer.append(lines)
        with self._counting:
            stats = self.stats
            if reason is None:
                stats.ok += 1
            else:
                stats.failed += 1
                stats.errors[error_kind(reason)] += 1
            if result is not None:
                stats.retried += getattr(result, "attempts", 1) > 1
                if getattr(result, "cached", False):
                    stats.unchanged += 1
                    stats.saved += result.nbytes
                else:
                    stats.bytes += getattr(result, "nbytes", 0)
        # The record is written: a reporter's or a terminal's trouble is not the run's.
        with contextlib.suppress(Exception):
            self.outputs.reporter.page(url, reason)
