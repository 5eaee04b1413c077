"""Benchmark a recursive crawl of a real site: the Python 3.11 documentation behind
nginx on 127.0.0.1, `crawl --depth inf --scope prefix` against `wget -r -np`.

    python benchmarks/follow_docs.py [--repeats 3] [--workers 3] [--warc]

Needs Debian's `nginx-light` and `python3.11-doc` (and `wget`):
`apt-get install nginx-light python3.11-doc wget`. Without them it says so and
exits 0. nginx is started here with its own config in a temporary folder (one
worker process, gzip on, no access log) on a free port of 127.0.0.1, and stopped
at the end. Runs alternate crawl and wget; the table shows each run and the
medians: wall seconds, pages found, pages/s, CPU of the whole process tree, and
for crawl its main process's own CPU over the wall time (how busy it is) and a
page (its start-up included: the coordinator's cost a page alone is
`benchmarks/coordinator.py`'s). Pages
are the URLs each fetched, less wget's images (`wget -r` takes `<img src>` too);
the last lines say whether both found the same HTML pages, and what else each
fetched (wget: the pages' stylesheets and scripts).

With `--warc`, each also runs while archiving (`crawl --warc`, `wget --warc-file`)
in the same alternation, and the table says what archiving costs each in pages/s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from bytecode import compile_crawl

DOCS = Path("/usr/share/doc/python3.11/html")
ROOT = Path(__file__).resolve().parent.parent
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
LAUNCH = (
    "import atexit, resource, sys\n"
    "out = sys.argv.pop(1)\n"
    "def own():\n"
    "    usage = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    Path(out).write_text(str(usage.ru_utime + usage.ru_stime))\n"
    "from pathlib import Path\n"
    "atexit.register(own)\n"
    "from crawler.cli import entry_point\n"
    "sys.argv[0] = 'crawl'\n"
    "entry_point()\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_nginx(nginx: str, folder: Path, port: int) -> subprocess.Popen:
    conf = folder / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    gzip on;
    gzip_types text/css application/javascript text/plain;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {DOCS};
    }}
}}
""")
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(folder), "-g", "daemon off;"],
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("nginx did not start")


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds of the whole process tree of `command`."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=600, check=False)  # fmt: skip
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def run_crawl(start: str, workers: int, work: Path, warc: bool = False) -> dict:
    (work / "docs.txt").write_text(start + "\n")
    db, own = work / "db.txt", work / "own.txt"
    db.unlink(missing_ok=True)
    shutil.rmtree(work / "warc", ignore_errors=True)
    archive = ["--warc", str(work / "warc")] if warc else []
    command = [sys.executable, "-c", LAUNCH, str(own), str(work / "docs.txt"), "--depth", "inf",
               "--scope", "prefix", "--workers", str(workers), "--no-cache", "--no-progress",
               "-q", "--output", str(db), *archive]  # fmt: skip
    wall, cpu = timed(command, ROOT)
    found = {line[5:].split("> ", 1)[0] for line in db.read_text().splitlines()
             if line.startswith("url:<")}  # fmt: skip
    return {"wall": wall, "cpu": cpu, "found": found, "main": float(own.read_text()) / wall}


def run_wget(start: str, work: Path, warc: bool = False) -> dict:
    log = work / "wget.log"
    shutil.rmtree(work / "files", ignore_errors=True)
    for old in work.glob("wget-archive*"):
        old.unlink()
    archive = ["--warc-file", str(work / "wget-archive"), "--no-warc-keep-log"] if warc else []
    command = ["wget", "-r", "-l", "inf", "-np", "-nd", "--delete-after", "-nv",
               "-o", str(log), "-P", str(work / "files"), *archive, start]  # fmt: skip
    wall, cpu = timed(command, work)
    found = set(re.findall(r"URL: ?(\S+) ", log.read_text(errors="replace")))
    found = {url for url in found if not url.endswith(IMAGES)}  # wget -r takes <img src> too
    return {"wall": wall, "cpu": cpu, "found": found, "main": None}


def split(found: set[str]) -> tuple[set[str], Counter]:
    """The HTML pages among `found` (a path ending in `.html` or `/`, the index page
    named either way), and how many of the rest each file type has."""
    pages, others = set(), Counter()
    for url in found:
        path = urlsplit(url).path
        if path.endswith((".html", ".htm", "/")):
            pages.add(url.removesuffix("index.html"))
        else:
            others[PurePosixPath(path).suffix or "(none)"] += 1
    return pages, others


def same_pages(crawl_found: set[str], wget_found: set[str]) -> None:
    """Whether both found the same HTML pages, and what else each fetched: `wget -r`
    also takes a page's stylesheets and scripts (its images are left out above)."""
    crawl_pages, crawl_others = split(crawl_found)
    wget_pages, wget_others = split(wget_found)
    for url in sorted(wget_pages - crawl_pages)[:5]:
        print(f"  wget only: {url}")
    for url in sorted(crawl_pages - wget_pages)[:5]:
        print(f"  crawl only: {url}")
    print(f"same HTML pages: {crawl_pages == wget_pages} (crawl {len(crawl_pages)}, wget "
          f"{len(wget_pages)}, in both {len(crawl_pages & wget_pages)})")  # fmt: skip
    for name, others in (("crawl", crawl_others), ("wget", wget_others)):
        if others:
            kinds = ", ".join(f"{count} {suffix}" for suffix, count in others.most_common())
            print(f"{name} also fetched {sum(others.values())} other files: {kinds}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--warc", action="store_true", help="also run each while archiving")
    args = parser.parse_args()
    compile_crawl()  # measured as installed (benchmarks/bytecode.py)
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    needed = [("nginx (nginx-light)", nginx), ("wget", shutil.which("wget")),
              ("the Python docs (python3.11-doc)", (DOCS / "index.html").exists())]  # fmt: skip
    missing = [name for name, ok in needed if not ok]
    if missing:
        print("follow_docs: skipped, not installed: " + ", ".join(missing))
        print("  apt-get install nginx-light python3.11-doc wget")
        return 0
    with tempfile.TemporaryDirectory(prefix="crawl-docs-bench-") as temp:
        folder = Path(temp)
        port = free_port()
        server = start_nginx(nginx, folder, port)
        start = f"http://127.0.0.1:{port}/"
        names = ["crawl", "wget", "crawl+warc", "wget+warc"] if args.warc else ["crawl", "wget"]
        results: dict[str, list[dict]] = {name: [] for name in names}
        try:
            for repeat in range(args.repeats):
                order = names if repeat % 2 == 0 else names[::-1]
                for name in order:
                    work = folder / name
                    work.mkdir(exist_ok=True)
                    warc = name.endswith("+warc")
                    run = (run_crawl(start, args.workers, work, warc) if name.startswith("crawl")
                           else run_wget(start, work, warc))  # fmt: skip
                    if warc:
                        run["archive"] = sum(
                            path.stat().st_size for path in work.rglob("*.warc.gz")
                        )
                    results[name].append(run)
                    main_share = ""
                    if run["main"]:
                        main_ms = run["main"] * run["wall"] / len(run["found"]) * 1000
                        main_share = (f"  main process busy {run['main']:.0%},"
                                      f" {main_ms:.2f} ms CPU a page")  # fmt: skip
                    print(f"{name:10} wall {run['wall']:.2f} s  cpu {run['cpu']:.2f} s  "
                          f"pages {len(run['found'])}{main_share}", flush=True)  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=10)
    rate = {}
    for name, runs in results.items():
        wall = statistics.median(run["wall"] for run in runs)
        pages = statistics.median(len(run["found"]) for run in runs)
        rate[name] = pages / wall
        size = f"  archive {runs[-1]['archive'] / 1e6:.1f} MB" if "archive" in runs[-1] else ""
        print(f"median {name:10} {wall:.2f} s  {pages:.0f} pages  {rate[name]:.0f} pages/s{size}")
    print(f"crawl / wget pages/s: {rate['crawl'] / rate['wget']:.2f}x")
    same_pages(results["crawl"][-1]["found"], results["wget"][-1]["found"])
    busy = statistics.median(run["main"] for run in results["crawl"])
    main_ms = statistics.median(
        run["main"] * run["wall"] / len(run["found"]) * 1000 for run in results["crawl"]
    )
    print(
        f"crawl main process busy {busy:.0%} of the wall time, {main_ms:.2f} ms CPU a page "
        "(start-up included) (medians)"
    )
    if args.warc:
        for name in ("crawl", "wget"):
            print(f"{name} with its archive keeps {rate[name + '+warc'] / rate[name]:.0%} "
                  "of its pages/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
