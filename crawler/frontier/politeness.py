"""Per-host politeness: which queued URL may be requested now. Pure bookkeeping,
no I/O; the clock is passed in, so tests drive it.

The key of a host is its origin, `scheme://host:port` (the port written only when
it is not the scheme's default): the unit a robots.txt covers (RFC 9309). Two test servers on
127.0.0.1 with different ports are two hosts; `http://a` and `https://a` are two.

For each host:
- at most `per_host` requests are in flight (submitted, not yet answered);
- with a delay (`--delay`, the site's `Crawl-delay`, or a slow-down earned by
  429/503 answers, whichever is largest) requests go one at a time, each starting
  at least the delay after the previous one ended, stretched by a random factor
  in [1, 1 + `jitter`] so that requests do not fall into lockstep; never shorter
  than asked;
- a host that answers 429 or 503 (even when a retry then succeeded) gets a delay
  that doubles each time, from `THROTTLE_START` up to `THROTTLE_MAX`, for the
  rest of the run;
- a host can be held (while its robots.txt is being fetched);
- with `first_alone`, a host's first request goes alone: the others wait for its
  answer, which may set the session cookie they need (a robots.txt's answer
  does not count: a site may set it only with its pages).

Hosts take turns: a host with 10,000 queued URLs gets no more than its bound,
and the next ready host is served first in round-robin order. Queued URLs live
here, so the caller bounds their number (the scheduler's look-ahead); the state
kept per host after its queue empties is a few numbers.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

THROTTLE_START = 1.0
THROTTLE_MAX = 60.0

T = TypeVar("T")


@dataclass
class _Host(Generic[T]):
    queue: deque[T] = field(default_factory=deque)
    in_flight: int = 0
    ready_at: float = 0.0  # the earliest start of the next request
    min_delay: float = 0.0  # robots.txt Crawl-delay
    throttle: float = 0.0  # grown by 429/503 answers
    held: bool = False
    placed: bool = False  # in the ready turn or the sleeping heap
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
    ) -> None:
        self.per_host = per_host
        self.first_alone = first_alone
        self.delay = delay
        self.jitter = jitter
        self.rng = rng
        self.queued = 0
        self._hosts: dict[str, _Host[T]] = {}
        self._turns: deque[str] = deque()  # hosts that may start a request now
        self._sleeping: list[tuple[float, str]] = []  # (ready_at, host) waiting for time

    # -- what the scheduler asks -------------------------------------------------
    def add(self, key: str, item: T, now: float) -> None:
        host = self._host(key)
        host.queue.append(item)
        self.queued += 1
        self._place(key, host, now)

    def pop_ready(self, now: float) -> tuple[str, T] | None:
        """The next item allowed to start now, taking hosts in turn; None if none is.
        The caller then calls `started` (or `add` back if it does not send it)."""
        while self._sleeping and self._sleeping[0][0] <= now:
            _, key = heapq.heappop(self._sleeping)
            host = self._hosts[key]
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
        self._place(key, host, now)

    def skipped(self, key: str, now: float) -> None:
        """An item popped for `key` was answered without a request (robots.txt said no)."""
        self._place(key, self._hosts[key], now)

    def done(self, key: str, now: float, throttled: bool = False) -> None:
        """A request to `key` ended; `throttled` if the host answered 429 or 503."""
        host = self._hosts[key]
        host.in_flight -= 1
        host.answered = True
        if throttled:
            host.throttle = min(max(THROTTLE_START, 2 * host.throttle), THROTTLE_MAX)
        delay = self.delay_of(key)
        if delay > 0:
            host.ready_at = max(host.ready_at, now + delay * (1 + self.jitter * self.rng()))
        self._place(key, host, now)

    def hold(self, key: str) -> None:
        self._host(key).held = True

    def release(self, key: str, now: float, min_delay: float = 0.0) -> None:
        """Let a held host go, once its robots.txt came back (a request to it: the
        first page waits the host's delay after it). `min_delay`: its Crawl-delay."""
        host = self._host(key)
        host.held = False
        host.min_delay = max(host.min_delay, min_delay)
        delay = self.delay_of(key)
        if delay > 0:
            host.ready_at = max(host.ready_at, now + delay * (1 + self.jitter * self.rng()))
        self._place(key, host, now)

    def queued_for(self, key: str) -> int:
        host = self._hosts.get(key)
        return len(host.queue) if host is not None else 0

    def delay_of(self, key: str) -> float:
        host = self._hosts[key]
        return max(self.delay, host.min_delay, host.throttle)

    def in_flight(self, key: str) -> int:
        return self._hosts[key].in_flight

    def next_ready_at(self) -> float | None:
        """When a sleeping host may start again, if any is waiting for time."""
        return self._sleeping[0][0] if self._sleeping else None

    # -- inside ------------------------------------------------------------------
    def _host(self, key: str) -> _Host[T]:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host()
        return host

    def _limit(self, host: _Host[T]) -> int:
        delayed = max(self.delay, host.min_delay, host.throttle) > 0
        first = self.first_alone and not host.answered
        return 1 if delayed or first else self.per_host

    def _can_start(self, host: _Host[T], now: float) -> bool:
        return (
            bool(host.queue)
            and not host.held
            and host.in_flight < self._limit(host)
            and now >= host.ready_at
        )

    def _place(self, key: str, host: _Host[T], now: float) -> None:
        """Put a host where it will be looked at again: in the turn if it may start
        now, in the heap if only time stands in its way. A host at its bound or held
        is placed again by `done` or `release`."""
        if host.placed or not host.queue or host.held:
            return
        if host.in_flight >= self._limit(host):
            return
        host.placed = True
        if now >= host.ready_at:
            self._turns.append(key)
        else:
            heapq.heappush(self._sleeping, (host.ready_at, key))
