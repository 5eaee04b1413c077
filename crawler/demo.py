"""`crawl --demo`: crawl a small site served from 127.0.0.1 out of pages shipped in
the package (two board pages, an ordinary page, a GBK page whose charset only its
`<meta>` names), so a new user sees real output with no internet."""

from __future__ import annotations

import io
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from crawler.report import Reporter
from crawler.runner import run_crawl
from crawler.settings import RunSettings

PAGES = {
    "/board/1": ("board-1.html", "board"),
    "/board/2": ("board-2.html", "board"),
    "/about": ("about.html", ""),
    "/news": ("news-gbk.html", ""),
}
SHOWN_LINES = 8


class _DemoHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        page = PAGES.get(self.path)
        if page is None:
            self.send_error(404)
            return
        body = resources.files("crawler").joinpath("demo_site", page[0]).read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")  # no charset: the pages say it
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the crawl reports what matters


def serve_demo_site() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DemoHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def demo_url_file(port: int) -> bytes:
    lines = [
        f"http://127.0.0.1:{port}{path}  {parsers}".rstrip() for path, (_, parsers) in PAGES.items()
    ]
    return ("\n".join(["# crawl --demo", *lines]) + "\n").encode()


def run_demo(settings: RunSettings, reporter: Reporter) -> int:
    server = serve_demo_site()
    # Only this run's lines are shown: read from where the file ended before it, not
    # the whole db.txt, which a cron job may have grown large.
    before = settings.output.stat().st_size if settings.output.is_file() else 0
    try:
        status = run_crawl(
            settings, io.BytesIO(demo_url_file(server.server_port)), "--demo", reporter
        )
    finally:
        server.shutdown()
        server.server_close()
    if settings.output.is_file():
        with settings.output.open("rb") as output:
            output.seek(before)
            this_run = output.read().decode("utf-8", "replace").splitlines()
        try:
            where = settings.output.resolve()
            print(f"Output: {where} ({len(this_run)} lines from this run). The first lines:")
            for line in this_run[:SHOWN_LINES]:
                print("  " + line)
            sys.stdout.flush()
        except BrokenPipeError:  # `crawl --demo | head -1`: the reader has had enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status
