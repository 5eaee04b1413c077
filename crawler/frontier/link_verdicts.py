"""A page's links judged in the worker, where the page is: what the main process
would decide for each link without knowing what the run has seen. Pure, but for
bounded tables of answers kept for the next page (a site links to its navigation
from every page), which hold the answers of one policy at a time.

The main process keeps what only it can know: whether a link was seen, the
budgets, the frontier's order, robots.txt. Everything else about a link depends on
the link, the run's `FollowPolicy` (sent once, with the worker's settings) and the
page's entry, sent with the task as a `Context`: its depth, its pagination chain,
the scope of the listed URL it descends from, and whether it is that listed URL
(whose own redirects widen the scope, as `Frontier.add_links` widens it).

`judge_links` takes the links as the worker folded them (each once, with how often
the page has it, `crawler.page.links.unique_links`) and gives back a `Judged`:
- each link that passes checks 1 to 8 of `crawler.frontier.policy`, in the page's
  order: its URL, the digest of its canonical key (`crawler.frontier.seen.digest`
  of `crawler.frontier.canonical.canonical_key`), its origin (`host_key`), the
  follow rule that took it and how often the page has it;
- how many links (repeats included) each check refused, by reason, in the order
  each reason first came.

Only a page whose links were folded is judged here, that is one with at most the
run's budget of links a page: no link of it can meet that budget before the page's
last one, so the per-page `budget` stays the main process's to count, and the
verdicts are those `Frontier.add_links` would reach. A run that logs every link it
drops (`--rejected-log`) needs each URL with its reason: it judges in the main
process, as do the links the worker does not see (parsers', JSON, next pages).
"""

from __future__ import annotations

from typing import NamedTuple

from crawler.frontier.canonical import canonical_key
from crawler.frontier.policy import FollowPolicy
from crawler.frontier.rules import PAGINATION_CAP
from crawler.frontier.scope import Scope
from crawler.frontier.seen import digest
from crawler.model import Judged, Link, Page

KEPT = 8192  # answers kept per table (a few MB at most)


class Context(NamedTuple):
    """What the worker needs of a page's entry to judge its links (picklable; sent as
    a plain tuple with the task)."""

    depth: int
    chain: int
    scope: Scope
    listed: bool  # the listed URL itself: its redirects widen its scope


class _Static(NamedTuple):
    """What a link's verdict is whatever the depth of its page: checks 1 to 7 (the
    page's own nofollow aside), and for a link that passes them its follow rule,
    whether that is a pagination hop, its origin and its key's digest."""

    reason: str | None
    rule: int = -1
    paginates: bool = False
    origin: str = ""
    high: int = 0
    low: int = 0


# Per scope (of one policy at a time, `_policy`): a link's fields -> its _Static.
_tables: dict[Scope, dict[tuple[str, bool, int], _Static]] = {}
_policy: list[FollowPolicy] = []
_origins: dict[str, str] = {}  # one str per origin: pickled once a page


def _static(policy: FollowPolicy, fields: tuple[str, bool, int], scope: Scope) -> _Static:
    # A depth and chain of -1 pass the depth checks: what is left is static.
    verdict = policy.judge(Link(*fields), -1, -1, scope, False)
    if verdict.reason is not None:
        return _Static(verdict.reason)
    rule = verdict.rule
    paginates = 0 <= rule < len(policy.rules) and policy.rules[rule].pagination
    if len(_origins) >= KEPT:
        _origins.clear()
    origin = _origins.setdefault(verdict.origin, verdict.origin)
    return _Static(None, rule, paginates, origin, *digest(canonical_key(fields[0])))


def judge_links(
    policy: FollowPolicy,
    context: tuple[int, int, Scope, bool],
    nofollow: str | None,
    links: tuple[tuple[str, bool, int], ...],
    counts: tuple[int, ...] | None = None,
    redirects: tuple[str, ...] = (),
) -> Judged | None:
    """The verdicts on a page's `links` (`counts`: how often the page has each, when
    they were folded; None: each is there once per time) found on the page of
    `context`, which its fetch was redirected through `redirects`; `nofollow`: why
    the page says nofollow for all of them (None: it does not). None when the
    main process must judge them: a page not folded whose links that pass have
    as many canonical keys as the budget of links a page, or more."""
    depth, chain, scope, listed = context
    if listed and redirects:
        scope = scope.with_redirects(redirects)
    # A page's links are kept for the next page when it was folded: a page with more
    # (an index) has links of its own, which would push out a site's navigation.
    keep = counts is not None
    if counts is None:
        counts = (1,) * len(links)
    if nofollow is not None and policy.obey_nofollow:
        return Judged(nofollow, (), (("nofollow", sum(counts)),) if links else ())
    if not _policy or _policy[0] is not policy:  # another run's (a Dask worker's)
        _tables.clear()
        _policy[:] = [policy]
    table = _tables.get(scope)
    if table is None:
        if len(_tables) >= 64:
            _tables.clear()
        table = _tables[scope] = {}
    keep = keep and len(table) < KEPT  # full: what it holds stays, the rest is computed
    own: dict[tuple[str, bool, int], _Static] = {}  # what is not kept, for this page
    too_deep = depth + 1 > policy.depth
    chain_ends = chain + 1 > PAGINATION_CAP
    dropped: dict[str, int] = {}
    # Those that pass, one row a canonical key: a later link of the page to the
    # same page is `seen` once the first is taken, `budget` if it was (--max-pages).
    rows: dict[tuple[int, int], list] = {}
    for fields, count in zip(links, counts, strict=True):
        known = table.get(fields)
        if known is None:
            known = own.get(fields)
            if known is None:
                known = (table if keep else own)[fields] = _static(policy, fields, scope)
        reason = known.reason
        if reason is None and (chain_ends if known.paginates else too_deep):
            reason = "depth"
        if reason is not None:
            dropped[reason] = dropped.get(reason, 0) + count
            continue
        pair = (known.high, known.low)
        row = rows.get(pair)
        if row is None:
            rows[pair] = [fields[0], known.high, known.low, known.origin, known.rule, count]
        else:
            row[5] += count
    # No link of the page can meet its budget (MAX_LINKS_PER_PAGE taken) before its
    # last one: a folded page has no more links than that, and here fewer keys pass.
    if len(counts) > policy.max_links and len(rows) >= policy.max_links:
        return None
    return Judged(nofollow, tuple(map(tuple, rows.values())), tuple(dropped.items()))


def onward(policy: FollowPolicy, depth: int, chain: int, rule: int) -> tuple[int, int]:
    """(depth, chain) of a link that passed, found on a page at `depth` with `chain`
    pagination hops, taken by the follow rule `rule` (-1: none), as
    `FollowPolicy.judge` gives them: a pagination hop costs no depth."""
    if 0 <= rule < len(policy.rules) and policy.rules[rule].pagination:
        return depth, chain + 1
    return depth + 1, 0


def with_verdicts(page: Page, policy: FollowPolicy, context: tuple[int, int, Scope, bool]) -> Page:
    """`page` with its links judged (`judge_links`); as it is when the worker did not
    take them, or when the main process must judge them."""
    links = page.links
    if type(links) is not tuple:
        return page
    counts = links[2] if len(links) == 3 else None
    judged = judge_links(policy, context, links[0], links[1], counts, page.redirects)
    return page if judged is None else page._replace(links=judged)
