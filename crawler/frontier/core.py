"""The frontier: every URL the run will fetch waits here until politeness lets it go.

Fed alike by the URL file (`add_listed`), the links found on pages (`add_links`)
and the sitemaps (`add_sitemap`); the dispatch loop asks `next_ready(now)` for the
next fetch and reports each result with `done`. Not thread-safe: the loop holds
its lock around every call. Pure and clock-driven: no I/O but the spill.

- Dedupe (`crawler.frontier.seen`): each URL is taken once a run. Without following
  (`--depth 0`, no `--sitemaps`) the key is the URL as written, as it always was;
  with following it is the canonical key (`crawler.frontier.canonical`), and the
  URLs a fetch was redirected through are marked seen too. The first occurrence
  wins: a URL both listed and found gets one record, with the first one's parsers.
- Memory is bounded: at most `lookahead` entries are queued in memory, at most a
  tenth of that for one host; the rest of a host waits on disk, in order
  (`crawler.frontier.spill`), and comes back as soon as that host has room. So a
  host with a million URLs neither fills memory nor hides the others, and each
  host is served breadth first (its entries leave in the order they came).
- The robots gate (`crawler.frontier.robots`): the first URL of a host holds that
  host and asks for its `/robots.txt`, which goes out before any queued page;
  `done` reads it and lets the host go. A URL it refuses comes out of
  `next_ready` as `Refused`: a URL of the run (listed, from a sitemap) gets its
  `error:` line, a found link is counted `robots`. With `--sitemaps` the
  robots.txt of each listed host is read for its `Sitemap:` lines, even with
  `--ignore-robots` (then for those lines only).
- Which found links are taken (`crawler.frontier.policy`): the scope of the listed
  URL each descends from, the follow rules, the depth; then `seen` and the
  budgets (`--max-pages`, counting every URL taken, though listed URLs are never
  cut; 1,000 links taken from one page). Every link not taken is counted in
  `dropped` by reason, and listed in the return value when `keep_rejected`.
  What does not depend on the run's state (all but `seen` and the budgets) is
  judged in the worker, where the page is, when it can be
  (`crawler.frontier.link_verdicts`; `Fetch.judge` says what by): this process
  then only dedupes by the keys' digests the worker sent, and queues.
- API pagination (`crawler.frontier.pagination`): with a `next` rule, a page's
  next page (its Link header's, or its URL with a query parameter advanced) is a
  link of the page, judged like the others; the rule that took an entry is kept
  with it (`Entry.rule`) with its `chain` of pagination hops, so the last page of
  a chain paged by a parameter can end it without an `error:` line (`ends_quietly`).
- A sitemap (`--sitemaps`) is a URL of the run, fetched like a page; the sitemaps
  of an index are taken up to `MAX_LEVELS` deep (`depth` past it), the run's
  dedupe being the visited set; its entries pass the scope of the listed URL
  whose host named it and the patterns, then are URLs of the run at depth 0.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from crawler.frontier.canonical import canonical_key
from crawler.frontier.entry import FOUND, LISTED, MAPPED, ROBOTS, SITEMAP, Entry
from crawler.frontier.link_verdicts import onward
from crawler.frontier.pagination import next_links
from crawler.frontier.policy import Checked, FollowPolicy
from crawler.frontier.politeness import Answer, HostQueues
from crawler.frontier.robots import (
    ROBOTS_MAX_BYTES,
    Robots,
    interpret,
    robots_url,
    what_was_read,
)
from crawler.frontier.scope import Scope, ignored_extension, make_scope
from crawler.frontier.seen import SeenUrls, digest
from crawler.frontier.sitemaps import MAX_LEVELS, Sitemap
from crawler.frontier.spill import Spill
from crawler.model import Failure, FetchPolicy, Job, Judged, Link, Page, Result
from crawler.page.links import PageLinks, with_more
from crawler.page.resolve import resolve_link as resolve
from crawler.urls import host_key, record_key, redact_url

if TYPE_CHECKING:
    from crawler.frontier.journal import Journal

PRIVATE_REFUSAL = "refused: private address"  # how the worker's guard answers
CHECKED_KEPT = 8192  # links whose URL-and-scope checks are kept (a few MB at most)


class Fetch(NamedTuple):
    """A fetch for the pool: `kind` is ROBOTS or the kind of `entry`."""

    kind: str
    url: str
    host: str
    entry: Entry | None = None  # None for a robots.txt
    max_bytes: int | None = None  # a lower size cap (robots.txt)
    policy: FetchPolicy | None = None  # None for a listed URL: nothing to check
    raw: bool = False  # the body as bytes (a sitemap, which may be gzip)
    links: bool = True  # its links may lead on (FollowPolicy.leads_on): take them
    sent: float = -math.inf  # when it was handed out (the frontier's clock)
    # what the worker judges the page's links by (crawler.frontier.link_verdicts.Context,
    # as a plain tuple); None: they are judged here
    judge: tuple | None = None
    # the page's text is wanted back: its parsers (or the run's JSON link rules) read
    # it; False: the worker sends the page without it (the `url:` line needs its size)
    text: bool = True


class Refused(NamedTuple):
    """A URL robots.txt refuses: one of the run (listed, a sitemap or an entry of
    one) gets an `error:` line with `reason`; a found link was counted in `dropped`
    under `counted` (`robots`, or `private-address` when the guard refused the
    host's robots.txt), and has no line."""

    entry: Entry
    host: str
    reason: str
    counted: str | None = None

    @property
    def recorded(self) -> bool:
        return self.counted is None


Rejected = list[tuple[str, str]]  # (URL, reason) of links not taken


class Frontier:
    def __init__(
        self,
        hosts: HostQueues[Entry] | None = None,
        *,
        robots_agent: str | None = None,
        lookahead: int = 10_000,
        follow: FollowPolicy | None = None,
        sitemaps: bool = False,
        keep_rejected: bool = False,
        attempts: int = 3,
    ) -> None:
        """`robots_agent`: the User-Agent robots.txt is read for, None to ignore
        robots.txt; `follow`: what found links to take (None: follow nothing);
        `attempts`: how often a URL is sent while its site says slow down."""
        self.hosts: HostQueues[Entry] = hosts or HostQueues(per_host=4)
        self.robots_agent = robots_agent
        self.lookahead = max(1, lookahead)
        self.share = max(1, self.lookahead // 10)
        self.follow = follow if follow is not None else FollowPolicy()
        self.sitemaps = sitemaps
        self.following = self.follow.follows or sitemaps
        self.keep_rejected = keep_rejected
        # The worker judges a page's links (crawler.frontier.link_verdicts) unless each
        # link dropped is to be listed with its reason.
        self.judges_in_worker = self.follow.follows and not keep_rejected
        self._json_rules = any(rule.jmespath is not None for rule in self.follow.rules)
        self.attempts = max(1, attempts)
        self._tries: dict[str, int] = {}  # URL -> its 429/503 answers, while it is sent again
        self._robots_later: list[Fetch] = []  # robots.txt fetches given back: after the pause
        self._key = canonical_key if self.following else str
        self.seen = SeenUrls()
        self.spill = Spill()
        self.dropped: Counter[str] = Counter()
        self.taken = 0  # URLs taken into the run, listed ones included (--max-pages)
        self.found = 0  # of them, found links and sitemap entries
        self.lost = 0  # entries the disk failed to give back
        self._backlog: deque[str] = deque()  # hosts with entries on disk
        self._in_backlog: set[str] = set()
        self._robots: dict[str, Robots] = {}
        self._robots_asked: set[str] = set()
        self._robots_wanted: deque[Fetch] = deque()
        self._sitemap_scope: dict[str, Scope | None] = {}  # listed hosts, for --sitemaps
        self._sitemapped: set[str] = set()
        self._checked: dict[tuple[str, Scope], Checked] = {}
        self._digests: dict[str, tuple[int, int]] = {}  # a found URL's key's digest
        self._policies: dict[tuple[str, Scope | None, bool], FetchPolicy] = {}
        # With --resume, what is admitted and decided is written here as it happens
        # (crawler.frontier.journal), and `readmit` rebuilds the frontier from it.
        self.journal: Journal | None = None

    # -- what the loop asks ---------------------------------------------------------
    @property
    def queued(self) -> int:
        return self.hosts.queued

    @property
    def waiting(self) -> int:
        """URLs taken and not yet handed out: queued in memory or spilled to disk."""
        return self.hosts.queued + self.spill.count

    def wants_listed(self) -> bool:
        """Whether the loop should read the next line of the URL file now."""
        return self.hosts.queued < self.lookahead

    def pending(self) -> bool:
        """Whether anything is still to be handed out (or waits for a host's turn)."""
        return bool(
            self.hosts.queued or self.spill.count or self._robots_wanted or self._robots_later
        )

    def next_ready_at(self) -> float | None:
        times = [self.hosts.free_at(fetch.host) for fetch in self._robots_later]
        ready_at = self.hosts.next_ready_at()
        if ready_at is not None:
            times.append(ready_at)
        return min(times, default=None)

    def robots_wanted(self) -> bool:
        return bool(self._robots_wanted or self._robots_later)

    def close(self) -> None:
        self.spill.close()

    # -- intake -------------------------------------------------------------------
    def add_listed(self, job: Job, now: float) -> bool:
        """Take a line of the URL file; False if there is no room for it yet (the
        disk refused the spill): offer it again later."""
        scope = make_scope(self.follow.scope, job.url) if self.following else None
        entry = Entry(job.url, job.parsers, LISTED, job.line, scope=scope)
        return self._take(entry, now) != _WAIT

    def add_links(
        self,
        fetch: Fetch,
        page: Page,
        found: PageLinks,
        now: float,
        records: Mapping[str, int] | None = None,
        judged: Judged | None = None,
    ) -> Rejected:
        """Take the links found on the page `fetch` got (see crawler.frontier.policy):
        first those the worker judged (`judged`, `crawler.frontier.link_verdicts`),
        then `found`, and the next pages its `next` rules give
        (`crawler.frontier.pagination`; `records`: how many records each parser that
        ran on the page made), judged here."""
        entry = fetch.entry
        rejected: Rejected = []
        if entry is None or entry.scope is None or not self.follow.follows:
            return rejected
        scope = entry.scope
        if entry.kind == LISTED and page.redirects:  # the seed's own redirects widen its scope
            scope = scope.with_redirects(page.redirects)
        journal = self.journal
        if journal is not None and not journal.begin("p", page_key(entry.url), self.dropped):
            return rejected  # taken before the run was killed, with their counts
        try:
            taken = 0 if judged is None else self._take_judged(entry, scope, judged, now)
            if self.follow.pages_next:
                paged, stops = self._next_pages(entry, page, records)
                found = with_more(found, paged)
                for url, reason in stops:
                    self._note(url, reason, rejected)
            self._take_links(entry, scope, found, now, rejected, taken)
        finally:
            if journal is not None:
                journal.end(self.dropped)
        return rejected

    def _take_judged(self, entry: Entry, scope: Scope, judged: Judged, now: float) -> int:
        """Take the links the worker judged: what only this process knows (seen, the
        budgets, the queues) decides on those that passed; the rest are counted as
        the worker said. Returns how many were taken (toward the page's budget,
        which no link of a judged page can meet before its last)."""
        dropped, seen, follow = self.dropped, self.seen, self.follow
        for reason, count in judged.dropped:
            dropped[reason] += count
        taken = again = 0
        for url, high, low, origin, rule, count in judged.passed:
            pair = (high, low)
            if seen.has_digest(pair):
                again += count
                continue
            depth, chain = onward(follow, entry.depth, entry.chain, rule)
            parsers = follow.rules[rule].parse if rule >= 0 else ()
            child = Entry(url, parsers, FOUND, 0, depth, chain, 0, scope, rule)
            reason = self._take(child, now, origin, pair)
            if reason is None:
                taken += 1
                again += count - 1  # each later time: the link is seen by then
            else:
                dropped[reason] += count
        if again:
            dropped["seen"] += again
        return taken

    def _take_links(
        self,
        entry: Entry,
        scope: Scope,
        found: PageLinks,
        now: float,
        rejected: Rejected,
        taken: int = 0,
    ) -> None:
        follow, nofollow = self.follow, found.nofollow is not None
        checked, digests = self._checked, self._digests
        counts = found.counts
        for at, link in enumerate(found.links):
            repeats = 0 if counts is None else counts[at] - 1  # folded by unique_links
            if taken >= follow.max_links:
                reason: str | None = "budget"
            else:
                # A site links to its navigation from every page: what depends only on
                # the URL and the scope is kept for the next time (a bounded table).
                known = checked.get((link.url, scope))
                if known is None:
                    if len(checked) >= CHECKED_KEPT:
                        checked.clear()
                    known = checked[link.url, scope] = follow.check_link(link.url, scope)
                verdict = follow.judge(link, entry.depth, entry.chain, scope, nofollow, known)
                reason = verdict.reason
                if reason is None:
                    # Its key's digest, kept too: most links of a page were seen before.
                    pair = digests.get(link.url)
                    if pair is None:
                        if len(digests) >= CHECKED_KEPT:
                            digests.clear()
                        pair = digests[link.url] = digest(self._key(link.url))
                    if self.seen.has_digest(pair):
                        reason = "seen"
                        self._note(link.url, reason, rejected)
                        if repeats:
                            self._drop(reason, repeats)
                        continue
                    child = Entry(link.url, verdict.parsers, FOUND, 0, verdict.depth,
                                  verdict.chain, 0, scope, verdict.rule)  # fmt: skip
                    reason = self._take(child, now, verdict.origin, pair)
                    if reason is None:
                        taken += 1
                        if repeats:  # each later time: the link is seen by then
                            self._drop("seen", repeats)
                        continue
            self._note(link.url, reason, rejected)
            if repeats:  # each later time gets the first time's verdict
                self._drop(reason, repeats)

    def _next_pages(
        self, entry: Entry, page: Page, records: Mapping[str, int] | None
    ) -> tuple[list[Link], Rejected]:
        values = [value for name, value in page.headers if name == "link"]
        base = page.final_url or page.url
        return next_links(self.follow.rules, redact_url(entry.url), base, values, records, resolve)

    def ends_quietly(self, entry: Entry | None) -> bool:
        """Whether the page of `entry` may have no record without an `error:` line:
        the last page of an API a `next = { param }` rule pages through."""
        return entry is not None and self.follow.ends_quietly(entry.rule)

    def add_sitemap(self, fetch: Fetch, sitemap: Sitemap, now: float) -> Rejected:
        """Take the entries and the sitemaps of a sitemap `fetch` got."""
        entry = fetch.entry
        rejected: Rejected = []
        if entry is None:
            return rejected
        journal = self.journal
        if journal is not None and not journal.begin("p", page_key(entry.url), self.dropped):
            return rejected
        try:
            self._take_sitemap(entry, sitemap, now, rejected)
        finally:
            if journal is not None:
                journal.end(self.dropped)
        return rejected

    def _take_sitemap(self, entry: Entry, sitemap: Sitemap, now: float, rejected: Rejected) -> None:
        # A <loc> is read as a link of the sitemap: a raw space is %20, a relative one
        # is resolved against the sitemap's URL, one a browser rejects is `scheme`.
        for loc in sitemap.sitemaps:
            url = resolve(entry.url, loc)
            reason = self._add_sitemap_file(url, entry.level + 1, entry.scope, now)
            self._note(url, reason, rejected)
        for loc in sitemap.pages:
            url = resolve(entry.url, loc)
            reason, split = self.follow.check_url(url, entry.scope)
            if reason is None and ignored_extension(split.path):
                reason = "extension"
            if reason is None:
                reason = self._take(Entry(url, (), MAPPED, scope=entry.scope), now, split.origin)
            self._note(url, reason, rejected)
        if sitemap.over:
            self._drop("budget", sitemap.over)

    # -- dispatch -----------------------------------------------------------------
    def next_ready(self, now: float) -> Fetch | Refused | None:
        """The next fetch politeness allows now (robots.txt first), a URL robots.txt
        refuses, or None. The loop sends a Fetch and reports it with `done`."""
        if self._robots_wanted:
            return self._robots_wanted.popleft()._replace(sent=now)
        for n, fetch in enumerate(self._robots_later):
            if self.hosts.free_at(fetch.host) <= now:
                del self._robots_later[n]
                return fetch._replace(sent=now)
        self._refill(now)
        picked = self.hosts.pop_ready(now)
        if picked is None:
            return None
        host, entry = picked
        given_up = self.hosts.given_up(host)
        if given_up is not None:  # a URL of the run, listed or found: its error: line
            self.hosts.skipped(host, now)
            return Refused(entry, host, given_up)
        reason = self._refusal(host, entry)
        if reason is None:
            self.hosts.started(host, now)
            links = self._leads_on(entry)
            return Fetch(entry.kind, entry.url, host, entry, None, self._policy(host, entry),
                         raw=entry.kind == SITEMAP, links=links, sent=now,
                         judge=self._context(entry) if links else None,
                         text=self._wants_text(entry))  # fmt: skip
        self.hosts.skipped(host, now)
        counted = None
        if entry.kind == FOUND:
            counted = "private-address" if PRIVATE_REFUSAL in reason else "robots"
            self.dropped[counted] += 1
        return Refused(entry, host, reason, counted)

    def settle(self, fetch: Fetch, result: Result, now: float) -> tuple[Result | None, Rejected]:
        """A fetch ended: what its answer says of its site's rate goes to the site's
        queue (`crawler.frontier.politeness`), then, in this order:
        1. a 429 or 503 the worker gave back (`Failure.status`) to a site given up
           (its `Retry-After` past `--max-wait`) is `rate limited: the site asks to
           wait N s`;
        2. one with attempts left is queued again, first of its site's, sent when
           the site's pause and rate allow: None, no line for it now;
        3. one without is `HTTP 429 after N attempts`;
        4. any other result is as the worker said, counting the attempts before.
        Then as `done`. Returns the result to record (None: none yet) and the links
        not taken."""
        answer = _answer(result, fetch.sent)
        key = fetch.url if fetch.kind != ROBOTS else ROBOTS + " " + fetch.url
        given_back = isinstance(result, Failure) and answer.status in (429, 503)
        if fetch.kind == ROBOTS:
            self.hosts.noted(fetch.host, now, answer)
        else:
            self.hosts.done(fetch.host, now, answer)
        prior = self._tries.pop(key, 0)
        if given_back:
            assert isinstance(result, Failure)
            tries = prior + 1
            given_up = self.hosts.given_up(fetch.host)
            if given_up is not None:
                result = result._replace(reason=given_up, attempts=tries)
            elif tries < self.attempts:
                self._tries[key] = tries
                if fetch.kind == ROBOTS:
                    self._robots_later.append(fetch)
                else:
                    self.hosts.add_first(fetch.host, fetch.entry, now)
                return None, []
            else:
                unit = "attempt" if tries == 1 else "attempts"
                reason = f"HTTP {answer.status} after {tries} {unit}"
                result = result._replace(reason=reason, attempts=tries)
        elif prior:
            result = result._replace(attempts=result.attempts + prior, throttled=True)
        return result, self._done(fetch, result, now)

    def done(self, fetch: Fetch, result: Result, now: float) -> Rejected:
        """`settle` for a result that is not given back, where the record does not
        matter (the links not taken)."""
        return self.settle(fetch, result, now)[1]

    def _done(self, fetch: Fetch, result: Result, now: float) -> Rejected:
        """A fetch ended: a robots.txt is read (and, with --sitemaps, its sitemaps
        taken); a redirect's URLs are marked seen."""
        if fetch.kind == ROBOTS:
            if self.journal is not None:
                self.journal.robots(fetch.host, what_was_read(result))
            self._robots_read(fetch.host, interpret(result), now)
            if fetch.host in self._sitemap_scope:
                return self._queue_sitemaps(fetch.host, now)
            return []
        if self.following and isinstance(result, Page):
            for url in result.redirects:
                pair = digest(self._key(url))
                if self.seen.add_digest(pair) and self.journal is not None:
                    self.journal.seen(pair)
        return []

    # -- a resumed run (crawler.resume.replay) ---------------------------------------
    def readmit(
        self, pair: tuple[int, int], host: str, kind: str, line: str, pending: bool, now: float
    ) -> None:
        """An entry the killed run admitted (`line`: its `Entry.to_line()`), in the
        order it did: seen and counted again, and queued when `pending` (it has no
        line in db.txt). Parsed only where it must be: most go to disk as they are."""
        self.seen.add_digest(pair)
        self.taken += 1
        self.found += kind in (FOUND, MAPPED)
        listed = kind == LISTED
        if listed and self.sitemaps and host not in self._sitemap_scope:
            self._sitemap_scope[host] = Entry.from_line(line).scope
        if not pending:
            return
        entry = None
        if host not in self._robots_asked and (self.robots_agent is not None or listed):
            entry = Entry.from_line(line)
            self._gate(host, entry, now)
        if not self._place(host, entry, now, line):
            self.hosts.add(host, entry or Entry.from_line(line), now)  # memory it is

    def restore_robots(self, host: str, robots: Robots, now: float) -> None:
        """A robots.txt the killed run had read: not asked for again."""
        self._robots_asked.add(host)
        if any(fetch.host == host for fetch in self._robots_wanted):
            self._robots_wanted = deque(f for f in self._robots_wanted if f.host != host)
        self._robots_read(host, robots, now)

    def mark_seen(self, pair: tuple[int, int]) -> None:
        self.seen.add_digest(pair)

    def mark_sitemapped(self, host: str) -> None:
        self._sitemapped.add(host)

    def ask_sitemaps(self, now: float) -> None:
        """After a replay, the journal attached: the sitemaps of each listed host
        not taken yet, from its robots.txt if it was read, else by asking for it."""
        for host, scope in list(self._sitemap_scope.items()):
            if host in self._sitemapped:
                continue
            if host in self._robots:
                self._queue_sitemaps(host, now)
            elif host not in self._robots_asked:
                self._gate(host, Entry(host + "/", kind=LISTED, scope=scope), now)

    # -- inside ---------------------------------------------------------------------
    def _robots_read(self, host: str, robots: Robots, now: float) -> None:
        """Keep a host's robots.txt verdict, and let the host go (with its Crawl-delay)."""
        self._robots[host] = robots
        obeyed = self.robots_agent is not None
        delay = robots.crawl_delay(self.robots_agent or "") if obeyed else 0.0
        self.hosts.release(host, now, delay)

    def _note(self, url: str, reason: str | None, rejected: Rejected) -> None:
        if reason is not None:
            self._drop(reason)
            if self.keep_rejected:
                rejected.append((url, reason))

    def _drop(self, reason: str, count: int = 1) -> None:
        """Count links not followed. The journal's group takes what these add up to
        (a robots.txt refusal at dispatch is not in a group: a resumed run asks
        robots.txt again, and counts it then)."""
        self.dropped[reason] += count

    def _take(
        self, entry: Entry, now: float, host: str = "", pair: tuple[int, int] | None = None
    ) -> str | None:
        """Queue an entry (`host`: its host_key, `pair`: its key's digest, if known):
        None if taken, else why not (`_WAIT`: a listed one that must be offered again)."""
        pair = pair or digest(self._key(entry.url))
        if self.seen.has_digest(pair):
            return None if entry.kind == LISTED else "seen"  # a listed twice: one record
        if entry.kind != LISTED and self.taken >= self.follow.max_pages:
            return "budget"
        host = host or host_key(entry.url)
        self._gate(host, entry, now)
        if not self._place(host, entry, now):
            return _WAIT if entry.kind == LISTED else "budget"
        self.seen.add_digest(pair)
        self.taken += 1
        self.found += entry.kind in (FOUND, MAPPED)
        if self.journal is not None:
            self.journal.admitted(pair, host, entry)
        return None

    def _gate(self, host: str, entry: Entry, now: float) -> None:
        """Ask for the robots.txt of a host met for the first time (and hold it)."""
        listed = entry.kind == LISTED
        if self.sitemaps and listed and host not in self._sitemap_scope:
            self._sitemap_scope[host] = entry.scope
            if host in self._robots:  # read already, for a link found before this line
                self._queue_sitemaps(host, now)  # (what it drops is counted, not logged)
        if host in self._robots_asked:
            return
        if self.robots_agent is None and not (self.sitemaps and listed):
            return
        self._robots_asked.add(host)
        if self.robots_agent is not None:
            self.hosts.hold(host)
        policy = None
        if not listed:  # the address guard, not the scope: a robots.txt may redirect anywhere
            exempt = entry.scope.exempt(entry.url) if entry.scope is not None else None
            policy = FetchPolicy(None, self.follow.guard_private, exempt or "")
        fetch = Fetch(ROBOTS, robots_url(host), host, None, ROBOTS_MAX_BYTES, policy)
        self._robots_wanted.append(fetch)

    def _place(self, host: str, entry: Entry | None, now: float, line: str = "") -> bool:
        """In memory if the host and the whole have room and nothing of the host
        waits on disk (so its order holds), else on disk; False if neither. `line`:
        the entry's `to_line()`, when it is known already (`entry` may then be None)."""
        hosts = self.hosts
        fits = hosts.queued_for(host) < self.share and hosts.queued < self.lookahead
        if fits and not self.spill.count_for(host):
            hosts.add(host, entry or Entry.from_line(line), now)
            return True
        if self.spill.add(host, line or entry.to_line()):  # type: ignore[union-attr]
            if host not in self._in_backlog:
                self._in_backlog.add(host)
                self._backlog.append(host)
            return True
        if fits:  # the disk said no: memory it is, out of order
            hosts.add(host, entry or Entry.from_line(line), now)
            return True
        return False

    def _refill(self, now: float) -> None:
        """Bring entries back from disk to the hosts that have room, in turn."""
        hosts, backlog = self.hosts, self._backlog
        for _ in range(len(backlog)):
            if hosts.queued >= self.lookahead:
                return
            host = backlog[0]
            while hosts.queued_for(host) < self.share and hosts.queued < self.lookahead:
                line = self.spill.pop(host)
                if line is None:
                    break
                if line:
                    hosts.add(host, Entry.from_line(line), now)
                else:
                    self.lost += 1
            if self.spill.count_for(host):
                backlog.rotate(-1)
            else:
                backlog.popleft()
                self._in_backlog.discard(host)

    def _refusal(self, host: str, entry: Entry) -> str | None:
        if self.robots_agent is None:
            return None
        robots = self._robots.get(host)
        return robots.refusal(entry.url, self.robots_agent) if robots is not None else None

    def _leads_on(self, entry: Entry) -> bool:
        """Whether the links of the page of `entry` are to be taken: it may lead on,
        or the run logs every link it does not follow (`keep_rejected`). A run that
        does not follow takes none anyway: its tasks keep their short form."""
        follow = self.follow
        return not follow.follows or self.keep_rejected or follow.leads_on(entry.depth)

    def _wants_text(self, entry: Entry) -> bool:
        """Whether this process reads the text of the page of `entry`: a sitemap, a
        page with parsers, any page when a rule takes links from JSON pages."""
        return bool(entry.parsers) or entry.kind == SITEMAP or self._json_rules

    def _context(self, entry: Entry) -> tuple | None:
        """What the worker judges the links of the page of `entry` by
        (`crawler.frontier.link_verdicts.Context`), when it does: a page (not a
        sitemap) with a scope."""
        if not self.judges_in_worker or entry.scope is None or entry.kind == SITEMAP:
            return None
        return (entry.depth, entry.chain, entry.scope, entry.kind == LISTED)

    def _policy(self, host: str, entry: Entry) -> FetchPolicy | None:
        """What the worker checks: nothing for a listed URL; for the rest, the address
        guard (outside the listed URL's hosts), and for a page its scope. The same
        for every URL of one host (`host`, the entry's host_key) and scope: kept."""
        if entry.kind == LISTED:
            return None
        scoped = entry.kind in (FOUND, MAPPED)
        key = (host, entry.scope, scoped)
        policy = self._policies.get(key)
        if policy is None:
            exempt = entry.scope.exempt(entry.url) if entry.scope is not None else None
            scope = entry.scope if scoped else None
            policy = FetchPolicy(scope, self.follow.guard_private, exempt or "")
            if len(self._policies) >= CHECKED_KEPT:
                self._policies.clear()
            self._policies[key] = policy
        return policy

    def _queue_sitemaps(self, host: str, now: float) -> Rejected:
        rejected: Rejected = []
        if host in self._sitemapped:
            return rejected
        self._sitemapped.add(host)
        robots = self._robots.get(host)
        rules = robots.rules if robots is not None else None
        scope = self._sitemap_scope.get(host)
        if self.journal is not None:
            self.journal.begin("s", host, self.dropped)
        try:
            for line in list(rules.sitemaps) if rules is not None else []:
                url = resolve(host + "/robots.txt", line)  # `Sitemap: /sitemap.xml` is relative
                self._note(url, self._add_sitemap_file(url, 1, scope, now), rejected)
        finally:
            if self.journal is not None:
                self.journal.end(self.dropped)
        return rejected

    def _add_sitemap_file(
        self, url: str, level: int, scope: Scope | None, now: float
    ) -> str | None:
        reason, split = self.follow.check_url(url, scope, offsite=False, patterns=False)
        if reason is None and level > MAX_LEVELS:
            reason = "depth"
        if reason is None:
            entry = Entry(url, (), SITEMAP, level=level, scope=scope)
            reason = self._take(entry, now, split.origin)
        return reason


_WAIT = "wait"


def _answer(result: Result, sent: float) -> Answer:
    """What a result says of its site's rate: a page's status and time to first
    byte; a 429 or 503 given back with its `Retry-After`; nothing for the rest
    (no answer of the site, or one that says nothing of its rate)."""
    if isinstance(result, Page):
        return Answer(result.status, None, result.ttfb, sent)
    status = getattr(result, "status", 0)
    return Answer(status, getattr(result, "retry_after", "") or None, 0.0, sent)


def page_key(url: str) -> str:
    """A page's key in db.txt, which the journal names its links' group by."""
    return record_key(url)
