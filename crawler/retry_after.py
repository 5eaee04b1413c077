"""A `Retry-After` header's wait, in seconds: pure, for the fetch's retry layer and
the frontier's per-site rate alike (so neither imports the other for it)."""

from __future__ import annotations

import email.utils
import math
import time
from datetime import MAXYEAR, datetime, timezone


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header, or None if it says nothing usable.

    In this order: delta-seconds (`120`; so many digits that no clock reaches
    them: `inf`); an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`, or the obsolete
    forms), counted from `now` (seconds since the epoch; the system's clock by
    default), whose year is past any calendar's: `inf`. Anything else, a negative
    number, a fraction, an impossible date or a date that is not in the future
    (`now` or before) is None: no `Retry-After` at all."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)  # float() has no digit limit: a huge one is inf
    parts = email.utils.parsedate_tz(value)
    if parts is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return math.inf if parts[0] > MAXYEAR else None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    seconds = (when - datetime.fromtimestamp(now, timezone.utc)).total_seconds()
    return seconds if seconds > 0 else None
