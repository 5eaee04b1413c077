"""crawler.frontier.politeness: the per-host bookkeeping, driven by a fake clock."""

from __future__ import annotations

import itertools

import pytest

from crawler.frontier.politeness import Answer, HostQueues
from crawler.urls import host_key


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://example.com/a", "http://example.com"),
        ("http://EXAMPLE.com:80/a", "http://example.com"),
        ("https://example.com/a?b", "https://example.com"),
        ("https://example.com:80/", "https://example.com:80"),
        ("http://127.0.0.1:8081/x", "http://127.0.0.1:8081"),
        ("http://127.0.0.1:8082/x", "http://127.0.0.1:8082"),
        ("http://user:pw@example.com/", "http://example.com"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
    ],
)
def test_host_key_is_the_origin(url: str, key: str) -> None:
    assert host_key(url) == key


def drain(queues: HostQueues, now: float) -> list[tuple[str, str]]:
    """Start everything that may start now."""
    started = []
    while (picked := queues.pop_ready(now)) is not None:
        queues.started(picked[0], now)
        started.append(picked)
    return started


def test_per_host_bound_holds_whatever_is_queued() -> None:
    queues: HostQueues[str] = HostQueues(per_host=4)
    for n in range(100):
        queues.add("a", f"a{n}", 0.0)
    assert len(drain(queues, 0.0)) == 4
    queues.done("a", 1.0)
    assert [item for _, item in drain(queues, 1.0)] == ["a4"]
    assert queues.in_flight("a") == 4


def test_a_big_host_does_not_starve_the_others() -> None:
    queues: HostQueues[str] = HostQueues(per_host=2)
    for n in range(1000):
        queues.add("big", f"big{n}", 0.0)
    for host in ("b", "c"):
        for n in range(3):
            queues.add(host, f"{host}{n}", 0.0)
    first = drain(queues, 0.0)
    assert sorted(host for host, _ in first) == ["b", "b", "big", "big", "c", "c"]


def test_hosts_take_turns() -> None:
    queues: HostQueues[str] = HostQueues(per_host=100)
    for n in range(3):
        queues.add("a", f"a{n}", 0.0)
        queues.add("b", f"b{n}", 0.0)
    order = [item for _, item in drain(queues, 0.0)]
    assert order == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_a_delay_means_one_at_a_time_spaced_from_the_end_of_the_last() -> None:
    queues: HostQueues[str] = HostQueues(per_host=4, delay=2.0, jitter=0.5, rng=lambda: 1.0)
    for n in range(3):
        queues.add("a", f"a{n}", 0.0)
    assert len(drain(queues, 0.0)) == 1
    queues.done("a", 10.0)
    assert queues.next_ready_at() == 13.0  # 2 s stretched by the full 50% jitter
    assert drain(queues, 12.9) == []
    assert len(drain(queues, 13.0)) == 1


def test_jitter_never_makes_a_delay_shorter() -> None:
    queues: HostQueues[str] = HostQueues(per_host=4, delay=2.0, rng=lambda: 0.0)
    queues.add("a", "a0", 0.0)
    queues.add("a", "a1", 0.0)
    drain(queues, 0.0)
    queues.done("a", 5.0)
    assert queues.next_ready_at() == 7.0


def test_a_held_host_waits_for_release_and_takes_its_crawl_delay() -> None:
    queues: HostQueues[str] = HostQueues(per_host=4, rng=lambda: 0.0)
    queues.hold("a")
    queues.add("a", "a0", 0.0)
    queues.add("a", "a1", 0.0)
    queues.add("b", "b0", 0.0)
    assert [item for _, item in drain(queues, 0.0)] == ["b0"]
    queues.release("a", 1.0, min_delay=5.0)
    assert drain(queues, 5.9) == []  # robots.txt itself was a request to the host
    assert [item for _, item in drain(queues, 6.0)] == ["a0"]
    queues.done("a", 2.0)
    assert drain(queues, 6.9) == []
    assert [item for _, item in drain(queues, 7.0)] == ["a1"]


def test_a_skipped_item_frees_its_turn() -> None:
    queues: HostQueues[str] = HostQueues(per_host=1)
    queues.add("a", "a0", 0.0)
    queues.add("a", "a1", 0.0)
    host, _item = queues.pop_ready(0.0)
    queues.skipped(host, 0.0)  # robots.txt refused a0: no request was made
    assert queues.pop_ready(0.0) == ("a", "a1")
    assert queues.queued == 0


def test_a_retry_after_pauses_the_whole_host_not_the_others() -> None:
    queues: HostQueues[str] = HostQueues(per_host=4)
    queues.add("a", "a0", 0.0)
    queues.add("b", "b0", 0.0)
    assert len(drain(queues, 0.0)) == 2
    queues.done("a", 1.0, Answer(429, "2", sent=0.0))
    queues.add("b", "b1", 1.0)
    for n in range(3):
        queues.add("a", f"a{n + 1}", 1.0)
    assert drain(queues, 1.5) == [("b", "b1")]
    assert queues.next_ready_at() == 3.0
    assert drain(queues, 2.9) == []
    assert [item for _, item in drain(queues, 3.0)] == ["a1"]  # its in-flight halved: 1


def test_a_429_halves_the_in_flight_and_fine_answers_bring_it_back() -> None:
    queues: HostQueues[str] = HostQueues(per_host=8)
    for n in range(200):
        queues.add("a", f"a{n}", 0.0)
    assert len(drain(queues, 0.0)) == 8
    queues.done("a", 0.1, Answer(503, sent=0.0))  # 8 in flight were too many
    for _ in range(7):
        queues.done("a", 0.1, Answer(503, sent=0.0))  # the same burst: halved once
    assert len(drain(queues, 0.2)) == 4
    now = 0.2
    for _ in range(40):  # each answer frees a place; the in-flight grows a round at a time
        now += 0.01
        queues.done("a", now, Answer(200, sent=now - 0.01))
        drain(queues, now)
    assert queues.in_flight("a") == 7  # one short of the 8 that were too many


def test_a_host_given_up_hands_its_items_out_at_once() -> None:
    queues: HostQueues[str] = HostQueues(per_host=1, max_wait=60.0)
    for n in range(5):
        queues.add("a", f"a{n}", 0.0)
    assert len(drain(queues, 0.0)) == 1
    assert queues.given_up("a") is None
    queues.done("a", 1.0, Answer(429, "3600", sent=0.0))
    assert queues.given_up("a") == "rate limited: the site asks to wait 3600 s"
    handed = []
    while (picked := queues.pop_ready(1.0)) is not None:
        queues.skipped("a", 1.0)
        handed.append(picked[1])
    assert handed == ["a1", "a2", "a3", "a4"]
    assert queues.slowed()[0].given_up


def test_the_sites_being_slowed_are_named() -> None:
    queues: HostQueues[str] = HostQueues(per_host=4)
    for host in ("a", "b"):
        queues.add(host, host + "0", 0.0)
        queues.add(host, host + "1", 0.0)
    drain(queues, 0.0)
    queues.done("a", 1.0, Answer(429, "5", sent=0.0))
    queues.done("b", 1.0, Answer(200, sent=0.0))
    assert queues.slowed_now(2.0) == ["a"]
    slowed = queues.slowed()
    assert [(s.host, s.answers_429, s.paused_seconds) for s in slowed] == [("a", 1, 5.0)]


def test_crawl_delay_stays_a_hard_limit_after_a_429() -> None:
    """A 429 halves the rate under the Crawl-delay too (one request every 4 s, not
    2); fine answers bring it back to the Crawl-delay, never below."""
    queues: HostQueues[str] = HostQueues(per_host=4, rng=lambda: 0.0)
    queues.hold("a")
    for n in range(100):
        queues.add("a", f"a{n}", 0.0)
    queues.release("a", 0.0, min_delay=2.0)
    assert len(drain(queues, 2.0)) == 1
    queues.done("a", 2.5, Answer(429, "1", sent=2.0))
    assert drain(queues, 5.9) == []
    now = 6.0
    starts = []
    for _ in range(30):
        now = queues.next_ready_at() or now
        assert [host for host, _ in drain(queues, now)] == ["a"]
        starts.append(now)
        queues.done("a", now + 0.1, Answer(200, sent=now))
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 2.1 - 1e-9  # 2 s from the end of the last request (0.1 s long)
    assert gaps[-1] == pytest.approx(2.1)
