"""Benchmark `crawl` against the usual ways of crawling, on a local site.

    python benchmarks/run.py [--urls 1000] [--concurrency 3,16] [--latency 0] [--repeats 3]
                             [--shape 16=2x8]

A script, not a test: it prints figures. It starts its own site (benchmarks/site.py,
an asyncio server on 127.0.0.1 in its own process, so it does not share a GIL with
anything measured), writes one URL list (one page in ten a Maoyan-style board page,
parsed by the board parser), and runs each contender over it as its own command:

- `crawl`: the real command, `python -m crawler URLS --workers N --output ... -q`
  (and `crawl-nocache`: the same with `--no-cache`), parsers and writer on. At a
  level that `--shape` names (`16=2x8`: docs/speed.md's recommendation for 16 in
  flight), N is made of W processes of T threads: `--workers W --threads T`;
- `pool`: the tutorial's Pool + apply_async + requests.get per call;
- `threads`: a thread pool with one requests.Session per thread;
- `scrapy`: a minimal spider with CONCURRENT_REQUESTS = N (when Scrapy is installed).

Each repeat runs every (concurrency, contender) pair once, in an order rotated from
one repeat to the next, so that a noisy machine hurts them alike; the table shows
medians. Columns:

- pages/s: pages over the site's busy window (its first request to its last answer:
  start-up excluded, which `startup` measures on its own); `wall/s` is pages over
  the whole command, start-up and shut-down included;
- ideal: pages/s over `concurrency / latency`, when a latency is set;
- CPU s/1000: CPU seconds per 1,000 pages: user + system time of the command's whole
  process tree (resource.getrusage(RUSAGE_CHILDREN) around the command: every
  worker is reaped by the time it exits);
- peak MB: the largest sum of PSS (proportional set size, so shared pages count
  once) over the process tree, sampled every 0.1 s during the run.

Also measured: start-up, the wall time of `crawl` on a one-line URL file. A chart of
pages/s by concurrency goes to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bytecode import compile_crawl

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
BOARD_EVERY = 10
RUN_TIMEOUT = 900  # seconds: a contender that hangs is ended, not waited for


@dataclass
class Measure:
    pages: int  # url: lines written
    window: float  # the site's first request to its last answer
    wall: float
    cpu: float
    peak_pss: int  # bytes


SHAPES: dict[int, tuple[int, int]] = {16: (2, 8)}  # concurrency -> (workers, threads)


def command_for(name: str, url_file: Path, concurrency: int, out: Path) -> list[str]:
    if name in ("crawl", "crawl-nocache"):
        # The site is one host. N fetching threads make at most N requests at once
        # whatever the per-host bound, which counts tasks handed to the pool, queued
        # ones included: it is set to the in-flight bound (2N + 2) so that the queue
        # stays primed, as with one host --per-host would otherwise starve it.
        # robots.txt stays on; the HTTP cache too, unless the name says otherwise.
        workers, threads = SHAPES.get(concurrency, (concurrency, 1))
        return [
            sys.executable, "-m", "crawler", str(url_file), "--workers", str(workers),
            "--threads", str(threads), "--per-host", str(2 * concurrency + 2),
            "--output", str(out), "--no-progress", "-q",
            *(["--no-cache"] if name == "crawl-nocache" else []),
        ]  # fmt: skip
    return [sys.executable, str(BENCH / "contenders.py"), name, str(url_file), str(concurrency),
            str(out)]  # fmt: skip


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Site:
    """The site in its own process; `reset` and `stats` talk to its control routes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH / "site.py")], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.base = f"http://127.0.0.1:{self.port}"

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=10) as answer:
            return answer.read()

    def reset(self, latency_ms: float) -> None:
        self._get(f"/__reset?latency_ms={latency_ms}")

    def stats(self) -> dict:
        return json.loads(self._get("/__stats"))

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def tree_pss(pid: int) -> int:
    import psutil

    try:
        top = psutil.Process(pid)
        processes = [top, *top.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_full_info().pss
    return total


def run_measured(command: list[str], cwd: Path) -> tuple[float, float, int, int]:
    """Run `command`; its wall time, CPU time of its whole tree, peak summed PSS, and
    exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.1):
            peak = max(peak, tree_pss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, errors = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        _, errors = process.communicate()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode not in (0,) and errors:
        sys.stderr.write(errors.decode(errors="replace")[-2000:])
    return wall, cpu, peak, process.returncode


def measure(name: str, site: Site, url_file: Path, concurrency: int, latency: float,
            work: Path) -> Measure:  # fmt: skip
    out = work / f"{name}-{concurrency}" / "db.txt"
    shutil.rmtree(out.parent, ignore_errors=True)
    out.parent.mkdir(parents=True)
    site.reset(latency)
    wall, cpu, peak, status = run_measured(command_for(name, url_file, concurrency, out), work)
    stats = site.stats()
    pages = 0
    if out.exists():
        with out.open(encoding="utf-8") as lines:
            pages = sum(line.startswith("url:") for line in lines)
    window = (stats["last"] - stats["first"]) if stats["first"] and stats["last"] else wall
    if status != 0:
        print(f"  ! {name} at {concurrency} exited with {status}", file=sys.stderr)
    return Measure(pages, window, wall, cpu, peak)


def write_urls(path: Path, base: str, count: int) -> None:
    with path.open("w", encoding="utf-8") as urls:
        for i in range(count):
            if i % BOARD_EVERY == BOARD_EVERY - 1:
                urls.write(f"{base}/board/{i} board\n")
            else:
                urls.write(f"{base}/page/{i}\n")


def startup(site: Site, work: Path, repeats: int) -> float:
    """Median wall time of `crawl` on a one-line URL file (default workers)."""
    one = work / "one.txt"
    write_urls(one, site.base, 1)
    times = []
    for _ in range(max(repeats, 5)):
        out = work / "startup" / "db.txt"
        shutil.rmtree(out.parent, ignore_errors=True)
        site.reset(0)
        command = [sys.executable, "-m", "crawler", str(one), "--output", str(out),
                   "--no-progress", "-q"]  # fmt: skip
        wall, _, _, _ = run_measured(command, work)
        times.append(wall)
    return statistics.median(times)


def contenders_available(wanted: list[str]) -> list[str]:
    names = []
    for name in wanted:
        if name == "scrapy":
            probe = subprocess.run([sys.executable, "-c", "import scrapy"], capture_output=True)
            if probe.returncode != 0:
                print("scrapy is not installed: skipped (pip install '.[bench]')")
                continue
        names.append(name)
    return names


def chart(results: dict, names: list[str], levels: list[int], latency: float, urls: int,
          path: Path) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for name in names:
        rates = [results[name, n]["pages_s"] for n in levels]
        label = name
        shaped = [
            f"{n} = {w} processes x {t} threads" for n, (w, t) in SHAPES.items() if n in levels
        ]
        if name.startswith("crawl") and shaped:
            label += f" ({', '.join(shaped)})"
        axes.plot(levels, rates, marker="o", label=label)
    if latency:
        ideal = [n / (latency / 1000) for n in levels]
        axes.plot(levels, ideal, linestyle="--", color="grey", label="ideal (N / latency)")
    axes.set_xlabel("concurrency (workers, threads or requests)")
    axes.set_ylabel("pages/s (median)")
    axes.set_xticks(levels)
    axes.set_ylim(bottom=0)
    axes.set_title(f"{urls} pages of 20 KB on 127.0.0.1, latency {latency:g} ms")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark crawl against its rivals.")
    parser.add_argument("--urls", type=int, default=1000, help="distinct URLs per run")
    parser.add_argument("--concurrency", default="3,16", help="comma-separated levels")
    parser.add_argument("--latency", type=float, default=0.0, help="ms added to each answer")
    parser.add_argument("--repeats", type=int, default=3, help="runs per pair; medians shown")
    parser.add_argument("--contenders", default="crawl,crawl-nocache,pool,threads,scrapy")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up figure")
    parser.add_argument(
        "--shape",
        default=",".join(f"{n}={w}x{t}" for n, (w, t) in SHAPES.items()),
        help="crawl's processes x threads at a level, e.g. 16=2x8 (others: N x 1)",
    )
    parser.add_argument("--no-chart", action="store_true")
    args = parser.parse_args()
    compile_crawl()  # measured as installed (benchmarks/bytecode.py)
    levels = [int(n) for n in args.concurrency.split(",") if n]
    SHAPES.clear()
    for item in filter(None, args.shape.split(",")):
        level, _, shape = item.partition("=")
        workers, _, threads = shape.partition("x")
        assert int(workers) * int(threads) == int(level), f"--shape {item}: W x T must be N"
        SHAPES[int(level)] = (int(workers), int(threads))
    names = contenders_available(args.contenders.split(","))
    work = Path(tempfile.mkdtemp(prefix="crawl-bench-"))
    site = Site()
    try:
        url_file = work / "urls.txt"
        write_urls(url_file, site.base, args.urls)
        runs: dict[tuple[str, int], list[Measure]] = {}
        pairs = [(name, n) for n in levels for name in names]
        for repeat in range(args.repeats):
            shift = repeat % len(pairs)
            for name, n in pairs[shift:] + pairs[:shift]:
                result = measure(name, site, url_file, n, args.latency, work)
                runs.setdefault((name, n), []).append(result)
                print(f"  repeat {repeat + 1} {name:8} x{n:<3} {result.pages / result.window:8.1f}"
                      f" pages/s  cpu {result.cpu:6.2f} s  pss {result.peak_pss / 2**20:6.1f} MB",
                      file=sys.stderr)  # fmt: skip
        start = None if args.no_startup else startup(site, work, args.repeats)
    finally:
        site.close()
        shutil.rmtree(work, ignore_errors=True)

    results = {}
    for key, measures in runs.items():
        results[key] = {
            "pages_s": statistics.median(m.pages / m.window for m in measures),
            "wall_s": statistics.median(m.pages / m.wall for m in measures),
            "cpu_per_1000": statistics.median(m.cpu / max(m.pages, 1) * 1000 for m in measures),
            "peak_mb": statistics.median(m.peak_pss for m in measures) / 2**20,
            "complete": all(m.pages == args.urls for m in measures),
        }
    sys.stderr.flush()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\n{args.urls} URLs, latency {args.latency:g} ms, median of {args.repeats}, "
          f"{os.cpu_count()} CPUs, {stamp}")  # fmt: skip
    header = f"{'contender':10} {'N':>3} {'pages/s':>8} {'wall/s':>8}"
    header += f" {'ideal':>6}" if args.latency else ""
    header += f" {'CPU s/1000':>10} {'peak PSS MB':>11}"
    print(header)
    for n in levels:
        for name in names:
            r = results[name, n]
            label = name
            if name.startswith("crawl") and n in SHAPES:
                label += " {}x{}".format(*SHAPES[n])
            row = f"{label:10} {n:>3} {r['pages_s']:8.0f} {r['wall_s']:8.0f}"
            if args.latency:
                row += f" {r['pages_s'] / (n / (args.latency / 1000)):6.0%}"
            row += f" {r['cpu_per_1000']:10.2f} {r['peak_mb']:11.1f}"
            print(row + ("" if r["complete"] else "  (pages missing!)"))
    if start is not None:
        print(f"startup: crawl on a one-line URL file: {start:.3f} s (median wall)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = f"latency{args.latency:g}ms"
    (RESULTS / f"{tag}.json").write_text(
        json.dumps(
            {
                "date": stamp,
                "urls": args.urls,
                "latency_ms": args.latency,
                "repeats": args.repeats,
                "startup_s": start,
                "crawl_shapes": {n: f"{w}x{t}" for n, (w, t) in SHAPES.items()},
                "results": {f"{name} {n}": r for (name, n), r in results.items()},
            },
            indent=1,
        )
    )
    if not args.no_chart:
        path = RESULTS / f"pages-per-s-{tag}.png"
        chart(results, names, levels, args.latency, args.urls, path)
        print(f"chart: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
