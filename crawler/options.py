"""Every option of `crawl`, declared once: flag, type, help, and whether `--config`
may set it. The argument parser, the `--config` check and `--help` all come from
`OPTIONS`; a default comes from the settings field of the same name
(`crawler.settings`), so it is written in one place.

Where a value comes from, lowest first (`resolve` and `parse_with_config` keep it):
1. the default (the settings field, or the option's own `default`);
2. the `--config` TOML file (its values become the parser's defaults);
3. the environment, for the options that name a variable (only `--scheduler`,
   from `DASK_SCHEDULER_ADDRESS`, and only when the dask backend is asked for);
4. the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.settings import LOCAL_DASHBOARD, FetchSettings, RunSettings

FROM_SETTINGS: Any = object()  # the default is the settings field's
RESOLVED: Any = argparse.SUPPRESS  # decided after parsing (see crawler.cli.resolve_backend)
# Tables of the --config file that are not options; their owners check them.
CONFIG_TABLES = frozenset({"parsers", "follow", "sites"})


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


def seconds_bound(text: str) -> float:
    """A finite number of seconds, 0 or more: a bound on a wait (`--max-wait`)."""
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, not {text}")
    return value


BYTE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def byte_size(text: str) -> int:
    """A byte count, with K, M or G for KiB, MiB, GiB (`500M`, `2G`, `1.5g`)."""
    number = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = number[-1:] if number[-1:] in BYTE_UNITS else ""
    try:
        value = float(number[: len(number) - len(unit)])
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a size in bytes (such as 500M or 2G): {text!r}")
    return int(value * BYTE_UNITS[unit])


def depth_value(text: str) -> float:
    from crawler.frontier.rules import parse_depth

    try:
        return parse_depth(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def ca_file(text: str) -> Path:
    """A CA file that can be loaded (checked now, so a bad one stops the run at once)."""
    from crawler.fetching.tls import ca_bundle_problem  # ssl and certifi: only when asked for

    path = Path(text).expanduser().absolute()
    problem = ca_bundle_problem(path)
    if problem:
        raise argparse.ArgumentTypeError(f"{text}: {problem}")
    return path


def parser_names(text: str) -> tuple[str, ...]:
    """Comma-separated names; whether each names a parser is the registry's to say,
    once the config's parsers are known (`crawler.cli.parse_arguments`)."""
    return tuple(name for name in (part.strip() for part in text.split(",")) if name)


@dataclass(frozen=True)
class Option:
    """One option. `kind`: `value` (takes an argument), `flag` (store_true),
    `toggle` (`--x` / `--no-x`), `append` (repeatable, a list). `path`: a relative
    path in the config file is taken from the file's folder. `short`: a one-letter
    alias such as `-q`."""

    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    default: Any = FROM_SETTINGS
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    kind: str = "value"
    in_config: bool = True
    path: bool = False
    short: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def resolved_default(self) -> Any:
        if self.default is not FROM_SETTINGS:
            return self.default
        for settings in (RunSettings, FetchSettings):
            for field in dataclasses.fields(settings):
                if field.name == self.dest:
                    if field.default is not dataclasses.MISSING:
                        return field.default
                    return field.default_factory()  # type: ignore[misc]
        return False if self.kind == "flag" else None


OPTIONS: tuple[Option, ...] = (
    Option("--demo", "crawl a small built-in site on 127.0.0.1 (no internet needed)",
           kind="flag", in_config=False),
    Option("--workers", "worker processes (default: the number of CPUs); with --scheduler, "
           "tasks run at once on the cluster (default: as many as it has threads)",
           type=positive_int, default=RESOLVED, metavar="N"),
    Option("--threads", "fetching threads in each worker process, so --workers N --threads T "
           "keeps N x T fetches in flight; for many fetches at once that mostly wait on the "
           "network", type=positive_int, metavar="T"),
    Option("--backend", "where fetches run: a pool of local processes, or a Dask cluster "
           "(default: process; dask with --scheduler)",
           choices=("process", "dask"), default=RESOLVED),
    Option("--scheduler", "with --backend dask, join the cluster of this Dask scheduler "
           "(tcp://HOST:8786) instead of starting one on this machine "
           "(default: $DASK_SCHEDULER_ADDRESS)", default=RESOLVED, metavar="ADDRESS"),
    Option("--dashboard", f"with --backend dask, serve the local cluster's dashboard on "
           f"{LOCAL_DASHBOARD}", kind="flag"),
    Option("--output", "file the records are appended to; its folder is created",
           type=Path, metavar="PATH", path=True),
    Option("--parse", "parsers (comma-separated, e.g. board) for lines that name none "
           "(default: none)", type=parser_names, metavar="NAMES"),
    Option("--list-parsers", "print every parser (built-in, declared in --config, installed "
           "as a plugin) with where it comes from, and exit", kind="flag", in_config=False),
    Option("--timeout", "budget of one attempt: connect, wait and read the whole body",
           type=positive_float, metavar="SECONDS"),
    Option("--retries", "extra attempts for connection errors, timeouts, 408, 429 and 5xx",
           type=non_negative_int, metavar="N"),
    Option("--max-bytes", "largest body kept, after decompression; larger pages fail",
           type=positive_int, metavar="N"),
    Option("--user-agent", "User-Agent header sent with every request; robots.txt is read "
           "for its first word", metavar="TEXT"),
    Option("--header", "add this header to every request to the sites (scheme://host:port) "
           "of the listed URLs, and nowhere else (repeatable; ${NAME} is read from the "
           "environment; [sites.\"ORIGIN\"] tables of --config bind headers and cookies "
           "to other sites)", kind="append", default=None, metavar="'NAME: VALUE'"),
    Option("--cookies", "send the cookies of this Netscape cookies.txt (curl's, wget's, a "
           "browser extension's) where their domain, path and secure flag say",
           type=Path, metavar="FILE", path=True),
    Option("--ca-bundle", "also trust the CA certificates in this PEM file (an internal "
           "site's), besides the usual ones", type=ca_file, metavar="PATH", path=True),
    Option("--per-host", "requests in flight to one host (scheme://host:port), whatever "
           "--workers is", type=positive_int, metavar="N"),
    Option("--delay", "space requests to one host by this much (plus up to 50%% jitter); "
           "a delay means one request at a time to that host",
           type=non_negative_float, metavar="SECONDS"),
    Option("--max-wait", "a site whose Retry-After asks for a longer wait is not waited for: "
           "its remaining URLs fail as 'rate limited' and the run goes on; a shorter "
           "wait pauses that site", type=seconds_bound, metavar="SECONDS"),
    Option("--ignore-robots", "do not fetch or obey robots.txt", kind="flag"),
    Option("--depth", "follow links this many hops from each listed URL; 0 fetches only "
           "the listed URLs, inf has no limit (default: 0, or [follow] depth of --config)",
           type=depth_value, metavar="N"),
    Option("--scope", "where followed links may lead from the listed URL they descend from: "
           "its host, its registrable domain, under its directory (prefix), or anywhere "
           "(any), which needs --max-pages", choices=("host", "domain", "prefix", "any")),
    Option("--allow", "follow only links whose URL matches this regex (repeatable)",
           kind="append", default=None, metavar="REGEX"),
    Option("--deny", "do not follow links whose URL matches this regex (repeatable; wins "
           "over --allow)", kind="append", default=None, metavar="REGEX"),
    Option("--max-pages", "when following links, take at most this many URLs into the run; "
           "listed URLs are never cut (default: 10000)", type=positive_int, metavar="N"),
    Option("--ignore-nofollow", "follow links that rel=nofollow, <meta name=robots> or "
           "X-Robots-Tag mark nofollow (robots.txt still applies)", kind="flag"),
    Option("--allow-private-network", "follow links to loopback, private and link-local "
           "addresses too (not checked by default for found links)", kind="flag"),
    Option("--sitemaps", "also crawl the sitemaps named by each listed host's robots.txt",
           kind="flag"),
    Option("--rejected-log", "write a line per link not followed to this file (replaced "
           "each run): reason, URL, the page it was on", type=Path, metavar="FILE",
           path=True),
    Option("--cache", "HTTP cache (SQLite) for revalidating pages between runs "
           "(default: http-cache.sqlite next to the output file)",
           type=Path, default=None, metavar="PATH", path=True),
    Option("--no-cache", "no HTTP cache: fetch every page in full", kind="flag"),
    Option("--cache-max-age", "at the end of each run, drop the cached pages that no run "
           "has used for this many days", type=non_negative_float, metavar="DAYS"),
    Option("--cache-max-size", "at the end of each run, drop the least recently used cached "
           "pages past this size, in bytes or with K, M, G as in 500M (default: no bound)",
           type=byte_size, metavar="SIZE"),
    Option("--resume", "continue the last run of the output if it did not finish (killed, "
           "interrupted), fetching only what it had not; else start a new run that can be "
           "continued so", kind="flag"),
    Option("--wait-lock", "if another run holds the output's lock, wait up to this long "
           "before exit 75", type=non_negative_float, metavar="SECONDS"),
    Option("--stats", "at the end of every run, replace this file with the run's report, "
           "one JSON object (status, exit, counts, errors by reason)",
           type=Path, metavar="PATH", path=True),
    Option("--metrics", "at the end of every run, replace this file with the run's report "
           "in the Prometheus text format (for node_exporter's textfile collector: *.prom)",
           type=Path, metavar="PATH", path=True),
    Option("--config", "TOML file of options (names as on the command line, e.g. "
           "per-host = 2); the command line wins", type=Path, default=None, metavar="FILE",
           in_config=False),
    Option("--progress", "progress bar on stderr (default: only when stderr is a terminal)",
           kind="toggle"),
    Option("--start-method", "how worker processes start (default: the platform's)",
           choices=("fork", "spawn", "forkserver")),
    Option("--log-every", "without a progress bar (stderr not a terminal), a progress line "
           "on stderr every SECONDS: pages done, rate, failed, in flight, waiting, found; "
           "0: none", type=non_negative_float, metavar="SECONDS"),
    Option("--quiet", "no progress bar, no progress lines and no line per failure; only "
           "the summary",
           kind="flag", short="-q"),
    Option("--verbose", "a line per page fetched", kind="flag", short="-v"),
)  # fmt: skip

BY_DEST = {option.dest: option for option in OPTIONS}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default, said once: not when its help already says it in words,
    nor for a flag or an option whose default is "nothing" (None, False, ())."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        said = "(default" in (action.help or "")
        nothing = action.default is None or action.default is False or action.default in ((), [])
        if said or nothing:
            return action.help
        return super()._get_help_string(action)


def add_to(parser: argparse.ArgumentParser, options: tuple[Option, ...] = OPTIONS) -> None:
    """Declare `options` on `parser`."""
    for option in options:
        names = [option.short, option.flag] if option.short else [option.flag]
        default = option.resolved_default()
        if option.kind == "flag":
            parser.add_argument(*names, action="store_true", help=option.help)
        elif option.kind == "toggle":
            parser.add_argument(
                *names, action=argparse.BooleanOptionalAction, default=None, help=option.help
            )
        else:
            parser.add_argument(
                *names,
                action="append" if option.kind == "append" else "store",
                type=option.type,
                default=[] if option.kind == "append" and default is None else default,
                metavar=option.metavar,
                choices=option.choices,
                help=option.help,
            )
