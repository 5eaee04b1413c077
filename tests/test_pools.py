"""crawler.pools: the errors, make_pool, and the fake pool the scheduler's tests use."""

from __future__ import annotations

import pytest

from crawler.pools import TaskLost, make_pool
from crawler.pools.base import timed_out
from crawler.pools.fake import FakePool
from crawler.pools.process import ProcessPool
from crawler.settings import FetchSettings, RunSettings


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (TaskLost(), "worker lost"),
        (timed_out(185.0), "timed out (worker ended after 185 s)"),
        (timed_out(6.5), "timed out (worker ended after 6.5 s)"),
    ],
)
def test_a_lost_task_reads_as_its_db_txt_reason(error: TaskLost, text: str) -> None:
    assert str(error) == text


def test_make_pool_returns_one_pool_that_answers_for_its_tasks() -> None:
    settings = RunSettings(workers=2, threads=3, fetch=FetchSettings(timeout=1.0, retries=0))
    pool = make_pool(settings)
    try:
        assert isinstance(pool, ProcessPool)
        assert pool.reports_lost_tasks and pool.threads == 3
    finally:
        pool.terminate()


def double(value: int) -> int:
    return 2 * value


def test_the_fake_pool_answers_at_once_or_when_told() -> None:
    answers: list[object] = []
    errors: list[BaseException] = []
    at_once = FakePool()
    at_once.apply_async(double, (2,), callback=answers.append, error_callback=errors.append)
    assert answers == [4]

    held = FakePool(hold=True)
    for value in (1, 2, 3):
        held.apply_async(double, (value,), callback=answers.append, error_callback=errors.append)
    assert held.outstanding == held.most_outstanding == 3
    held.release()
    held.lose(reason="timed out (worker ended after 6 s)")
    assert answers == [4, 2] and [str(error) for error in errors] == [
        "timed out (worker ended after 6 s)"
    ]
    held.terminate()
    held.release()  # after terminate: no callback
    assert answers == [4, 2] and held.outstanding == 0
    assert held.calls == ["terminate"]
    with pytest.raises(ValueError):
        held.apply_async(double, (4,))
