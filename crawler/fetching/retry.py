"""What is worth another attempt, and how long to wait before it.

The only retry layer (urllib3's own retries are off): connection errors, timeouts,
bodies cut short, and the statuses in `RETRY_STATUSES` are retried; any other
4xx, and everything else, is final. Waits grow exponentially with full jitter,
unless the server sent `Retry-After` (seconds or an HTTP date), which is obeyed up
to a cap. A fetch for the crawl's frontier (`give_back`) does not retry 429 and 503
(`GIVEN_BACK`): it returns them, for the frontier to pause the whole site and send
the URL again (`crawler.frontier.rate`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.settings import FetchSettings

if TYPE_CHECKING:
    from tenacity import RetryCallState

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
GIVEN_BACK = frozenset({429, 503})  # "slow down": the whole site's business, not one URL's


class TransientError(Exception):
    """An attempt failed in a way another attempt may not. `reason` is the one-line
    description for the record if no attempt succeeds."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RetryWait:
    """tenacity's `wait`: the server's `Retry-After` when it sent one, capped;
    otherwise exponential backoff with full jitter."""

    def __init__(self, settings: FetchSettings) -> None:
        # tenacity (with asyncio and tornado when installed: ~30 ms) only once a
        # fetch is retried, not in every process that reads a Retry-After.
        from tenacity.wait import wait_random_exponential

        self.cap = settings.retry_after_cap
        self.backoff = wait_random_exponential(
            multiplier=settings.backoff_initial, max=settings.backoff_max
        )

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return min(error.retry_after, self.cap)
        return self.backoff(state)
