"""`crawl`: the command line. Turns arguments into settings and runs the crawl.

Expected failures (a missing URL file, an unusable output, a held lock) are one
line on stderr and an exit status, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from crawler import __version__
from crawler.config import parse_with_config
from crawler.runner import EXIT_UNUSABLE
from crawler.settings import (
    DEFAULT_CACHE_NAME,
    DEFAULT_OUTPUT,
    DEFAULT_USER_AGENT,
    LOCAL_DASHBOARD,
    FetchSettings,
    RunSettings,
)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def parser_names(text: str) -> tuple[str, ...]:
    from pipelines import PARSERS

    names = tuple(name for name in text.split(",") if name)
    unknown = [name for name in names if name not in PARSERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown parser {', '.join(unknown)} (known: {', '.join(PARSERS)})"
        )
    return names


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default, said once: not when its help already says it in words,
    nor for a flag or an option whose default is "nothing" (None, False, ())."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        said = "(default" in (action.help or "")
        if said or action.default is None or action.default is False or action.default == ():
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    fetch = FetchSettings()
    parser = argparse.ArgumentParser(
        prog="crawl",
        description="Fetch the URLs listed in URLS_FILE with a pool of workers and append "
        "one record per page (and one per parsed entry) to the output file.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "urls_file",
        nargs="?",
        metavar="URLS_FILE",
        help="one URL per line, optionally followed by parser names; - reads stdin",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="crawl a small built-in site on 127.0.0.1 (no internet needed)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=argparse.SUPPRESS,  # resolved in resolve_backend
        metavar="N",
        help="worker processes (default: the number of CPUs); with --scheduler, tasks run "
        "at once on the cluster (default: as many as it has threads)",
    )
    parser.add_argument(
        "--backend",
        choices=("process", "dask"),
        default=argparse.SUPPRESS,  # resolved in resolve_backend
        help="where fetches run: a pool of local processes, or a Dask cluster (default: "
        "process; dask with --scheduler)",
    )
    parser.add_argument(
        "--scheduler",
        default=argparse.SUPPRESS,  # resolved in resolve_backend
        metavar="ADDRESS",
        help="with --backend dask, join the cluster of this Dask scheduler "
        "(tcp://HOST:8786) instead of starting one on this machine "
        "(default: $DASK_SCHEDULER_ADDRESS)",
    )
    parser.add_argument(
        "--dashboard",
        action="store_true",
        help=f"with --backend dask, serve the local cluster's dashboard on {LOCAL_DASHBOARD}",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="PATH",
        help="file the records are appended to; its folder is created",
    )
    parser.add_argument(
        "--parse",
        type=parser_names,
        default=(),
        metavar="NAMES",
        help="parsers (comma-separated, e.g. board) for lines that name none (default: none)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=fetch.timeout,
        metavar="SECONDS",
        help="budget of one attempt: connect, wait and read the whole body",
    )
    parser.add_argument(
        "--retries",
        type=non_negative_int,
        default=fetch.retries,
        metavar="N",
        help="extra attempts for connection errors, timeouts, 408, 429 and 5xx",
    )
    parser.add_argument(
        "--max-bytes",
        type=positive_int,
        default=fetch.max_bytes,
        metavar="N",
        help="largest body kept, after decompression; larger pages fail",
    )
    parser.add_argument(
        "--user-agent",
        default=DEFAULT_USER_AGENT,
        metavar="TEXT",
        help="User-Agent header sent with every request",
    )
    parser.add_argument(
        "--per-host",
        type=positive_int,
        default=RunSettings.per_host,
        metavar="N",
        help="requests in flight to one host (scheme://host:port), whatever --workers is",
    )
    parser.add_argument(
        "--delay",
        type=non_negative_float,
        default=RunSettings.delay,
        metavar="SECONDS",
        help="space requests to one host by this much (plus up to 50%% jitter); "
        "a delay means one request at a time to that host",
    )
    parser.add_argument(
        "--ignore-robots",
        action="store_true",
        help="do not fetch or obey robots.txt",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="PATH",
        help="HTTP cache (SQLite) for revalidating pages between runs; "
        "(default: http-cache.sqlite next to the output file)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="no HTTP cache: fetch every page in full",
    )
    parser.add_argument(
        "--wait-lock",
        type=non_negative_float,
        default=RunSettings.wait_lock,
        metavar="SECONDS",
        help="if another run holds the output's lock, wait up to this long before exit 75",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML file of options (names as on the command line, e.g. per-host = 2); "
        "the command line wins",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )
    parser.add_argument(
        "--start-method",
        choices=("fork", "spawn", "forkserver"),
        default=None,
        help="how worker processes start (default: the platform's)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no line per failure; only the summary",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per page fetched")
    parser.add_argument("--version", action="version", version=f"crawl {__version__}")
    return parser


def cache_path(args: argparse.Namespace) -> Path | None:
    if args.no_cache:
        return None
    return args.cache if args.cache is not None else args.output.parent / DEFAULT_CACHE_NAME


def resolve_backend(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """`--scheduler` means the dask backend; `DASK_SCHEDULER_ADDRESS` is read only
    when the dask backend is asked for, so a variable set for other tools does not
    move a default run onto a cluster."""
    for name in ("workers", "backend", "scheduler"):
        setattr(args, name, getattr(args, name, None))
    if args.backend is None:
        args.backend = "dask" if args.scheduler else "process"
    if args.backend == "process" and (args.scheduler or args.dashboard):
        parser.error("--scheduler and --dashboard need --backend dask")
    if args.backend == "dask" and args.scheduler is None:
        args.scheduler = os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if args.workers is None:
        args.workers = 0 if args.scheduler else os.cpu_count() or 1


def settings_from(args: argparse.Namespace) -> RunSettings:
    return RunSettings(
        workers=args.workers,
        backend=args.backend,
        scheduler=args.scheduler,
        dashboard=args.dashboard,
        output=args.output,
        parse=args.parse,
        progress=args.progress,
        quiet=args.quiet,
        verbose=args.verbose,
        start_method=args.start_method,
        per_host=args.per_host,
        delay=args.delay,
        obey_robots=not args.ignore_robots,
        wait_lock=args.wait_lock,
        fetch=FetchSettings(
            timeout=args.timeout,
            retries=args.retries,
            max_bytes=args.max_bytes,
            user_agent=args.user_agent,
            cache_path=cache_path(args),
        ),
    )


def parse_arguments(
    argv: Sequence[str] | None, parser: argparse.ArgumentParser | None = None
) -> argparse.Namespace:
    """The command line, over the defaults of `--config FILE`, with the backend settled."""
    parser = parser or build_parser()
    args = parse_with_config(parser, argv)
    resolve_backend(args, parser)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_arguments(argv, parser)
    from crawler.pools import DASK_MISSING, dask_installed
    from crawler.report import Reporter
    from crawler.runner import run_crawl

    settings = settings_from(args)
    reporter = Reporter(settings.progress, settings.quiet, settings.verbose)
    if settings.backend == "dask" and not dask_installed():
        reporter.say(DASK_MISSING)
        return EXIT_UNUSABLE
    if args.demo:
        from crawler.demo import run_demo

        return run_demo(settings, reporter)
    if args.urls_file is None:
        parser.error("URLS_FILE is required (or --demo)")
    if args.urls_file == "-":
        return run_crawl(settings, sys.stdin.buffer, "-", reporter)
    try:
        urls = open(args.urls_file, "rb")  # noqa: SIM115 - closed below, after the run
    except OSError as error:
        reporter.say(f"crawl: cannot read {args.urls_file}: {error.strerror}")
        return EXIT_UNUSABLE
    with urls:
        return run_crawl(settings, urls, args.urls_file, reporter)


def entry_point() -> None:
    sys.exit(main())
