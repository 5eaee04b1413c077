"""The seen-set: exact membership, growth, and the memory it takes per URL."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.frontier.seen import SeenUrls


def test_second_add_of_a_url_says_seen_across_growth() -> None:
    seen = SeenUrls()
    urls = [f"http://127.0.0.1/p/{number}" for number in range(20_000)]  # several doublings
    assert all(seen.add(url) for url in urls)
    assert not any(seen.add(url) for url in urls)
    assert len(seen) == 20_000
    assert "http://127.0.0.1/p/20000" not in seen
    assert "http://127.0.0.1/p/0" in seen


def test_a_million_urls_take_tens_of_bytes_each_not_eighty() -> None:
    seen = SeenUrls(capacity=1_000_000)
    table_bytes = seen._high.itemsize * len(seen._high) + seen._low.itemsize * len(seen._low)
    assert table_bytes / 1_000_000 <= 32


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=200))
def test_behaves_like_a_set(urls: list[str]) -> None:
    seen, reference = SeenUrls(), set()
    for url in urls:
        assert seen.add(url) == (url not in reference)
        reference.add(url)
    assert len(seen) == len(reference)


def test_digests_sharing_a_slot_are_told_apart_across_the_tables_end() -> None:
    seen = SeenUrls()
    size = 1 << 12  # the smallest table: these all start at its last slot
    last = [((number << 12) | (size - 1), number) for number in range(1, 6)]
    for pair in last[:3]:
        assert seen.add_digest(pair)
    assert all(seen.has_digest(pair) for pair in last[:3])  # found past the wrap
    assert not any(seen.has_digest(pair) for pair in last[3:])
    assert not seen.has_digest((last[0][0], 99))  # same high bits, other low ones
