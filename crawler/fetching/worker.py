"""The worker side of a pool: its set-up, and the task function the pool calls.

Everything here is importable at module level and takes its state from the pool's
initializer, so it works under every start method (`fork`, `spawn`, and
`forkserver`, the default from Python 3.14 on) and in a Dask worker. A worker may
run several tasks at once, each in a thread of its own (`--threads`, or a Dask
worker's threads): each thread has its own transport
(`crawler.fetching.fetch.make_transport`), made at its first task, since the
HTTP transport's session is not made to be shared between threads.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from crawler.fetching.credentials import Credentials
from crawler.fetching.fetch import fetch, http_transport_module, make_transport
from crawler.fetching.transports.base import Transport
from crawler.model import Capture, Failure, FetchPolicy, Judged, Link, Page, Result
from crawler.settings import FetchSettings

_settings: FetchSettings | None = None
_local = threading.local()  # .transport: this thread's transport


def init_worker(settings: FetchSettings) -> None:
    """Give this worker its settings (the pool's initializer), and the thread that
    runs it its transport, so that the first fetch does not pay for it."""
    global _settings
    _settings = settings
    _local.transport = make_transport(settings)


# What `with_links` reads pages with: imported on a worker's first page otherwise.
# (lxml too when a follow rule picks links with its own selector.)
LINK_MODULES = ("crawler.page.links", "selectolax.lexbor")


def modules_to_preload(settings: FetchSettings) -> list[str]:
    """The modules a worker with `settings` imports by the end of its first fetch,
    beyond this one: its HTTP transport (`make_transport` imports it when it makes
    one), the HTTP cache's, the archive writer's, what takes a page's links and
    what judges them. A pool imports them before it starts its workers (forked
    ones share them; a fork server preloads them), so that each worker does not
    import them again."""
    modules = [__name__]
    if settings.cache_path:
        modules.append("crawler.fetching.httpcache")
    if settings.archive:
        modules.append("crawler.fetching.archiving")
    if settings.replay_index is None:
        modules.append(http_transport_module())
    else:
        modules.append("crawler.fetching.transports.replay")
    if settings.follow is not None:
        modules.append("crawler.frontier.link_verdicts")
    if settings.links is not None:
        modules.extend(LINK_MODULES)
        if any(settings.links[0]):
            modules.append("lxml.etree")
    return modules


def transport() -> Transport:
    """This thread's transport, made the first time it asks."""
    current = getattr(_local, "transport", None)
    if current is None:
        assert _settings is not None, "worker not initialized"
        current = _local.transport = make_transport(_settings)
    return current


def fetch_url(
    url: str,
    task_id: int = 0,
    max_bytes: int | None = None,
    policy: FetchPolicy | None = None,
    raw: bool = False,
    credentials: Credentials | None = None,
    links: bool = True,
    judge: tuple | None = None,
    text: bool = True,
) -> Result:
    """The pool's task: fetch `url` through this thread's transport, with the worker's settings
    (`max_bytes` lowers the size cap, for robots.txt), checked by `policy` for a
    URL the crawl found (see `crawler.fetching.fetch`; None for a listed URL); `raw`: the
    body's bytes as latin-1 text, for a sitemap, which may be gzip whatever its
    type says; `credentials`: the headers and cookies the run binds to origins
    (`crawler.fetching.credentials`; None: nothing but what sites set); `links`
    False: a page at the depth limit, whose links lead nowhere, is not searched
    for them; `judge`: the page's `crawler.frontier.link_verdicts.Context`, to judge
    its links here too (None: the main process judges them); `text` False: the
    page goes back without its text, which no parser reads (its size stays). A 429
    or 503 comes back at once, for the frontier to slow the whole site (`give_back`).

    `fetch` returns a value for every outcome of the network; anything else it
    raises, `run_task` turns into a Failure."""
    assert _settings is not None, "worker not initialized"
    settings = _settings
    if max_bytes is not None and max_bytes < settings.max_bytes:
        settings = dataclasses.replace(settings, max_bytes=max_bytes)
    if raw:
        settings = dataclasses.replace(settings, raw_body=True)
    if settings.archive:
        from crawler.fetching.archiving import take

        take()  # nothing left behind by a fetch that raised
    result = fetch(transport(), url, settings, policy, credentials, give_back=True)
    if settings.archive:  # the records of every request it sent, for the main process
        result = result._replace(archived=take())
    if settings.links is not None and links and not raw and type(result) is Page:
        result = with_links(result, *settings.links)
        if judge is not None and settings.follow is not None:
            from crawler.frontier.link_verdicts import with_verdicts

            result = with_verdicts(result, settings.follow, judge)
    if not text and type(result) is Page:
        result = result._replace(text=None)
    return result


def with_links(
    page: Page, selectors: tuple[str | None, ...], agent: str, unique_up_to: int = 0
) -> Page:
    """`page` with its links (`crawler.page.links.extract_links`), taken here,
    where the page is, so that the main process only decides on them. With
    `unique_up_to` (the run's budget of links a page, 0 for none): each link once,
    with how often the page has it (`unique_links`), on a page with at most that
    many (past the budget, where a repeat falls decides its fate); a run that logs
    every link it drops passes 0. A page whose links cannot be taken goes back with
    why instead, as a str in `links` (the main process writes it as `error:<URL>
    links: WHY`, `crawler.results`): it never reads the page for them itself."""
    from crawler.page.links import extract_links, unique_links  # lxml: a crawl that follows

    try:
        found = extract_links(page, selectors, agent)
    except Exception as error:  # noqa: BLE001 - said on the page's own error: line
        return page._replace(links=f"not taken ({type(error).__name__})")
    if len(found.links) <= unique_up_to:
        found = unique_links(found)
        return page._replace(links=(found.nofollow, _fields(found.links), tuple(found.counts)))
    return page._replace(links=(found.nofollow, _fields(found.links)))


def _fields(links: list[Link]) -> tuple[tuple[str, bool, int], ...]:
    """Each link's fields as a plain tuple, which pickles ten times faster (`Page.links`)."""
    return tuple(map(tuple, links))  # type: ignore[arg-type]


_PAGE_TYPES = (str, int, str, (str, type(None)), int, int, int, bool, bool, str, tuple, tuple,
               tuple, str, (tuple, str, type(None)), tuple, float)  # fmt: skip
_FAILURE_TYPES = (str, str, int, bool, tuple, tuple, int, str)
_CAPTURE_TYPES = (str, str, int, str, str, int, str, str, str, bytes, bytes, bytes, str)


def _pairs(values: tuple) -> bool:
    return all(
        type(pair) is tuple and len(pair) == 2 and all(type(part) is str for part in pair)
        for pair in values
    )


def _links(links: tuple) -> bool:
    nofollow, found = links[:2] if len(links) in (2, 3) else (0, None)
    counts = links[2] if len(links) == 3 else ()
    return (
        (nofollow is None or type(nofollow) is str)
        and type(counts) is tuple
        and all(type(count) is int for count in counts)
        and (len(links) == 2 or len(counts) == len(found or ()))
        and type(found) is tuple
        and all(
            type(link) is tuple
            and len(link) == 3
            and type(link[0]) is str
            and type(link[1]) is bool
            and type(link[2]) is int
            for link in found
        )
    )


def _judged(judged: Judged) -> bool:
    nofollow, passed, dropped = judged
    return (
        (nofollow is None or type(nofollow) is str)
        and type(passed) is tuple
        and all(
            type(row) is tuple
            and len(row) == 6
            and type(row[0]) is str
            and type(row[3]) is str
            and all(type(value) is int for value in row[1:3] + row[4:])
            for row in passed
        )
        and type(dropped) is tuple
        and all(
            type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str and type(pair[1]) is int
            for pair in dropped
        )
    )


def _plain(result: object) -> bool:
    """Whether `result` is a Page or a Failure made of plain str/int/None fields,
    which the main process can always unpickle."""
    if type(result) is Page:
        types = _PAGE_TYPES
    elif type(result) is Failure:
        types = _FAILURE_TYPES
    else:
        return False
    if not all(isinstance(value, kind) for value, kind in zip(result, types, strict=True)):
        return False
    if type(result) is Page:
        return (
            all(type(url) is str for url in result.redirects)
            and _pairs(result.headers)
            and _pairs(result.cookies)
            and (
                result.links is None
                or type(result.links) is str
                or (_judged(result.links) if type(result.links) is Judged else _links(result.links))
            )
            and _captures(result.archived)
        )
    return _pairs(result.cookies) and _captures(result.archived)


def _captures(values: tuple) -> bool:
    return all(
        type(value) is Capture
        and all(type(part) is kind for part, kind in zip(value, _CAPTURE_TYPES, strict=True))
        for value in values
    )


def run_task(task: Callable[..., Result], url: str, task_id: int = 0, *extra: object) -> Result:
    """What the pool runs: `task(url, task_id, *extra)`, made safe to send back.

    An exception that crosses back to the main process must be rebuilt there; a
    class that cannot be (a required argument missing from its `args`) would cost
    more than its page. So whatever the task raises comes back as a Failure naming
    the exception's type, and anything it returns that is not a plain Page or
    Failure becomes one too. SystemExit and KeyboardInterrupt still end the worker."""
    try:
        result = task(url, task_id, *extra)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:  # noqa: BLE001 - see the docstring
        return Failure(url, f"worker error: {type(error).__name__}", 1)
    if not _plain(result):
        return Failure(url, f"worker error: bad result {type(result).__name__}", 1)
    return result
