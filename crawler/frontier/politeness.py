"""Per-host politeness: which queued URL may be requested now. Pure bookkeeping,
no I/O; the clocks are passed in, so tests drive them.

The key of a host is its origin, `scheme://host:port` (the port written only when
it is not the scheme's default): the unit a robots.txt covers (RFC 9309). Two test servers on
127.0.0.1 with different ports are two hosts; `http://a` and `https://a` are two.

For each host, a request may start when all of these allow it:
- the hard limits: at most `per_host` requests in flight (submitted, not yet
  answered); with a delay (`--delay` or the site's `Crawl-delay`, whichever is
  largest) one at a time, each starting at least the delay after the previous
  one ended, stretched by a random factor in [1, 1 + `jitter`] so that requests
  do not fall into lockstep; never shorter than asked;
- the host's rate (`crawler.frontier.rate.SiteRate`), which adapts under those
  limits to what the host's answers say: a 429 or 503 halves its in-flight and
  its rate, and its `Retry-After` pauses the whole host; fine answers raise them
  again step by step; answers slowing down under load lower the in-flight;
- a host can be held (while its robots.txt is being fetched);
- with `first_alone`, a host's first request goes alone: the others wait for its
  answer, which may set the session cookie they need (a robots.txt's answer
  does not count: a site may set it only with its pages).

A host whose `Retry-After` is longer than `max_wait` is given up (`given_up`):
its queued items are handed out at once, whatever the limits, for the caller to
answer without a request.

Hosts take turns: a host with 10,000 queued URLs gets no more than its bound,
and the next ready host is served first in round-robin order. Queued URLs live
here, so the caller bounds their number (the scheduler's look-ahead); the state
kept per host after its queue empties is a few numbers.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from crawler.frontier.rate import SiteRate

T = TypeVar("T")


class Answer(NamedTuple):
    """What the host's answer to one request says about its rate: `status` (0: no
    answer of the site, a connection refused say), its `Retry-After` as sent, its
    time to first byte (0: not measured), and when the request was sent."""

    status: int = 0
    retry_after: str | None = None
    ttfb: float = 0.0
    sent: float = -math.inf


class Slowed(NamedTuple):
    """A host that said slow down during the run, as the reports show it."""

    host: str
    answers_429: int
    answers_503: int
    paused_seconds: float
    in_flight: int  # the in-flight it ended at
    rate: float | None  # requests a second it ended at; None: not bounded by spacing
    given_up: bool


@dataclass
class _Host(Generic[T]):
    rate: SiteRate
    queue: deque[T] = field(default_factory=deque)
    in_flight: int = 0
    ready_at: float = 0.0  # the earliest start of the next request, by the hard delay
    last_start: float = -math.inf
    min_delay: float = 0.0  # robots.txt Crawl-delay
    held: bool = False
    placed: bool = False  # in the ready turn or the sleeping heap
    generation: int = 0  # of its entry in the sleeping heap: an older one is stale
    answered: bool = False  # a request to it (not its robots.txt) has come back


class HostQueues(Generic[T]):
    """Queued items (URL jobs) per host, handed out as politeness allows."""

    def __init__(
        self,
        per_host: int,
        delay: float = 0.0,
        jitter: float = 0.5,
        rng: Callable[[], float] = random.random,
        first_alone: bool = False,
        max_wait: float = 60.0,
        wall: Callable[[], float] = time.time,
        start_window: int | None = None,
    ) -> None:
        """`start_window`: the in-flight a host starts at (default `per_host`),
        growing as `crawler.frontier.rate` says (doubling a round until the site first
        says no or slows down, then one a round); `wall`: seconds since the epoch, to
        read a `Retry-After` date."""
        self.per_host = per_host
        self.first_alone = first_alone
        self.delay = delay
        self.jitter = jitter
        self.rng = rng
        self.max_wait = max_wait
        self.wall = wall
        self.start_window = per_host if start_window is None else start_window
        self.queued = 0
        self._hosts: dict[str, _Host[T]] = {}
        self._turns: deque[str] = deque()  # hosts that may start a request now
        self._sleeping: list[tuple[float, int, str]] = []  # (ready at, generation, host)

    # -- what the scheduler asks -------------------------------------------------
    def add(self, key: str, item: T, now: float) -> None:
        host = self._host(key)
        host.queue.append(item)
        self.queued += 1
        self._place(key, host, now)

    def add_first(self, key: str, item: T, now: float) -> None:
        """Queue `item` before the host's others: one given back, to be sent again."""
        host = self._host(key)
        host.queue.appendleft(item)
        self.queued += 1
        self._place(key, host, now)

    def pop_ready(self, now: float) -> tuple[str, T] | None:
        """The next item allowed to start now, taking hosts in turn; None if none is.
        The caller then calls `started` (or `add` back if it does not send it)."""
        while self._sleeping and self._sleeping[0][0] <= now:
            _, generation, key = heapq.heappop(self._sleeping)
            host = self._hosts[key]
            if generation != host.generation:
                continue  # placed again since
            host.placed = False
            self._place(key, host, now)
        while self._turns:
            key = self._turns.popleft()
            host = self._hosts[key]
            host.placed = False
            if self._can_start(host, now):
                self.queued -= 1
                return key, host.queue.popleft()
            self._place(key, host, now)  # to the heap, or nowhere until done/release
        return None

    def started(self, key: str, now: float) -> None:
        host = self._hosts[key]
        host.in_flight += 1
        host.last_start = now
        self._place(key, host, now)

    def skipped(self, key: str, now: float) -> None:
        """An item popped for `key` was answered without a request (robots.txt said
        no, or the host was given up)."""
        self._place(key, self._hosts[key], now)

    def done(self, key: str, now: float, answer: Answer | None = None) -> None:
        """A request to `key` ended, and what its answer said (`Answer`)."""
        host = self._hosts[key]
        answer = answer or Answer()
        host.rate.answered(
            now,
            answer.status,
            sent=answer.sent,
            in_flight=host.in_flight,
            retry_after=answer.retry_after,
            ttfb=answer.ttfb,
            wall=self.wall(),
        )
        host.in_flight -= 1
        host.answered = True
        delay = self.delay_of(key)
        if delay > 0:
            host.ready_at = max(host.ready_at, now + delay * (1 + self.jitter * self.rng()))
        self._wake(key, host, now)

    def noted(self, key: str, now: float, answer: Answer) -> None:
        """An answer of the host to a request that was not one of its queue's (its
        robots.txt): it counts for the host's rate too."""
        host = self._host(key)
        host.last_start = max(host.last_start, answer.sent)
        host.rate.answered(
            now,
            answer.status,
            sent=answer.sent,
            in_flight=host.in_flight + 1,
            retry_after=answer.retry_after,
            ttfb=answer.ttfb,
            wall=self.wall(),
        )
        self._wake(key, host, now)

    def hold(self, key: str) -> None:
        self._host(key).held = True

    def release(self, key: str, now: float, min_delay: float = 0.0) -> None:
        """Let a held host go, once its robots.txt came back (a request to it: the
        first page waits the host's delay after it). `min_delay`: its Crawl-delay."""
        host = self._host(key)
        host.held = False
        host.min_delay = max(host.min_delay, min_delay)
        host.rate.set_floor(self.delay_of(key))
        delay = self.delay_of(key)
        if delay > 0:
            host.ready_at = max(host.ready_at, now + delay * (1 + self.jitter * self.rng()))
        self._wake(key, host, now)

    def queued_for(self, key: str) -> int:
        host = self._hosts.get(key)
        return len(host.queue) if host is not None else 0

    def delay_of(self, key: str) -> float:
        """The host's hard delay: `--delay` or its Crawl-delay, whichever is largest."""
        host = self._hosts[key]
        return max(self.delay, host.min_delay)

    def in_flight(self, key: str) -> int:
        return self._hosts[key].in_flight

    def rate_of(self, key: str) -> SiteRate:
        return self._host(key).rate

    def free_at(self, key: str) -> float:
        """When the host's delay, pause and rate let a request start, whatever is
        in flight (for a request that is not one of its queue's: its robots.txt)."""
        return self._ready_at(self._host(key))

    def paused_until(self, key: str) -> float:
        """Until when the host's `Retry-After` pauses it (0: never paused)."""
        host = self._hosts.get(key)
        return host.rate.paused_until if host is not None else 0.0

    def given_up(self, key: str) -> str | None:
        """Why the host's URLs are not sent any more (its `Retry-After` is past
        `max_wait`), or None."""
        host = self._hosts.get(key)
        if host is None or host.rate.given_up is None:
            return None
        return f"rate limited: the site asks to wait {host.rate.wait_text()} s"

    def next_ready_at(self) -> float | None:
        """When a sleeping host may start again, if any is waiting for time."""
        sleeping = self._sleeping
        while sleeping and sleeping[0][1] != self._hosts[sleeping[0][2]].generation:
            heapq.heappop(sleeping)  # stale: the host was placed again since
        return sleeping[0][0] if sleeping else None

    def slowed(self) -> list[Slowed]:
        """The hosts that answered 429 or 503 during the run, by name."""
        slowed = []
        for key in sorted(self._hosts):
            rate = self._hosts[key].rate
            if rate.slowed:
                paused, given_up = rate.paused_seconds, rate.given_up is not None
                slowed.append(
                    Slowed(
                        key,
                        rate.counts[429],
                        rate.counts[503],
                        paused,
                        rate.limit,
                        rate.rate,
                        given_up,
                    )
                )
        return slowed

    def slowed_now(self, now: float) -> list[str]:
        """The hosts being slowed now: paused, given up, or under their limits
        after a 429 or 503, with URLs still to send."""
        names = []
        for key, host in self._hosts.items():
            rate = host.rate
            if not rate.slowed or not (host.queue or host.in_flight):
                continue
            pressed = rate.limit < self.per_host or rate.spacing > rate.floor
            if pressed or rate.paused_until > now or rate.given_up is not None:
                names.append(key)
        return sorted(names)

    # -- inside ------------------------------------------------------------------
    def _host(self, key: str) -> _Host[T]:
        host = self._hosts.get(key)
        if host is None:
            rate = SiteRate(self.per_host, self.delay, self.max_wait, self.start_window)
            host = self._hosts[key] = _Host(rate)
        return host

    def _limit(self, host: _Host[T]) -> float:
        if host.rate.given_up is not None:
            return math.inf  # nothing is sent: its items are answered at once
        delayed = max(self.delay, host.min_delay) > 0
        first = self.first_alone and not host.answered
        return 1 if delayed or first else host.rate.limit

    def _ready_at(self, host: _Host[T]) -> float:
        rate = host.rate
        if rate.given_up is not None:
            return -math.inf
        # The floor is kept by `ready_at`, from the end of the last request; the
        # spacing the rate adds above it counts from the start of the last one.
        spacing = rate.spacing if rate.spacing > rate.floor else 0.0
        return max(host.ready_at, rate.paused_until, host.last_start + spacing)

    def _can_start(self, host: _Host[T], now: float) -> bool:
        return (
            bool(host.queue)
            and not host.held
            and host.in_flight < self._limit(host)
            and now >= self._ready_at(host)
        )

    def _wake(self, key: str, host: _Host[T], now: float) -> None:
        """Place a host again after its limits changed: an earlier place may be
        too late (given up) or too early (paused)."""
        if host.placed and host.rate.given_up is not None:
            host.placed = False
            host.generation += 1
        self._place(key, host, now)

    def _place(self, key: str, host: _Host[T], now: float) -> None:
        """Put a host where it will be looked at again: in the turn if it may start
        now, in the heap if only time stands in its way. A host at its bound or held
        is placed again by `done` or `release`."""
        if host.placed or not host.queue or host.held:
            return
        if host.in_flight >= self._limit(host):
            return
        host.placed = True
        ready_at = self._ready_at(host)
        if now >= ready_at:
            self._turns.append(key)
        else:
            host.generation += 1
            heapq.heappush(self._sleeping, (ready_at, host.generation, key))
