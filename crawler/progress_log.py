"""A progress line on stderr every so often, so that a long run without a terminal
(cron, a log file) shows it is alive, as Scrapy's "Crawled 60 pages (at 12
pages/min)" does:

    crawl: 1234 pages done in 3m00s (12.3 pages/s over the last 60 s): 5 failed,
    8 in flight, 1200 waiting, 300 found by following

(one line). `pages done` counts every URL with its line written, failed or not;
`waiting` the URLs the frontier holds, in memory or spilled to disk; `found by
following` the URLs taken from links and sitemaps. While sites that answered 429
or 503 are being slowed down (paused, or under their limits), the line ends with
`; slowing down for http://a.example, http://b.example` (the first
`SLOWED_NAMED`, then how many more).

When, in this order (`progress_lines`):
1. never with `--log-every 0`, nor with `-q`;
2. never while a progress bar is shown (a terminal; `--progress`): the bar says it;
3. otherwise every `--log-every` seconds (default 60), from a thread of its own,
   so a loop that waits (on a slow URL file, on a host's delay) does not hold it
   back. The first line comes one interval after the start; a run shorter than
   that has its summary only.

`ProgressLog` decides when a line is due and what it says, by an injected clock;
the thread only wakes it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

JOIN_TIMEOUT = 5.0  # the thread only sleeps or writes one line: it ends at once
SLOWED_NAMED = 3  # sites named on the line; the rest are counted


class Progress(NamedTuple):
    """Where a run stands (`crawler.loop.DispatchLoop.progress`)."""

    done: int  # URLs whose line is written, failed or not
    failed: int
    in_flight: int  # tasks submitted, not finished
    waiting: int  # URLs in the frontier: queued in memory or spilled to disk
    found: int  # URLs taken from links and sitemaps
    slowed: tuple[str, ...] = ()  # sites being slowed down after a 429 or 503


def duration(seconds: float) -> str:
    """`42s`, `3m05s`, `2h07m`: short, for a log line."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(progress: Progress, elapsed: float, pages: int, interval: float) -> str:
    """The line: `pages` were done in the last `interval` seconds, `elapsed` since
    the run started."""
    rate = pages / interval if interval > 0 else 0.0
    return (
        f"crawl: {progress.done} pages done in {duration(elapsed)} "
        f"({rate:.1f} pages/s over the last {interval:.0f} s): {progress.failed} failed, "
        f"{progress.in_flight} in flight, {progress.waiting} waiting, "
        f"{progress.found} found by following"
    ) + slowed_text(progress.slowed)


def slowed_text(sites: tuple[str, ...]) -> str:
    """`; slowing down for A, B and 2 more`, or "" when no site is slowed."""
    if not sites:
        return ""
    named = ", ".join(sites[:SLOWED_NAMED])
    more = len(sites) - SLOWED_NAMED
    return f"; slowing down for {named}" + (f" and {more} more" if more > 0 else "")


class ProgressLog:
    """Says a progress line (`say`) once every `every` seconds of `clock`, when
    `tick()` is called at or after the time it is due."""

    def __init__(
        self,
        every: float,
        snapshot: Callable[[], Progress],
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every = every
        self.snapshot = snapshot
        self.say = say
        self.clock = clock
        self.started = self._last_time = clock()
        self._last_done = 0
        self._due = self.started + every

    def wait_time(self) -> float:
        """Seconds until the next line is due (0: now)."""
        return max(0.0, self._due - self.clock())

    def tick(self) -> bool:
        """Say the line if it is due; whether it was said. The next one is due an
        interval after this one, however late this one came."""
        now = self.clock()
        if now < self._due:
            return False
        self._due = now + self.every  # first: a snapshot that fails waits its turn too
        progress = self.snapshot()
        pages, interval = progress.done - self._last_done, now - self._last_time
        self._last_time, self._last_done = now, progress.done
        self.say(progress_line(progress, now - self.started, pages, interval))
        return True


@contextlib.contextmanager
def progress_lines(
    every: float,
    quiet: bool,
    shows_bar: bool,
    snapshot: Callable[[], Progress],
    say: Callable[[str], None],
) -> Iterator[ProgressLog | None]:
    """Progress lines for the block, from a thread, when they are wanted (the
    module docstring gives when); the log, or None when none are."""
    if every <= 0 or quiet or shows_bar:
        yield None
        return
    log = ProgressLog(every, snapshot, say)
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(log.wait_time()):
            with contextlib.suppress(Exception):  # a log line is never worth a run
                log.tick()

    thread = threading.Thread(target=run, name="crawl-progress-log", daemon=True)
    thread.start()
    try:
        yield log
    finally:
        stop.set()
        thread.join(JOIN_TIMEOUT)
