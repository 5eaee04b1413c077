"""crawler.frontier.politeness: the per-host bookkeeping, driven by a fake clock."""

from __future__ import annotations

import pytest

from crawler.frontier.politeness import HostQueues
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
