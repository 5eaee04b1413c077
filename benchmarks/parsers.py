"""What parsing costs: a declared parser, the same as plugins, and in a crawl.

    python benchmarks/parsers.py [--pages 1000] [--urls 2000] [--latency 50] [--workers 16]
                                 [--repeats 3] [--no-crawl]

A script, not a test: it prints figures. The page is the benchmark site's board page
(crawler/demo_site/board-1.html padded to 20 KB, as benchmarks/site.py serves it);
the parser is the `film` table of docs/parsers.md, the built-in board declared as five fields.

1. Parse alone, in this one process (one core): decode nothing, build the records'
   lines from the decoded text, `--pages` times, for
   - `board`: the built-in regex parser;
   - `film`: the five-field declared parser (parsel's CSS compiled to lxml XPath);
   - `film-parsel`: the same as a plugin written with `page.selector` (parsel);
   - `film-soup`: the same as a plugin written with `page.soup()` (BeautifulSoup, lxml);
   - `soup() alone`: building the BeautifulSoup tree, nothing asked of it.
   pages/s and ms/page are CPU time (time.process_time), best of `--repeats`.
2. A crawl, as benchmarks/run.py runs it (the real command, its own site in its own
   process, `--latency` ms added to each answer, `--workers` fetches in flight),
   of `--urls` board pages with only the size line, then with `film`, then with
   `film-soup` (installed for the run as a plugin distribution in a temporary
   folder on PYTHONPATH). pages/s over the site's busy window and CPU s/1000 pages
   of the whole process tree, medians of `--repeats` interleaved runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import Site, run_measured  # noqa: E402
from benchmarks.site import page_bodies  # noqa: E402
from crawler.config import tomllib  # noqa: E402
from crawler.model import Page  # noqa: E402
from crawler.page.decode import decode_body  # noqa: E402
from pipelines import parse_page  # noqa: E402
from pipelines.parsers import Parser, build  # noqa: E402
from pipelines.parsers.plugins import runner  # noqa: E402

FILM_TOML = """
[parsers.film]
item = "dd"
[parsers.film.fields]
index = { css = "i.board-index::text", re = '^(\\d+)$', required = true }
title = { css = "p.name a::text", required = true }
actor = { css = "p.star::text", re = '^(?:主演：)?(.*)' }
time  = { css = "p.releasetime::text", re = '^(?:上映时间：)?(.*)' }
score = { css = "p.score i::text", join = "" }
"""

# The same parser written as plugins, as a user would write them.
PLUGIN_SOURCE = """
import re

_INDEX = re.compile(r"^(\\d+)$")


def _label(text, label):
    text = (text or "").strip()
    return text[len(label):].strip() if text.startswith(label) else text


def film_soup(page):
    for dd in page.soup().select("dd"):
        index = dd.select_one("i.board-index")
        title = dd.select_one("p.name a")
        number = _INDEX.match(index.get_text(strip=True)) if index else None
        if not number or not title or not title.get_text(strip=True):
            continue
        star, release = dd.select_one("p.star"), dd.select_one("p.releasetime")
        yield {
            "index": number.group(1),
            "title": title.get_text(strip=True),
            "actor": _label(star.get_text() if star else "", "主演："),
            "time": _label(release.get_text() if release else "", "上映时间："),
            "score": "".join(i.get_text(strip=True) for i in dd.select("p.score i")),
        }


def film_parsel(page):
    for dd in page.selector.css("dd"):
        number = _INDEX.match((dd.css("i.board-index::text").get() or "").strip())
        title = (dd.css("p.name a::text").get() or "").strip()
        if not number or not title:
            continue
        yield {
            "index": number.group(1),
            "title": title,
            "actor": _label(dd.css("p.star::text").get(), "主演："),
            "time": _label(dd.css("p.releasetime::text").get(), "上映时间："),
            "score": "".join(t.strip() for t in dd.css("p.score i::text").getall()),
        }
"""
PLUGIN_MODULE = "crawl_bench_film"


def install_plugin(folder: Path) -> Path:
    """The plugins as an installed distribution: a module and its .dist-info, which
    importlib.metadata finds on sys.path as it finds anything pip installed."""
    (folder / f"{PLUGIN_MODULE}.py").write_text(PLUGIN_SOURCE, "utf-8")
    info = folder / f"{PLUGIN_MODULE}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crawl-bench-film\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[crawl.parsers]\nfilm_soup = {PLUGIN_MODULE}:film_soup\n"
        f"film_parsel = {PLUGIN_MODULE}:film_parsel\n"
    )
    return folder


def board_page() -> Page:
    body = page_bodies()["board"]
    text = decode_body(body, "text/html; charset=utf-8")
    return Page("http://127.0.0.1/board/1", 200, "text/html; charset=utf-8", text, len(text),
                len(body), 1)  # fmt: skip


def parse_alone(pages: int, repeats: int) -> None:
    namespace: dict = {}
    exec(compile(PLUGIN_SOURCE, PLUGIN_MODULE, "exec"), namespace)
    plugins = [
        Parser(name, "plugin (benchmark)", runner(namespace[name]))
        for name in ("film_soup", "film_parsel")
    ]
    registry = build(tomllib.loads(FILM_TOML)["parsers"], "bench", plugins=lambda: plugins)
    page = board_page()
    reference = parse_page(page, ("board",), registry).lines[1:]
    print(f"page: {page.nbytes} bytes, {len(reference)} board entries; "
          f"{pages} pages, best of {repeats}, CPU time of this process")  # fmt: skip
    print(f"{'parser':<14}{'pages/s':>9}{'ms/page':>9}  same records as board")
    rows = [("board", ("board",)), ("film", ("film",)), ("film-parsel", ("film_parsel",)),
            ("film-soup", ("film_soup",))]  # fmt: skip
    for label, names in rows:
        lines = parse_page(page, names, registry).lines[1:]
        same = [line.split(" ", 1)[1] for line in lines] == [
            line.split(" ", 1)[1] for line in reference
        ]
        best = min(_cpu(lambda names=names: parse_page(page, names, registry), pages)
                   for _ in range(repeats))  # fmt: skip
        print(f"{label:<14}{pages / best:9.0f}{best / pages * 1000:9.3f}  {same}")
    from bs4 import BeautifulSoup

    best = min(_cpu(lambda: BeautifulSoup(page.text, "lxml"), pages) for _ in range(repeats))
    print(f"{'soup() alone':<14}{pages / best:9.0f}{best / pages * 1000:9.3f}")
    from pipelines.parsers.page import html_root

    best = min(_cpu(lambda: html_root(page.text), pages) for _ in range(repeats))
    print(
        f"{'lxml tree':<14}{pages / best:9.0f}{best / pages * 1000:9.3f}  (what film's parse "
        "starts with)"
    )


def _cpu(work, times: int) -> float:
    started = time.process_time()
    for _ in range(times):
        work()
    return time.process_time() - started


def crawl(urls: int, latency: float, workers: int, repeats: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="crawl-bench-parsers-"))
    site = Site()
    try:
        (work / "plugin").mkdir()
        install_plugin(work / "plugin")
        config = work / "crawl.toml"
        config.write_text(FILM_TOML, "utf-8")
        variants = {"size line only": "", "film (declared)": "film",
                    "film_soup (plugin)": "film_soup"}  # fmt: skip
        files = {}
        for label, parser in variants.items():
            files[label] = work / f"urls-{parser or 'none'}.txt"
            with files[label].open("w") as lines:
                for i in range(urls):
                    lines.write(f"{site.base}/board/{i} {parser}".rstrip() + "\n")
        runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label in variants}
        env_path = os.environ.get("PYTHONPATH", "")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(work / "plugin"), env_path) if p)
        for repeat in range(repeats):
            order = list(variants)
            order = order[repeat % len(order) :] + order[: repeat % len(order)]
            for label in order:
                out = work / "out" / "db.txt"
                shutil.rmtree(out.parent, ignore_errors=True)
                site.reset(latency)
                command = [sys.executable, "-m", "crawler", str(files[label]),
                           "--config", str(config), "--workers", str(workers),
                           "--per-host", str(2 * workers + 2), "--output", str(out),
                           "--no-progress", "-q"]  # fmt: skip
                _, cpu, _, status = run_measured(command, work)
                stats = site.stats()
                window = stats["last"] - stats["first"]
                text = out.read_text("utf-8")
                pages = text.count("\nurl:<")
                records = sum(line.startswith("film") for line in text.splitlines())
                if status != 0 or pages != urls:
                    print(f"  ! {label}: exit {status}, {pages} pages", file=sys.stderr)
                runs[label].append((pages / window, cpu / pages * 1000, records))
                print(f"  repeat {repeat + 1} {label:<20} {pages / window:7.1f} pages/s "
                      f"cpu {cpu:6.2f} s  records {records}", file=sys.stderr)  # fmt: skip
    finally:
        os.environ["PYTHONPATH"] = env_path
        site.close()
        shutil.rmtree(work, ignore_errors=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\ncrawl of {urls} board pages of 20 KB, latency {latency:g} ms, {workers} in flight, "
          f"median of {repeats}, {os.cpu_count()} CPUs, {stamp}")  # fmt: skip
    print(f"{'parsers':<20}{'pages/s':>9}{'vs size':>9}{'CPU s/1000':>12}{'records':>9}")
    base = statistics.median(rate for rate, _, _ in runs["size line only"])
    base_cpu = statistics.median(cpu for _, cpu, _ in runs["size line only"])
    for label, measures in runs.items():
        rate = statistics.median(m[0] for m in measures)
        cpu = statistics.median(m[1] for m in measures)
        extra = f" (+{cpu - base_cpu:.2f})" if label != "size line only" else ""
        print(f"{label:<20}{rate:9.0f}{rate / base:9.0%}{cpu:12.2f}{measures[0][2]:9}{extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description="What parsing costs.")
    parser.add_argument("--pages", type=int, default=1000, help="pages parsed alone")
    parser.add_argument("--urls", type=int, default=2000, help="pages crawled per run")
    parser.add_argument("--latency", type=float, default=50.0, help="ms added to each answer")
    parser.add_argument("--workers", type=int, default=16, help="fetches in flight")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-crawl", action="store_true", help="only the parse-alone figures")
    args = parser.parse_args()
    parse_alone(args.pages, args.repeats)
    if not args.no_crawl:
        crawl(args.urls, args.latency, args.workers, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
