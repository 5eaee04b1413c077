"""Parse time against page size: it must grow linearly.

Decodes and parses (board parser) an ordinary board page and the adversarial page
of tests/hostile/corpus.py at 1, 2, 4 and 8 MB, best of three, and prints seconds
and seconds per MB. A linear parser shows a flat per-MB column.

    python benchmarks/parse_time.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.page.decode import decode_body
from pipelines.parsers.board import NoEntries, parse_board
from tests.hostile.corpus import adversarial_board, nested_board, normal_board

MB = 1024 * 1024
SIZES_MB = (1, 2, 4, 8)


def nested_of_size(size: int) -> bytes:
    return nested_board(size // len(b"<div><span></span></div>"))


def best_time(body: bytes) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        try:
            count = len(parse_board(decode_body(body, "text/html; charset=utf-8")))
        except NoEntries:
            count = 0
        best = min(best, time.perf_counter() - started)
    return best, count


def main() -> None:
    print(f"{'page':<12}{'MB':>4}{'seconds':>10}{'s/MB':>8}{'entries':>9}")
    for name, make in (
        ("normal", normal_board),
        ("adversarial", adversarial_board),
        ("nested", nested_of_size),
    ):
        for size in SIZES_MB:
            body = make(size * MB)
            seconds, count = best_time(body)
            print(
                f"{name:<12}{size:>4}{seconds:>10.3f}{seconds / size:>8.3f}{count:>9}", flush=True
            )


if __name__ == "__main__":
    main()
