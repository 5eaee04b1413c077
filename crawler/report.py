"""What a person sees on stderr: a progress bar on a terminal; without one (cron),
a line per failure; always a closing summary."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

from crawler.urls import redact_url
from pipelines.records import escape


@dataclass
class Stats:
    ok: int = 0
    failed: int = 0
    retried: int = 0
    bytes: int = 0
    unchanged: int = 0  # pages the HTTP cache answered (a 304, or still fresh)
    saved: int = 0  # their bytes, which did not cross the network
    held_seconds: float = 0.0  # workers idle while per-host limits held URLs back
    # Failures by kind: each error: line's reason less its retry tail and line
    # number (crawler.run_report.error_kind), so a handful of keys at most.
    errors: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)  # measures `seconds`
    started_at: float = field(default_factory=time.time)  # wall clock, for the reports
    ended: float | None = None  # monotonic, set by finish()
    ended_at: float | None = None  # wall clock, set by finish()
    following: bool = False  # --depth or --sitemaps: the counts below are shown
    found: int = 0  # URLs taken from links and sitemaps
    dropped: dict[str, int] = field(default_factory=dict)  # links not followed, by reason
    items_dropped: int = 0  # declared parsers' items without a required field
    # The HTTP cache at the end of the run (crawler.fetching.cache_upkeep): its size
    # on disk and the entries evicted; None without a cache.
    cache_bytes: int | None = None
    evicted: int = 0
    # The sites that answered 429 or 503: `crawler.frontier.politeness.Slowed`, by name.
    slowed: list = field(default_factory=list)

    def dropped_text(self, separator: str = ",", pair: str = ":") -> str:
        """The links not followed, by reason, in the order of `crawler.frontier.REASONS`."""
        from crawler.frontier.policy import REASONS

        counts = [(reason, self.dropped.get(reason, 0)) for reason in REASONS]
        counts += sorted((r, n) for r, n in self.dropped.items() if r not in REASONS)
        return separator.join(f"{reason}{pair}{count}" for reason, count in counts if count)

    @property
    def seconds(self) -> float:
        end = self.ended if self.ended is not None else time.monotonic()
        return end - self.started

    def finish(self) -> None:
        """The run ended: `seconds` stops growing, and the end time is kept."""
        if self.ended is None:
            self.ended, self.ended_at = time.monotonic(), time.time()

    def summary(self) -> str:
        seconds = self.seconds
        pages = self.ok + self.failed
        rate = pages / seconds if seconds > 0 else 0.0
        text = (
            f"crawl: {self.ok} ok, {self.failed} failed, {self.retried} retried, "
            f"{self.bytes} bytes in {seconds:.2f} s ({rate:.1f} pages/s)"
        )
        if self.unchanged:
            text += f"; {self.unchanged} unchanged (cache), {self.saved} bytes saved"
        if self.cache_bytes is not None:
            text += f"; cache {self.cache_bytes} bytes, {self.evicted} evicted"
        if self.held_seconds >= 0.05:
            text += f"; per-host limits held workers back {self.held_seconds:.1f} s"
        if self.items_dropped:
            text += f"; {self.items_dropped} parsed items dropped (a required field missing)"
        if self.slowed:
            text += "; slowed down: " + ", ".join(map(slowed_text, self.slowed))
        if self.following:
            dropped = sum(self.dropped.values())
            text += f"; {self.found} found by following, {dropped} links not followed"
            if dropped:
                text += f" ({self.dropped_text(', ', ' ')})"
        return text

    def fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "ok": self.ok,
            "failed": self.failed,
            "retried": self.retried,
            "bytes": self.bytes,
            "unchanged": self.unchanged,
            "saved": self.saved,
            "seconds": f"{self.seconds:.2f}",
        }
        if self.items_dropped:
            fields["items_dropped"] = self.items_dropped
        if self.cache_bytes is not None:
            fields["cache"] = self.cache_bytes
            fields["evicted"] = self.evicted
        if self.following:
            fields["found"] = self.found
            fields["dropped"] = self.dropped_text() or "0"
        return fields


def slowed_text(site: tuple) -> str:
    """`http://a (3 x 429, 1 x 503, paused 2.0 s, ended at 4 in flight, 18.5/s)`: one
    site that answered 429 or 503 (a `crawler.frontier.politeness.Slowed`)."""
    counts = [f"{n} x {status}" for status, n in ((429, site[1]), (503, site[2])) if n]
    text = f"{site[0]} ({', '.join(counts)}, paused {site[3]:.1f} s, "
    if site[6]:
        return text + "given up)"
    rate = f", {site[5]:.1f}/s" if site[5] is not None else ""
    return text + f"ended at {site[4]} in flight{rate})"


class Reporter:
    """Progress and messages. `progress=None` shows a bar only on a terminal."""

    def __init__(
        self,
        progress: bool | None = None,
        quiet: bool = False,
        verbose: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        # The main thread, the pool's callback thread and the progress lines' thread
        # all write: one line at a time, never two interleaved.
        self._writing = threading.RLock()
        self.quiet = quiet
        self.verbose = verbose
        show_bar = self.stream.isatty() if progress is None else progress
        self._bar = None
        if show_bar and not quiet:
            from tqdm import tqdm  # only a terminal needs it; keeps start-up short

            with self._terminal():
                self._bar = tqdm(file=self.stream, unit="page", dynamic_ncols=True, leave=False)

    @property
    def shows_bar(self) -> bool:
        """Whether a progress bar is on stderr (then no progress lines are)."""
        return self._bar is not None

    def say(self, message: str) -> None:
        """A message every run shows (errors that stop it, the summary)."""
        with self._writing, self._terminal():
            if self._bar is not None:
                self._bar.write(message, file=self.stream)
            else:
                print(message, file=self.stream, flush=True)

    def page(self, url: str, reason: str | None) -> None:
        """One URL finished: `reason` is None on success."""
        if self._bar is not None:
            with self._writing, self._terminal():
                self._bar.update(1)
        if reason is not None and not self.quiet:
            self.say(f"crawl: failed {escape(redact_url(url))}: {escape(reason)}")
        elif reason is None and self.verbose:
            self.say(f"crawl: ok {escape(redact_url(url))}")

    def close(self) -> None:
        if self._bar is not None:
            with self._terminal():
                self._bar.close()
            self._bar = None

    @contextlib.contextmanager
    def _terminal(self) -> Iterator[None]:
        """A terminal that went away (a closed ssh session, `crawl ... 2>&1 | head`)
        must not change what the run does or its exit status: its messages are
        dropped from then on, and db.txt holds the record."""
        try:
            yield
        except (OSError, ValueError):  # ValueError: the stream was closed
            self._bar = None
            self.stream = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
            if sys.stderr is not None:
                # What is left in the broken stream's buffer would fail again at exit.
                sys.stderr = self.stream
