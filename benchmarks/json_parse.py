"""What a JSON API page costs the main process: a declared JMESPath parser on it.

    python benchmarks/json_parse.py [--items 10,100,5000] [--repeats 3]

A script, not a test: it prints figures. Each page is an API answer of N items
(`{"data": {"movies": [...]}}`, about 250 bytes an item), parsed by the JSON
`film` table (four fields: a number, a string, a list, a URL made absolute), through
`pipelines.parse_page` as the crawl calls it. Printed for each size, in ms of CPU
(time.process_time) a page, best of `--repeats`: the whole `parse_page` (JSON parsed
once, records built and written as lines), `json.loads` alone, and `jsondoc.load`
(the nesting check and the parse).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from crawler.config import tomllib
from crawler.model import Page
from crawler.page.jsondoc import load
from pipelines import parse_page
from pipelines.parsers import build

FILM = """
[parsers.film]
item = { jmespath = "data.movies[*]" }
[parsers.film.fields]
rank  = { jmespath = "rank", required = true }
title = { jmespath = "nm" }
stars = { jmespath = "star", all = true }
link  = { jmespath = "detailUrl", url = true }
"""


def answer(items: int) -> str:
    movies = [
        {"rank": n, "nm": f"film {n} " + "x" * 150, "star": ["a", "b", "c"],
         "detailUrl": f"/films/{n}", "score": 9.1}
        for n in range(items)
    ]  # fmt: skip
    return json.dumps({"data": {"movies": movies}})


def best(run: Callable[[], object], times: int, repeats: int) -> float:
    """The best of `repeats` rounds of `times` calls, in ms of CPU a call."""
    rounds = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(times):
            run()
        rounds.append((time.process_time() - started) / times)
    return min(rounds) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="10,100,5000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    registry = build(tomllib.loads(FILM)["parsers"], "json_parse.py", plugins=list)
    for items in map(int, args.items.split(",")):
        text = answer(items)
        page = Page("https://api.example/board?offset=0", 200, "application/json", text,
                    len(text), len(text), 1)  # fmt: skip
        times = max(3, 2000 // items)
        whole = best(lambda page=page: parse_page(page, ("film",), registry), times, args.repeats)
        loads = best(lambda text=text: json.loads(text), times, args.repeats)
        checked = best(lambda text=text: load(text), times, args.repeats)
        print(f"{items} items, {len(text) / 1024:.0f} KB: parse_page {whole:.3f} ms, "
              f"json.loads {loads:.3f} ms, jsondoc.load {checked:.3f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
