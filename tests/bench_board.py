"""Benchmark: how long the board parser takes on the saved page and on hostile pages.

Prints figures; asserts nothing (the tests check correctness only). Run:

    python -m tests.bench_board
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from pipelines.parsers.board import NoEntries, parse_board

PAGES = Path(__file__).parent / "pages"
MB = 1024 * 1024


def seconds(text: str, repeat: int) -> float:
    """The best of `repeat` parses, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(NoEntries):
            parse_board(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    fragment = '<dd>board-index<i class="board-index board-index-1">1</i><p class="name"><a '
    hostile = fragment * (2 * MB // len(fragment))
    cases = {
        "saved board page": ((PAGES / "board.html").read_text(encoding="utf-8"), 200),
        "2 MB of '<dd>board-index'": ("<dd>board-index" * (2 * MB // 15), 5),
        "2 MB of unterminated entries": (hostile, 5),
        "the same, one </dd> at the end": (hostile + "</dd>", 5),
        "2 MB in one <dd> block": ("<dd>" + hostile.replace("<dd>", "") + "</dd>", 5),
    }
    for name, (text, repeat) in cases.items():
        best = seconds(text, repeat)
        print(f"{name:34} {len(text) / MB:6.2f} MiB  {best * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
