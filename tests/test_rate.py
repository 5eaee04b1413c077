"""crawler.frontier.rate: a site's rate from the answers it gives, a table of answer
sequences -> in-flight, rate, pause and verdict, on a fake clock."""

from __future__ import annotations

import math
from email.utils import formatdate
from typing import NamedTuple

import pytest

from crawler.frontier.rate import RECOVER_TO, SiteRate

WALL = 1_800_000_000.0  # the wall clock when the answers come (seconds since the epoch)


class A(NamedTuple):
    """One answer: at `now`, `status`, to a request sent at `sent`, with `in_flight`
    out when it came, its Retry-After and time to first byte."""

    now: float
    status: int = 200
    retry_after: str | None = None
    in_flight: int = 8
    sent: float | None = None
    ttfb: float = 0.0


def fine(count: int, start: float = 0.0, every: float = 0.1, ttfb: float = 0.0) -> list[A]:
    return [A(start + n * every, ttfb=ttfb) for n in range(count)]


def play(answers: list[A], per_host: int = 8, floor: float = 0.0, max_wait: float = 60.0):
    rate = SiteRate(per_host, floor, max_wait)
    for a in answers:
        sent = a.now - 0.01 if a.sent is None else a.sent
        rate.answered(a.now, a.status, sent=sent, in_flight=a.in_flight,
                      retry_after=a.retry_after, ttfb=a.ttfb, wall=WALL)  # fmt: skip
    return rate


def date_in(seconds: float) -> str:
    return formatdate(WALL + seconds, usegmt=True)


# name, answers, per_host, floor, expected: (limit, requests a second or None,
# paused_until, given_up)
CASES = [
    ("fine answers: full speed, nothing slowed", fine(30), 8, 0.0, (8, None, 0.0, None)),
    ("a 429 halves the in-flight and the rate the site took (10/s)",
     [*fine(10), A(1.0, 429)], 8, 0.0, (4, 5.0, 0.0, None)),
    ("a 503 (busy) halves the in-flight only", [*fine(10), A(1.0, 503)], 8, 0.0,
     (4, None, 0.0, None)),
    ("a 503 to a single request in flight halves the rate",
     [*fine(10), A(1.0, 503, in_flight=1)], 8, 0.0, (1, 5.0, 0.0, None)),
    ("its Retry-After in seconds pauses the site; 10 answers took 1 s and 3 asked",
     [*fine(10), A(1.0, 429, "3")], 8, 0.0, (4, 10 / 4 / 2, 4.0, None)),
    ("its Retry-After as an HTTP date, read on the wall clock",
     [*fine(10), A(1.0, 429, date_in(5))], 8, 0.0, (4, 10 / 6 / 2, 6.0, None)),
    ("Retry-After 0: slowed, not paused", [*fine(10), A(1.0, 429, "0")], 8, 0.0,
     (4, 5.0, 0.0, None)),
    ("a Retry-After that is no number or date is none: still slowed",
     [*fine(10), A(1.0, 429, "soon")], 8, 0.0, (4, 5.0, 0.0, None)),
    ("a negative Retry-After is none", [*fine(10), A(1.0, 429, "-5")], 8, 0.0,
     (4, 5.0, 0.0, None)),
    ("a Retry-After date in the past is none",
     [*fine(10), A(1.0, 429, date_in(-30))], 8, 0.0, (4, 5.0, 0.0, None)),
    ("a Retry-After past --max-wait gives the site up",
     [*fine(10), A(1.0, 429, "3600")], 8, 0.0, (4, 5.0, 0.0, 3600.0)),
    ("a Retry-After date past --max-wait too",
     [A(1.0, 503, date_in(7200))], 8, 0.0, (4, None, 0.0, 7200.0)),
    ("a Retry-After too large for any clock is past --max-wait",
     [A(1.0, 429, "9" * 400)], 8, 0.0, (4, None, 0.0, math.inf)),
    ("a date past any calendar too",
     [A(1.0, 429, "Fri, 01 Jan 99999 00:00:00 GMT")], 8, 0.0, (4, None, 0.0, math.inf)),
    ("a site that says no at once: only the in-flight to halve",
     [A(0.1, 429)], 8, 0.0, (4, None, 0.0, None)),
    ("the answers of one burst halve once: sent before the halving",
     [*fine(10), A(1.0, 429, in_flight=8), A(1.01, 429, in_flight=7, sent=0.99),
      A(1.02, 429, in_flight=6, sent=0.99)], 8, 0.0, (4, 5.0, 0.0, None)),
    ("a 429 to a request sent after the halving halves again",
     [*fine(10), A(1.0, 429), A(3.0, 429, in_flight=4, sent=2.0)], 8, 0.0,
     (2, 2.5, 0.0, None)),
    ("fine answers bring the rate back to just below what the site took",
     [*fine(10), A(1.0, 429), *fine(20, start=2.0)], 8, 0.0,
     (7, RECOVER_TO * 10.0, 0.0, None)),
    ("an answer that is not the site's changes nothing",
     [*fine(10), A(1.0, 0), A(1.1, 0)], 8, 0.0, (8, None, 0.0, None)),
    ("--delay / Crawl-delay stays a floor under any recovery",
     [*fine(10), A(1.0, 429), *fine(2000, start=2.0)], 8, 0.5, (8, 2.0, 0.0, None)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("answers", "per_host", "floor", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_answer_sequences(answers: list[A], per_host: int, floor: float, expected) -> None:
    rate = play(answers, per_host, floor)
    limit, per_second, paused_until, given_up = expected
    assert rate.limit == limit
    if per_second is None:
        assert rate.rate is None
    else:
        assert rate.rate == pytest.approx(per_second, rel=0.02)
    assert rate.paused_until == pytest.approx(paused_until)
    assert rate.given_up == (None if given_up is None else pytest.approx(given_up))


def test_one_429_does_not_slow_a_site_for_the_rest_of_the_run() -> None:
    """Past what the site took, the rate probes upwards until the spacing holds
    nothing back, and the in-flight comes back to --per-host, round by round."""
    rate = play([*fine(10), A(1.0, 429, "1", in_flight=4), *fine(3000, 2.0, 0.01, 0.01)], 4)
    assert rate.rate is None
    assert rate.limit == 4
    assert rate.counts == {429: 1, 503: 0} and rate.paused_seconds == 1.0


def test_per_host_is_a_hard_limit() -> None:
    rate = play(fine(500), per_host=3)
    assert rate.limit == 3


def test_paused_time_adds_up_without_counting_overlaps() -> None:
    rate = play([A(1.0, 429, "2"), A(2.0, 429, "2", sent=0.9), A(10.0, 503, "1", sent=9.0)])
    assert rate.paused_seconds == pytest.approx(4.0)  # 1..3, 3..4, 10..11
    assert rate.paused_until == 11.0


def test_answers_slowing_under_load_lower_the_in_flight() -> None:
    """Unpressed, the site answers in 0.1 s; pressed, in 0.3 s: the in-flight
    shrinks a round at a time until the answers are back near 0.1 s."""
    rate = play(fine(8, ttfb=0.1), per_host=8)
    assert rate.limit == 8
    rate = play([*fine(8, ttfb=0.1), *fine(40, 1.0, 0.1, 0.3)], per_host=8)
    assert rate.limit < 4


def test_when_it_recovers_it_gets_more_again() -> None:
    answers = [*fine(8, ttfb=0.1), *fine(40, 1.0, 0.1, 0.3), *fine(200, 6.0, 0.1, 0.1)]
    assert play(answers, per_host=8).limit == 8


def test_a_site_that_asks_for_a_minute_again_and_again_is_given_up() -> None:
    """60 s each time is within --max-wait 60, but the second 60 s right after the
    first is 120 s without a request let through."""
    once = play([*fine(10), A(1.0, 429, "60")])
    assert once.given_up is None and once.paused_until == 61.0
    again = play([*fine(10), A(1.0, 429, "60"), A(61.5, 429, "60", sent=61.0)])
    assert again.given_up == pytest.approx(120.5)
    assert again.wait_text() == "120"
    recovered = play([*fine(10), A(1.0, 429, "60"), *fine(5, 61.1), A(62.0, 429, "60", sent=61.8)])
    assert recovered.given_up is None  # it let requests through in between


def test_a_site_that_says_503_for_ever_is_given_up_after_max_wait() -> None:
    """No Retry-After: the site is slowed down to one request every MAX_SPACING at
    most, and given up once it has said no for longer than --max-wait."""
    answers = [A(float(n), 503, in_flight=1, sent=n - 0.5) for n in range(2, 100, 5)]
    rate = play([*fine(20), *answers])
    assert rate.spacing <= 10.0
    assert rate.given_up is not None and rate.given_up > 60


def test_the_wait_a_site_asked_for_is_said() -> None:
    assert play([A(1.0, 429, "3600")]).wait_text() == "3600"
    assert play([A(1.0, 429, "9" * 400)]).wait_text() == "more than 60"


def test_until_a_site_says_no_the_in_flight_doubles_a_round() -> None:
    """Slow start: from one request, 1 + 1 + 2 + 4 answers reach 8 in flight."""
    rate = SiteRate(per_host=8, window=1)
    for n in range(8):
        rate.answered(0.1 * n, 200, sent=0.1 * n - 0.01, in_flight=rate.limit)
    assert rate.limit == 8


def test_after_its_first_answer_a_site_gets_four_in_flight_then_twice_as_many_a_round() -> None:
    """The first request alone, 4 after it, 8 after those 4 answered, then 16."""
    rate = SiteRate(per_host=32, window=1)
    limits = []
    for n in range(13):
        rate.answered(0.05 * n, 200, sent=0.05 * n - 0.05, in_flight=rate.limit)
        limits.append(rate.limit)
    assert limits[0] == 4 and limits[4] == 8 and limits[12] == 16


def test_one_slow_page_among_fast_ones_is_no_pressed_site() -> None:
    """A search page that takes 1.5 s beside pages that take 10 ms: the median of
    the last answers is still 10 ms, and the in-flight is kept."""
    answers = [*fine(3, ttfb=0.01), A(0.5, ttfb=1.5), *fine(4, 0.6, 0.1, 0.01)]
    assert play(answers, per_host=8).limit == 8
    assert play([*fine(1, ttfb=0.01), A(0.5, ttfb=1.5)], per_host=8).limit == 8


def test_a_site_slower_with_each_request_in_flight_settles_within_twice_its_time() -> None:
    """A closed loop: the site answers in 50 ms x the requests it serves. The
    in-flight settles at 2 (100 ms, 2x unpressed) and stays there."""
    rate, now, limits = SiteRate(per_host=8, window=1), 0.0, []
    for _ in range(200):
        in_flight = rate.limit
        ttfb = 0.05 * in_flight
        rate.answered(now, 200, sent=now - ttfb, in_flight=in_flight, ttfb=ttfb)
        now += ttfb / in_flight
        limits.append(rate.limit)
    assert set(limits[-150:]) == {2}
