"""The URLs a run has already submitted, in about 16 bytes each.

A Python `set` of URL digests costs about 80 bytes an entry (an int object plus
its slot): 80 MB for a million-line URL file, which alone would take the
crawler's memory well past 1.5x that of a small run. This set keeps a 96-bit
blake2b digest of each URL in two flat arrays (64 + 32 bits) with open
addressing and linear probing, grown x2 at three-quarters full.

Two distinct URLs of a run share a digest with odds far below one in a billion
billion; such a pair would be taken for a duplicate and fetched once.
"""

from __future__ import annotations

import hashlib
from array import array

_LOAD_NUM, _LOAD_DEN = 3, 4  # grow past three-quarters full
_INITIAL = 1 << 12


def digest(url: str) -> tuple[int, int]:
    """(high 64 bits, low 32 bits) of the URL's digest; high is never 0, the empty mark."""
    return digest_bytes(url.encode("utf-8", "surrogatepass"))


def digest_bytes(data: bytes) -> tuple[int, int]:
    """`digest` of a URL already encoded as UTF-8 (a key read from db.txt)."""
    value = hashlib.blake2b(data, digest_size=12).digest()
    return int.from_bytes(value[:8], "big") or 1, int.from_bytes(value[8:], "big")


class SeenUrls:
    def __init__(self, capacity: int = _INITIAL) -> None:
        size = _INITIAL
        while size * _LOAD_NUM < capacity * _LOAD_DEN:
            size *= 2
        self._high = array("Q", [0]) * size
        self._low = array("I", [0]) * size
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, url: str) -> bool:
        """Remember `url`; True if it was new, False if the run has seen it."""
        return self.add_digest(digest(url))

    def add_digest(self, pair: tuple[int, int]) -> bool:
        """`add` for a URL whose `digest` is known (a journal holds digests)."""
        high, low = pair
        slot = self._find(high, low)
        if self._high[slot] == high and self._low[slot] == low:
            return False
        self._high[slot], self._low[slot] = high, low
        self._count += 1
        if self._count * _LOAD_DEN > len(self._high) * _LOAD_NUM:
            self._grow()
        return True

    def __contains__(self, url: str) -> bool:
        return self.has_digest(digest(url))

    def has_digest(self, pair: tuple[int, int]) -> bool:
        # `_find` written out: the main process asks this for every link a page's
        # worker let through (most of them seen before), so no call and no len().
        high, low = pair
        highs, mask = self._high, self._mask
        slot = high & mask
        while found := highs[slot]:
            if found == high and self._low[slot] == low:
                return True
            slot = (slot + 1) & mask
        return False

    def _find(self, high: int, low: int) -> int:
        """The slot holding (high, low), or the empty slot where it would go."""
        highs, lows, mask = self._high, self._low, self._mask
        slot = high & mask
        while True:
            found = highs[slot]
            if found == 0 or (found == high and lows[slot] == low):
                return slot
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old_high, old_low = self._high, self._low
        size = 2 * len(old_high)
        self._high = array("Q", [0]) * size
        self._low = array("I", [0]) * size
        self._mask = size - 1
        for high, low in zip(old_high, old_low, strict=True):
            if high:
                slot = self._find(high, low)
                self._high[slot], self._low[slot] = high, low
