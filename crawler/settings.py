"""Every tunable of a run, with its default, in one place.

`FetchSettings` crosses to the workers (it is pickled once per worker, in the pool
initializer); `RunSettings` stays in the main process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from crawler import PROJECT_URL, __version__

MiB = 1024 * 1024
DEFAULT_USER_AGENT = f"crawl/{__version__} (+{PROJECT_URL})"
DEFAULT_OUTPUT = Path("output") / "db.txt"
DEFAULT_CACHE_NAME = "http-cache.sqlite"  # next to the output file: output/http-cache.sqlite
LOCAL_DASHBOARD = "127.0.0.1:8787"  # --backend dask --dashboard
# Fetch tasks sent to a Dask worker as one Dask task, at most (crawler.pools.dask):
# a Dask task costs milliseconds of scheduling whatever it carries.
DASK_BATCH = 16


@dataclass(frozen=True)
class FetchSettings:
    """How one worker fetches one URL.

    `timeout` is the budget of one attempt: connecting, waiting for the answer and
    reading the whole body must all fit in it. `retries` is the number of extra
    attempts for failures worth retrying. Waits between attempts grow exponentially
    from `backoff_initial` to `backoff_max` with jitter, or follow the server's
    `Retry-After`, never longer than `retry_after_cap`. With `cache_path`, pages
    are revalidated through an HTTP cache in that SQLite file (`crawler.fetching.httpcache`).
    `ca_bundle` is a CA file trusted on top of the usual ones (`crawler.fetching.tls`).
    """

    timeout: float = 10.0
    retries: int = 2
    max_bytes: int = 10 * MiB
    user_agent: str = DEFAULT_USER_AGENT
    max_redirects: int = 10
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    retry_after_cap: float = 60.0
    cache_path: Path | None = None
    ca_bundle: Path | None = None  # --ca-bundle: an extra CA file (an internal site's)
    raw_body: bool = False  # a page's text is its body's bytes as latin-1 (sitemaps)
    # (the follow rules' selectors, our agent token) when the run follows links: the
    # worker takes each HTML page's links where the page is (crawler.fetching.worker)
    # and how many links a page may have for its repeats to be folded (0: never)
    links: tuple[tuple[str | None, ...], str, int] | None = None
    # the run's follow policy (a crawler.frontier.policy.FollowPolicy) when the worker
    # judges the links it folded too (crawler.frontier.link_verdicts); None: the main
    # process judges every link (a run that logs each link it drops)
    follow: object | None = None
    # --warc: each request and answer is kept as WARC records, sent back with the
    # result (crawler.fetching.archiving); the values of these headers (lower-case
    # names the run binds to sites) are kept as `redacted`
    archive: bool = False
    secret_headers: frozenset[str] = frozenset()
    # --replay: answers come from these archives (a crawler.archive.replay.Index),
    # never from the network
    replay_index: object | None = None

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def task_limit(self) -> float:
        """The longest one fetch may take, all attempts and waits included.

        An attempt can overrun its deadline by one blocking read (itself bounded
        by `timeout`), hence the factor 2. A task still running past this limit is
        stuck where no timeout reaches (in C code, or, in a thread, a server that
        trickles its headers): the main process ends its worker.
        """
        waits = self.retries * max(self.backoff_max, self.retry_after_cap)
        return self.attempts * 2 * self.timeout + waits + 5.0


@dataclass(frozen=True)
class RunSettings:
    """How the main process runs a crawl."""

    # Worker processes; with `scheduler`, tasks kept running on the cluster at
    # once, and 0 means as many as the cluster has threads when the run starts.
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    # Fetching threads in each worker process (a local Dask cluster's too): more
    # fetches at once without a process each, for fetches that mostly wait.
    threads: int = 1
    output: Path = DEFAULT_OUTPUT
    parse: tuple[str, ...] = ()
    progress: bool | None = None  # None: a bar only when stderr is a terminal
    quiet: bool = False
    # Without a progress bar, a progress line on stderr this often (crawler.progress_log);
    # 0: none. A minute, as Scrapy's LogStats: a long cron run shows it is alive.
    log_every: float = 60.0
    verbose: bool = False
    start_method: str | None = None  # None: the platform's default
    fetch: FetchSettings = field(default_factory=FetchSettings)
    per_host: int = 4  # requests in flight to one host (see crawler.frontier.politeness)
    delay: float = 0.0  # seconds between requests to one host, jittered up to +50%
    # A Retry-After longer than this ends its site's part of the run (crawler.frontier.rate).
    max_wait: float = 60.0
    ignore_robots: bool = False  # neither fetch nor obey robots.txt
    wait_lock: float = 0.0  # seconds to wait for another run's lock before exit 75
    # Continue the last run if it did not finish (crawler.resume); a run started with
    # it keeps a state next to the output, so that it can be continued in turn.
    resume: bool = False
    # URLs read ahead of the ones being fetched and queued in memory, so that a host
    # at its bound does not block the others behind it; one host holds a tenth of it
    # at most, the rest waits on disk (crawler.frontier.spill). A queued job is a few hundred
    # bytes, so 10,000 is a few MB however long the URL file is.
    lookahead: int = 10_000
    backend: str = "process"  # or "dask"
    scheduler: str | None = None  # dask: join this cluster instead of starting one
    dashboard: bool = False  # dask: serve the local cluster's dashboard
    # Following links (crawler.frontier): hops from each listed URL (None: the
    # [follow] table's depth, else 0, which fetches exactly the listed URLs; inf: no
    # limit), where they may lead, regexes on their URLs, and the run's budget of
    # URLs (None: 10,000; --scope any needs it given).
    depth: float | None = None
    scope: str = "host"
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    max_pages: int | None = None
    ignore_nofollow: bool = False
    allow_private_network: bool = False  # found links may lead to loopback, 10.x, ...
    sitemaps: bool = False  # read the sitemaps named by listed hosts' robots.txt
    rejected_log: Path | None = None  # a line per link not followed
    # The HTTP cache (FetchSettings.cache_path) at the end of each run: entries no
    # run used for this many days go, then the least recently used past this many
    # bytes (None: no bound on size); see crawler.fetching.cache_upkeep.
    cache_max_age: float = 30.0
    cache_max_size: int | None = None
    # At the end of every run, its report (crawler.run_report) replaces these files:
    stats: Path | None = None  # one JSON object
    metrics: Path | None = None  # the Prometheus text format (node_exporter's textfile)

    # Who the crawl says it is (crawler.identity): headers for the listed URLs' sites,
    # a Netscape cookies.txt; `[sites]` tables come in `config_tables`.
    header: tuple[str, ...] = ()
    cookies: Path | None = None

    # --warc: the archive's folder or file stem (crawler.archive.writer), and the
    # size past which a new file is started; --replay: the archives to fetch from
    warc: str | None = None
    warc_max_size: int = 1024 * MiB
    replay: str | None = None

    # The --config file's tables that are not options (`parsers`, `follow`, `sites`), as parsed.
    config_tables: dict = field(default_factory=dict)

    @property
    def obey_robots(self) -> bool:
        return not self.ignore_robots

    @property
    def concurrency(self) -> int:
        """Fetches running at once: `workers` processes of `threads` threads."""
        return max(1, self.workers) * max(1, self.threads)

    @property
    def max_in_flight(self) -> int:
        """Tasks submitted but not finished: enough to keep every fetching thread
        busy while results travel back, few enough that memory does not grow with
        the URL list. On Dask, where fetches travel in batches, enough for two
        full batches a fetching thread."""
        return 2 * self.concurrency * self._batch + 2

    @property
    def _batch(self) -> int:
        return DASK_BATCH if self.backend == "dask" else 1

    def watchdog_limit(self) -> float:
        """How long after submission a task is written off as lost, where the pool
        cannot say (Dask; the process pool answers for every task itself).

        A task starts once the tasks submitted before it have left the workers: at
        most `max_in_flight - 1` of them, run `concurrency` at a time, so it waits
        through at most ceil((max_in_flight - 1) / concurrency) task limits, then
        runs for one more. On Dask, where a thread runs a batch's fetches one after
        the other, it may also wait behind its own batch and the one queued ahead
        of it on that thread. Plus slack for start-up. Shorter would write off live
        tasks that were only queued (a slow site answering 503 with Retry-After).
        """
        rounds_waiting = -(-(self.max_in_flight - 1) // self.concurrency)
        if self._batch > 1:
            rounds_waiting += 2 * self._batch
        return (rounds_waiting + 1) * self.fetch.task_limit() + 10.0
