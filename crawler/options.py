"""Every option of `crawl`, declared once: flag, type, help, its group, and whether
`--config` may set it. The argument parser, the `--config` check, `--help` and the
docs' option reference (docs/hooks.py writes reference/options.md from `reference`)
all come from `OPTIONS` and `GROUPS`; a default comes from the settings field of the
same name (`crawler.settings`), so it is written in one place.

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
    try:
        value = float(text)
    except ValueError:
        value = -1.0
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
class Group:
    """A group of options, as `--help` and the reference show them: `title` heads it,
    `page` is the docs page (under docs/) that tells the story behind its options."""

    title: str
    page: str
    about: str


IO = Group("input and output", "urls-and-output.md", "what is read and where records go")
FETCHING = Group("fetching", "politeness.md", "how pages are fetched, and how politely")
FOLLOWING = Group("following", "following-links.md", "links found on pages, and sitemaps")
PARSERS = Group("parsers", "parsers.md", "records made of pages")
LOGIN = Group("logging in", "logging-in.md", "headers, cookies and passwords, per site")
BETWEEN_RUNS = Group("between runs", "between-runs.md", "the HTTP cache, resuming, the lock")
REPORTS = Group("reports", "cron.md", "what a run says on stderr and leaves for monitoring")
CLUSTER = Group("cluster", "cluster.md", "fetching on a Dask cluster")
ARCHIVES = Group("archives", "archives.md", "WARC archives of what was fetched, and replay")
GROUPS: tuple[Group, ...] = (
    IO, FETCHING, FOLLOWING, PARSERS, LOGIN, BETWEEN_RUNS, ARCHIVES, REPORTS, CLUSTER
)  # fmt: skip


@dataclass(frozen=True)
class Option:
    """One option. `kind`: `value` (takes an argument), `flag` (store_true),
    `toggle` (`--x` / `--no-x`), `append` (repeatable, a list). `path`: a relative
    path in the config file is taken from the file's folder. `short`: a one-letter
    alias such as `-q`. `group`: where `--help` and the reference list it (every
    option has one; a test checks). `more`: Markdown the reference adds after the
    help (an example, a link to the page that tells more); `--help` stays short."""

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
    group: Group | None = None
    more: str = ""

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
           kind="flag", in_config=False, group=IO,
           more='Two film-ranking boards, an ordinary page and a GBK page, served from '
                '127.0.0.1 for the run; the lines written are printed. See [Getting '
                'started](../getting-started.md).'),
    Option("--workers", "worker processes (default: the number of CPUs); with --scheduler, "
           "tasks run at once on the cluster (default: as many as it has threads)",
           type=positive_int, default=RESOLVED, metavar="N", group=FETCHING,
           more='On a small machine keep it at the number of cores and let `--threads` make'
                ' up the rest: see [Speed](../speed.md#threads-or-processes).'),
    Option("--threads", "fetching threads in each worker process, so --workers N --threads T "
           "keeps N x T fetches in flight; for many fetches at once that mostly wait on the "
           "network", type=positive_int, metavar="T", group=FETCHING,
           more='With `--threads 1` a worker fetches on its main thread, where a timer '
                'signal also interrupts a blocking read; in threads the body-reading loop '
                'and the socket timeouts bound each attempt. When to use threads: '
                '[Speed](../speed.md#threads-or-processes).'),
    Option("--backend", "where fetches run: a pool of local processes, or a Dask cluster "
           "(default: process; dask with --scheduler)",
           choices=("process", "dask"), default=RESOLVED, group=CLUSTER,
           more='See [On a cluster](../cluster.md).'),
    Option("--scheduler", "with --backend dask, join the cluster of this Dask scheduler "
           "(tcp://HOST:8786) instead of starting one on this machine "
           "(default: $DASK_SCHEDULER_ADDRESS)", default=RESOLVED, metavar="ADDRESS",
           group=CLUSTER),
    Option("--dashboard", f"with --backend dask, serve the local cluster's dashboard on "
           f"{LOCAL_DASHBOARD}", kind="flag", group=CLUSTER),
    Option("--output", "file the records are appended to; its folder is created",
           type=Path, metavar="PATH", path=True, group=IO,
           more='One record a line, appended: see [The URL file and '
                'db.txt](../urls-and-output.md#the-output-dbtxt). The HTTP cache goes next '
                'to it.'),
    Option("--parse", "parsers (comma-separated, e.g. board) for lines that name none "
           "(default: none)", type=parser_names, metavar="NAMES", group=PARSERS,
           more='`board` (built in), or a parser [declared or installed](../parsers.md). A '
                'URL-file line that names parsers gets those instead.'),
    Option("--list-parsers", "print every parser (built-in, declared in --config, installed "
           "as a plugin) with where it comes from, and exit", kind="flag", in_config=False,
           group=PARSERS),
    Option("--timeout", "budget of one attempt: connect, wait and read the whole body",
           type=positive_float, metavar="SECONDS", group=FETCHING,
           more='A server that trickles its answer fails as a timeout (`timed out`).'),
    Option("--retries", "extra attempts for connection errors, timeouts, 408, 429 and 5xx",
           type=non_negative_int, metavar="N", group=FETCHING,
           more='Retried: connection errors, timeouts, bodies cut short, 408, 429, 500, '
                '502, 503 and 504; exponential backoff with jitter; `Retry-After` obeyed '
                '(seconds or a date), up to 60 s. The `error:` line then ends with ` after '
                'N attempts`.'),
    Option("--max-bytes", "largest body kept, after decompression; larger pages fail",
           type=positive_int, metavar="N", group=FETCHING,
           more='10485760 is 10 MiB. A larger page gets `error:<URL> larger than N bytes`.'),
    Option("--user-agent", "User-Agent header sent with every request; robots.txt is read "
           "for its first word", metavar="TEXT", group=FETCHING,
           more='A `User-Agent` given by `--header` or a `[sites]` table wins for its site;'
                " robots.txt is still read for this one's first word."),
    Option("--header", "add this header to every request to the sites (scheme://host:port) "
           "of the listed URLs, and nowhere else (repeatable; ${NAME} is read from the "
           "environment; [sites.\"ORIGIN\"] tables of --config bind headers and cookies "
           "to other sites)", kind="append", default=None, metavar="'NAME: VALUE'", group=LOGIN,
           more='```sh\n'
                'export API_TOKEN=...\n'
                "crawl urls.txt --header 'Authorization: Bearer ${API_TOKEN}'\n"
                '```\n'
                '\n'
                'See [Logging in and secrets](../logging-in.md) for what is sent where.'),
    Option("--cookies", "send the cookies of this Netscape cookies.txt (curl's, wget's, a "
           "browser extension's) where their domain, path and secure flag say",
           type=Path, metavar="FILE", path=True, group=LOGIN,
           more='`#HttpOnly_` lines are cookies; expired ones are dropped. See [Logging in '
                'and secrets](../logging-in.md#cookie-files).'),
    Option("--ca-bundle", "also trust the CA certificates in this PEM file (an internal "
           "site's), besides the usual ones", type=ca_file, metavar="PATH", path=True,
           group=FETCHING,
           more="Trusted together with requests' CA bundle (certifi's, or "
                "`REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`) and OpenSSL's `SSL_CERT_FILE` and"
                ' `SSL_CERT_DIR`; certificates are always checked. See [HTTPS, certificates'
                ' and proxies](../logging-in.md#https-certificates-and-proxies).'),
    Option("--per-host", "requests in flight to one host (scheme://host:port), whatever "
           "--workers is", type=positive_int, metavar="N", group=FETCHING,
           more='See [Politeness](../politeness.md).'),
    Option("--delay", "space requests to one host by this much (plus up to 50%% jitter); "
           "a delay means one request at a time to that host",
           type=non_negative_float, metavar="SECONDS", group=FETCHING,
           more='A `Crawl-delay` in robots.txt sets a delay too; either is a hard limit, '
                'under which each site\'s rate adapts to its answers. '
                'See [Politeness](../politeness.md).'),
    Option("--max-wait", "a site whose Retry-After asks for a longer wait is not waited for: "
           "its remaining URLs fail as 'rate limited' and the run goes on; a shorter "
           "wait pauses that site", type=seconds_bound, metavar="SECONDS", group=FETCHING,
           more='Each such URL gets `error:<URL> rate limited: the site asks to wait N s`, '
                'counted as a failure; `--resume` and the next run take them again. '
                'See [Politeness](../politeness.md).'),
    Option("--ignore-robots", "do not fetch or obey robots.txt", kind="flag", group=FETCHING,
           more='See [Politeness](../politeness.md).'),
    Option("--depth", "follow links this many hops from each listed URL; 0 fetches only "
           "the listed URLs, inf has no limit (default: 0, or [follow] depth of --config)",
           type=depth_value, metavar="N", group=FOLLOWING,
           more='See [Following links](../following-links.md).'),
    Option("--scope", "where followed links may lead from the listed URL they descend from: "
           "its host, its registrable domain, under its directory (prefix), or anywhere "
           "(any), which needs --max-pages", choices=("host", "domain", "prefix", "any"),
           group=FOLLOWING,
           more="See [Following links](../following-links.md): `prefix` is the listed URL's"
                ' directory, up to its last `/`.'),
    Option("--allow", "follow only links whose URL matches this regex (repeatable)",
           kind="append", default=None, metavar="REGEX", group=FOLLOWING,
           more='`re.search` on the absolute URL.'),
    Option("--deny", "do not follow links whose URL matches this regex (repeatable; wins "
           "over --allow)", kind="append", default=None, metavar="REGEX", group=FOLLOWING),
    Option("--max-pages", "when following links, take at most this many URLs into the run; "
           "listed URLs are never cut (default: 10000)", type=positive_int, metavar="N",
           group=FOLLOWING,
           more='At most 1,000 links are taken from one page.'),
    Option("--ignore-nofollow", "follow links that rel=nofollow, <meta name=robots> or "
           "X-Robots-Tag mark nofollow (robots.txt still applies)", kind="flag", group=FOLLOWING),
    Option("--allow-private-network", "follow links to loopback, private and link-local "
           "addresses too (not checked by default for found links)", kind="flag", group=FOLLOWING,
           more='Loopback, 10/8, 172.16/12, 192.168/16, link-local, CGNAT, multicast, '
                'reserved: see [Following links](../following-links.md).'),
    Option("--sitemaps", "also crawl the sitemaps named by each listed host's robots.txt",
           kind="flag", group=FOLLOWING,
           more='Read even with `--ignore-robots`, for the `Sitemap:` lines only. See '
                '[Sitemaps](../following-links.md#sitemaps).'),
    Option("--rejected-log", "write a line per link not followed to this file (replaced "
           "each run): reason, URL, the page it was on", type=Path, metavar="FILE",
           path=True, group=FOLLOWING,
           more='Tab-separated; appended to when `--resume` continues a run. Reasons: see '
                '[Following links](../following-links.md).'),
    Option("--cache", "HTTP cache (SQLite) for revalidating pages between runs "
           "(default: http-cache.sqlite next to the output file)",
           type=Path, default=None, metavar="PATH", path=True, group=BETWEEN_RUNS,
           more='See [Between runs](../between-runs.md#the-http-cache).'),
    Option("--no-cache", "no HTTP cache: fetch every page in full", kind="flag",
           group=BETWEEN_RUNS),
    Option("--cache-max-age", "at the end of each run, drop the cached pages that no run "
           "has used for this many days", type=non_negative_float, metavar="DAYS",
           group=BETWEEN_RUNS),
    Option("--cache-max-size", "at the end of each run, drop the least recently used cached "
           "pages past this size, in bytes or with K, M, G as in 500M (default: no bound)",
           type=byte_size, metavar="SIZE", group=BETWEEN_RUNS),
    Option("--resume", "continue the last run of the output if it did not finish (killed, "
           "interrupted), fetching only what it had not; else start a new run that can be "
           "continued so", kind="flag", group=BETWEEN_RUNS,
           more='The same run id, only what it had not fetched; a new run keeps a state in '
                '`<output>.state/` so it can be continued in turn. See [Between '
                'runs](../between-runs.md#killed-runs-resume).'),
    Option("--wait-lock", "if another run holds the output's lock, wait up to this long "
           "before exit 75", type=non_negative_float, metavar="SECONDS", group=BETWEEN_RUNS,
           more='Exit 75 tells cron that runs overlap: see [From cron](../cron.md).'),
    Option("--warc", "keep every request and answer in WARC/1.1 files in the folder PATH "
           "(crawl-RUNID-00000.warc.gz, a CDXJ index beside each), or, with PATH ending in "
           ".warc.gz, named after it; secret header values are kept as 'redacted'",
           metavar="PATH", path=True, group=ARCHIVES,
           more='Records are written as pages finish, so a killed run leaves whole files; '
                '`--resume` goes on in a new file. See [Archives](../archives.md).'),
    Option("--warc-max-size", "start a new --warc file past this size, in bytes or with "
           "K, M, G as in 500M (default: 1G)", type=byte_size, metavar="SIZE",
           group=ARCHIVES),
    Option("--replay", "take every page from these WARC archives (a file, a folder of them, "
           "or a glob) instead of the network; a URL they lack gets "
           "'error:<URL> not in the archive'", metavar="ARCHIVE", path=True, group=ARCHIVES,
           more='No connection is opened. See [Archives](../archives.md#replay).'),
    Option("--stats", "at the end of every run, replace this file with the run's report, "
           "one JSON object (status, exit, counts, errors by reason)",
           type=Path, metavar="PATH", path=True, group=REPORTS,
           more='See [From cron](../cron.md#monitoring) for the fields.'),
    Option("--metrics", "at the end of every run, replace this file with the run's report "
           "in the Prometheus text format (for node_exporter's textfile collector: *.prom)",
           type=Path, metavar="PATH", path=True, group=REPORTS,
           more='The gauges and alert rules: [From cron](../cron.md#monitoring).'),
    Option("--config", "TOML file of options (names as on the command line, e.g. "
           "per-host = 2); the command line wins", type=Path, default=None, metavar="FILE",
           in_config=False, group=IO,
           more='Every option but `--demo`, `--list-parsers` and `--config` can go in it; '
                'its `[parsers]`, `[follow]` and `[sites]` tables are on the pages of '
                '[Parsers](../parsers.md), [Following '
                'links](../follow-rules.md) and [Logging '
                'in](../logging-in.md).'),
    Option("--progress", "progress bar on stderr (default: only when stderr is a terminal)",
           kind="toggle", group=REPORTS),
    Option("--start-method", "how worker processes start (default: the platform's)",
           choices=("fork", "spawn", "forkserver"), group=FETCHING),
    Option("--log-every", "without a progress bar (stderr not a terminal), a progress line "
           "on stderr every SECONDS: pages done, rate, failed, in flight, waiting, found; "
           "0: none", type=non_negative_float, metavar="SECONDS", group=REPORTS,
           more='```\n'
                'crawl: 1234 pages done in 3m00s (12.3 pages/s over the last 60 s): 5 '
                'failed, 8 in flight, 1200 waiting, 300 found by following\n'
                '```'),
    Option("--quiet", "no progress bar, no progress lines and no line per failure; only "
           "the summary",
           kind="flag", short="-q", group=REPORTS),
    Option("--verbose", "a line per page fetched", kind="flag", short="-v", group=REPORTS),
)  # fmt: skip

BY_DEST = {option.dest: option for option in OPTIONS}


def default_words(option: Option) -> str | None:
    """The default, as `--help` and the reference say it after the help: None when the
    help already says it in words ("(default: ...)"), and for a flag or an option whose
    default is "nothing" (None, False, an empty list)."""
    default = option.resolved_default()
    nothing = default is None or default is False or default in ((), []) or default is RESOLVED
    if "(default" in option.help or nothing or option.kind in ("flag", "toggle"):
        return None
    return str(default)


def help_text(option: Option) -> str:
    """The option's help, with its default: the one text `--help` prints and the
    reference shows (argparse's `%` escapes undone)."""
    words = default_words(option)
    text = option.help.replace("%%", "%")
    return f"{text} (default: {words})" if words is not None else text


def names(option: Option) -> list[str]:
    return [option.short, option.flag] if option.short else [option.flag]


def grouped(options: tuple[Option, ...] = OPTIONS) -> list[tuple[Group, list[Option]]]:
    """The groups in their order, each with its options in the order declared; an
    option without a group comes last, under a group of its own (a test fails on it)."""
    ungrouped = Group("other", "", "options not yet given a group")
    order = [*GROUPS, ungrouped]
    members: dict[Group, list[Option]] = {group: [] for group in order}
    for option in options:
        members[option.group if option.group in members else ungrouped].append(option)
    return [(group, members[group]) for group in order if members[group]]


def add_to(parser: argparse.ArgumentParser, options: tuple[Option, ...] = OPTIONS) -> None:
    """Declare `options` on `parser`, in argument groups as `grouped` orders them."""
    for group, members in grouped(options):
        section = parser.add_argument_group(group.title)
        for option in members:
            add_option(section, option)


def add_option(section: Any, option: Option) -> None:
    default = option.resolved_default()
    helped = help_text(option).replace("%", "%%")
    if option.kind == "flag":
        section.add_argument(*names(option), action="store_true", help=helped)
    elif option.kind == "toggle":
        section.add_argument(
            *names(option), action=argparse.BooleanOptionalAction, default=None, help=helped
        )
    else:
        section.add_argument(
            *names(option),
            action="append" if option.kind == "append" else "store",
            type=option.type,
            default=[] if option.kind == "append" and default is None else default,
            metavar=option.metavar,
            choices=option.choices,
            help=helped,
        )


def usage_of(option: Option) -> str:
    """How the option is written, as `--help` lists it: `-q, --quiet`, `--workers N`,
    `--scope {host,domain,prefix,any}`, `--progress, --no-progress`."""
    if option.kind == "toggle":
        return f"{option.flag}, --no-{option.flag[2:]}"
    argument = ""
    if option.kind not in ("flag", "toggle"):
        argument = " " + (
            option.metavar or "{" + ",".join(option.choices or ()) + "}"
            if option.metavar or option.choices
            else option.dest.upper()
        )
    return ", ".join(name + argument for name in names(option))


def reference(options: tuple[Option, ...] = OPTIONS) -> str:
    """The option reference page (Markdown): the groups of `--help`, in its order, each
    option with the help `--help` prints and its `more`."""
    only_here = ", ".join(f"`{option.flag}`" for option in options if not option.in_config)
    lines = [
        "# Option reference",
        "",
        "Every option of `crawl`, in the groups of `crawl --help`, with the same words:",
        "both are made from `crawler/options.py`, where each option is declared once.",
        f"Any option but {only_here} can also be set in the `--config` TOML file,",
        "spelled as on the command line without the dashes (`per-host = 2`); the command",
        "line wins, and a relative path in the file is taken from the file's folder.",
        "`crawl --version` prints the version. `crawl export`, `crawl diff` and",
        "`crawl parse` have options of their own (`crawl export --help`): see",
        "[Between runs](../between-runs.md) and",
        "[Parsers](../parsers.md#trying-a-parser-crawl-parse).",
        "",
        "```",
        "crawl [options] URLS_FILE     # one URL per line; - reads standard input",
        "crawl --demo                  # the built-in demo site, no internet needed",
        "```",
    ]
    for group, members in grouped(options):
        title = group.title.capitalize()
        story = f": see [{title}](../{group.page})" if group.page else ""
        lines += ["", f"## {title}", "", f"{group.about.capitalize()}{story}."]
        for option in members:
            lines += ["", f"### `{usage_of(option)}` {{ #{option.dest.replace('_', '-')} }}"]
            lines += ["", help_text(option)]
            if option.more:
                lines += ["", option.more.strip()]
    return "\n".join(lines).rstrip() + "\n"
