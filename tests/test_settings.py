"""The bounds every wait is derived from (crawler/settings.py)."""

from __future__ import annotations

import math

import pytest

from crawler.settings import FetchSettings, RunSettings


@pytest.mark.parametrize("workers", [1, 2, 3, 16, 64])
@pytest.mark.parametrize("threads", [1, 8])
@pytest.mark.parametrize("fetch", [FetchSettings(), FetchSettings(timeout=1, retries=0)])
def test_the_watchdog_never_writes_off_a_task_that_was_only_queued(
    workers: int, threads: int, fetch: FetchSettings
) -> None:
    """The last task in flight waits for every task before it, `workers x threads`
    at a time, each up to its limit, then runs up to its own: the watchdog (where a
    pool cannot tell of a lost task) must allow all that."""
    settings = RunSettings(workers=workers, threads=threads, fetch=fetch)
    assert settings.max_in_flight == 2 * workers * threads + 2
    ahead = settings.max_in_flight - 1
    worst_case = (math.ceil(ahead / (workers * threads)) + 1) * fetch.task_limit()
    assert settings.watchdog_limit() > worst_case


@pytest.mark.parametrize(
    ("timeout", "retries", "backoff_max", "retry_after_cap", "limit"),
    [
        (10.0, 2, 8.0, 60.0, 3 * 20 + 2 * 60 + 5),  # the defaults: 185 s
        (1.0, 0, 8.0, 60.0, 1 * 2 + 0 + 5),
        (2.0, 3, 30.0, 10.0, 4 * 4 + 3 * 30 + 5),
    ],
)
def test_task_limit_covers_every_attempt_and_wait(
    timeout: float, retries: int, backoff_max: float, retry_after_cap: float, limit: float
) -> None:
    fetch = FetchSettings(
        timeout=timeout, retries=retries, backoff_max=backoff_max, retry_after_cap=retry_after_cap
    )
    assert fetch.task_limit() == limit
