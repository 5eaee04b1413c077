"""How fast one site may be asked: a rate controller per site. Pure: no I/O, the
clocks are passed in (`now`: the monotonic clock of the frontier; `wall`: seconds
since the epoch, only to read a `Retry-After` date).

A site has two knobs, both under hard limits that nothing here loosens:
`window`, the requests in flight (1 to `per_host`), and `spacing`, the seconds
between two request starts (at least `floor`, the `--delay`/`Crawl-delay`; 0: none).

What an answer does (`answered`), in this order:
1. A `429` or a `503` is counted, and
   - its `Retry-After` (`crawler.retry_after.parse_retry_after`: seconds or an
     HTTP date; one that is neither, negative or a date in the past is no
     `Retry-After` at all), added to the time the site has said no since it last
     let a request through, longer than `max_wait` (or too large for any clock)
     gives the site up: `given_up` says how long it asked for, and its URLs are
     not sent any more. So no site holds the run for longer than `max_wait` at
     a time, whether it asks for an hour at once or for a minute again and again;
   - a shorter one pauses the whole site until then (`paused_until`);
   - it halves the rate, once a round: not again for the answers to requests sent
     before the last halving (they were sent at the rate already halved). The
     window halves (the requests in flight when the answer came, halved, at least
     1), which halves the rate of a site whose answer time sets the pace: a 503
     says the site is busy. A 429 says too many requests a second, and so does a
     503 to a single request in flight: the site gets a spacing too (or a site
     already spaced a longer one), twice that of the rate the site took
     since it last said no (or since its first answer), pauses included, the
     one it asks for now too (20 requests taken at once, then a second's pause
     asked for: 20 a second). When fewer than `MEASURED` answers came since, the
     current rate is halved (a site that says no at once leaves only the
     in-flight to halve); never slower than one request every `MAX_SPACING`
     (a site that stays that slow is given up, as above). What the site took is
     remembered (`ceiling`) and the in-flight that was too many (`too_many`).
2. Any other answer raises the rate step by step, fast back up to just below what
   the site took before it said no, then slowly past it, probing:
   - until the site first says no or answers slower (3.), the window grows by one
     an answer, and is at least `INITIAL_WINDOW` from the first answer on (it
     doubles each round, as TCP's slow start does from its initial window: a site
     that never limits the crawl is at `per_host` after a few rounds; the first
     request alone, 4 after it, then 8, 16 ...); after that by one a round (1/window an
     answer), and by one every `PROBE_ROUNDS` rounds past `too_many - 1`, up to
     `per_host`;
   - the rate grows by `ceiling / RECOVER_ANSWERS` an answer up to
     `RECOVER_TO` x `ceiling`, then by `PROBE_GROWTH` an answer (compounded), a
     little more for each `PROBE_ACCELERATION` answers since the halving; once
     the spacing no longer holds anything back (it allows more than the window
     does at the answer time seen: a site that limits its requests in flight,
     not its rate), it is lifted: back to `floor`.
3. Latency: the answer time is the median time to first byte of the last
   `LATENCY_SAMPLES` answers, judged once `LATENCY_MIN_SAMPLES` have come (one slow
   page among fast ones, a search page say, is no sign of a pressed site); the shortest one seen is
   the site's unpressed answer time (`base`: a site pressed from its first answer
   on still answers one request alone now and then, and one short answer too
   many only makes the crawl gentler). Above `SLOW_RATIO` x `base` (and
   `LATENCY_SLACK`) the window shrinks by one, once a round; it grows again only
   under `GROW_RATIO` x `base` (and the slack). So a site whose answers slow down
   as it is pressed is given fewer requests in flight, and its answer time stays
   within 2x its unpressed one; when it recovers, more.

An answer that is not the site's (a connection refused, a timeout) changes nothing.
A round is `window` answers.
"""

from __future__ import annotations

import math
import statistics
from collections import deque

from crawler.retry_after import parse_retry_after

SLOW_DOWN = frozenset({429, 503})
MAX_SPACING = 10.0  # seconds: slower than that, a site is as good as stalled (see max_wait)
MIN_ELAPSED = 0.1  # seconds: what the site took is measured over at least this long
RECOVER_ANSWERS = 10  # answers to come back from half the ceiling to it
RECOVER_TO = 0.95  # of the ceiling: fast up to there, then probing
PROBE_GROWTH = 0.001  # per answer past it, at first; then faster:
PROBE_ACCELERATION = 100  # answers without a no for each 0.1% more: x2 in ~300, x400 in 1000
MEASURED = 10  # fine answers in the last second it takes to measure what the site took
PROBE_ROUNDS = 50  # rounds per request more in flight, past the in-flight too many
LATENCY_SAMPLES = 8  # answers whose median time to first byte is the answer time
LATENCY_MIN_SAMPLES = 4  # fewer say nothing about the site yet
SLOW_RATIO = 1.6  # answer time over base above which the window shrinks
GROW_RATIO = 1.3  # and under which it may grow
LATENCY_SLACK = 0.02  # seconds more: a few milliseconds on a near site are no slowing down
BEYOND_CLOCKS = 1e10  # seconds (three centuries): a wait said as `more than --max-wait`
FREE_FACTOR = 1.0  # the spacing is lifted once it allows this much more than the window
INITIAL_WINDOW = 4  # in flight after a site's first fine answer in slow start: --per-host's default


class SiteRate:
    """The rate of one site (see the module's docstring), starting at `window`
    requests in flight (default `per_host`)."""

    def __init__(
        self,
        per_host: int,
        floor: float = 0.0,
        max_wait: float = 60.0,
        window: int | None = None,
    ) -> None:
        self.per_host = max(1, per_host)
        self.floor = floor
        self.max_wait = max_wait
        self.window = float(min(self.per_host, max(1, window or self.per_host)))
        self.spacing = floor
        self.paused_until = 0.0
        self.given_up: float | None = None  # the wait the site asked for, past max_wait
        self.ceiling = 0.0  # requests a second the site took when it last said no
        self.too_many = math.inf  # in flight when it last said no
        self.halved_at = -math.inf
        self.base: float | None = None  # unpressed time to first byte
        self.recent: float | None = None  # median time to first byte of the last answers
        self.samples: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.slow_start = True  # until the site first says no or slows down
        self.shrunk_at = 0  # answers counted at the last latency shrink
        self.answers = 0
        self.since_halving = 0  # fine answers since the rate was last halved
        self.counts = {429: 0, 503: 0}
        self.paused_seconds = 0.0
        self.counted_from = 0.0  # fine answers are counted since (a halving, the start)
        self.stalled_since: float | None = None  # the first no since the site last said yes

    # -- what the queues ask ----------------------------------------------------
    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return max(1, min(self.per_host, int(self.window)))

    @property
    def slowed(self) -> bool:
        """Whether the site said slow down (429, 503) during the run."""
        return bool(self.counts[429] or self.counts[503])

    @property
    def rate(self) -> float | None:
        """Requests a second the spacing allows; None when it holds nothing back."""
        return 1.0 / self.spacing if self.spacing > 0 else None

    def set_floor(self, floor: float) -> None:
        """A hard spacing learnt later (robots.txt's Crawl-delay)."""
        self.floor = max(self.floor, floor)
        self.spacing = max(self.spacing, self.floor)

    # -- what an answer tells ---------------------------------------------------
    def answered(
        self,
        now: float,
        status: int,
        *,
        sent: float = -math.inf,
        in_flight: int = 1,
        retry_after: str | None = None,
        ttfb: float = 0.0,
        wall: float = 0.0,
    ) -> None:
        """An answer of the site (`status`; 0 for none: changes nothing) to a request
        sent at `sent`, with `in_flight` requests out when it came (itself counted),
        its `Retry-After` value, its time to first byte (0: not measured)."""
        if status <= 0:
            return
        if status not in SLOW_DOWN:
            self.stalled_since = None
        if self.answers == 0:  # the rate the site takes is counted from its first answer
            self.counted_from = now  # (not its first request: the workers may be starting)
        self.answers += 1
        if status in SLOW_DOWN:
            self._slow_down(now, status, sent, in_flight, retry_after, wall)
            return
        self.since_halving += 1
        if ttfb > 0:
            self._latency(ttfb)
        self._grow()

    def _slow_down(
        self,
        now: float,
        status: int,
        sent: float,
        in_flight: int,
        retry_after: str | None,
        wall: float,
    ) -> None:
        self.counts[status] += 1
        self.slow_start = False
        wait = parse_retry_after(retry_after, now=wall)
        asked = 0.0  # the pause the site asks for: the time its answers so far stand for
        if self.stalled_since is None:
            self.stalled_since = now
        # What the site asks, all told: the time since it last let a request through,
        # and the pause it asks for now (a site asking for 60 s again and again asks
        # for more than 60 s).
        stalled = now - self.stalled_since + (wait if wait is not None else 0.0)
        if not (stalled <= self.max_wait and math.isfinite(stalled)):
            self.given_up = stalled
        elif wait is not None and wait > 0:
            asked = wait
            until = now + wait
            self.paused_seconds += max(0.0, until - max(self.paused_until, now))
            self.paused_until = max(self.paused_until, until)
        if sent <= self.halved_at:
            return  # sent before the last halving: at the rate halved already
        self.halved_at = now
        self.too_many = max(1, in_flight)
        self.window = max(1.0, self.too_many / 2)
        took = math.inf
        if self.since_halving >= MEASURED:  # the rate since it last said no, pauses included
            took = self.since_halving / (max(MIN_ELAPSED, now - self.counted_from) + asked)
        self.counted_from, self.since_halving = now, 0
        took = min(took, self.rate if self.rate is not None else math.inf)
        spaced = status == 429 or in_flight <= 1 or self.spacing > self.floor
        if took < math.inf and spaced:
            self.ceiling = took
            self.spacing = max(self.floor, min(MAX_SPACING, 2.0 / self.ceiling))

    def _grow(self) -> None:
        window = self.window
        if self.recent is None or self.base is None or self.recent < self._slower(GROW_RATIO):
            step = 1.0 if self.slow_start else 1.0 / window
            if window >= self.too_many - 1:
                step /= PROBE_ROUNDS
            grown = window + step
            if self.slow_start:  # one round at 2 in flight is one round more to per_host
                grown = max(grown, INITIAL_WINDOW)
            self.window = min(float(self.per_host), grown)
        if self.spacing > self.floor:
            rate = 1.0 / self.spacing
            if rate < RECOVER_TO * self.ceiling:
                rate = min(RECOVER_TO * self.ceiling, rate + self.ceiling / RECOVER_ANSWERS)
            else:  # probing: the longer the site has not said no, the faster
                rate *= 1 + PROBE_GROWTH * (1 + self.since_halving / PROBE_ACCELERATION)
            window_rate = self.limit / self.recent if self.recent else math.inf
            if rate > FREE_FACTOR * window_rate:
                self.spacing = self.floor
            else:
                self.spacing = max(self.floor, 1.0 / rate)

    def _slower(self, ratio: float) -> float:
        """The answer time `ratio` x the unpressed one, and `LATENCY_SLACK` more."""
        return ratio * (self.base or 0.0) + LATENCY_SLACK

    def _latency(self, ttfb: float) -> None:
        self.samples.append(ttfb)
        self.base = ttfb if self.base is None else min(self.base, ttfb)
        if len(self.samples) < LATENCY_MIN_SAMPLES:
            return
        self.recent = statistics.median(self.samples)
        round_over = self.answers - self.shrunk_at >= self.limit
        if self.recent > self._slower(SLOW_RATIO) and round_over and self.window > 1:
            self.window = max(1.0, float(self.limit - 1))
            self.shrunk_at = self.answers
            self.slow_start = False
            self.samples.clear()  # the answers to come tell of the in-flight shrunk

    # -- what is reported ---------------------------------------------------------
    def wait_text(self) -> str:
        """`N` of `rate limited: the site asks to wait N s`."""
        wait = self.given_up
        if wait is None or not wait < BEYOND_CLOCKS:
            return f"more than {self.max_wait:g}"
        return f"{wait:.0f}"
