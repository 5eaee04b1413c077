"""`crawl`: the command line. Turns arguments into settings and runs the crawl.

Expected failures (a missing URL file, an unusable output, a held lock) are one
line on stderr and an exit status, never a traceback."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler import __version__
from crawler.config import parse_with_config
from crawler.exit_codes import EXIT_UNUSABLE
from crawler.options import add_to
from crawler.settings import DEFAULT_CACHE_NAME, FetchSettings, RunSettings

# Imported where used, so that `--version` and `--help` do not pay for them:
# crawler.identity (requests, http.cookiejar) and pipelines (the parser registry,
# which reads every installed package's entry points): two thirds of start-up.
if TYPE_CHECKING:
    from crawler.identity import Identity
    from pipelines.parsers import Registry

# `crawl NAME ...`: the module whose main(argv) runs the command.
SUBCOMMANDS = {
    "export": "crawler.commands.export",
    "diff": "crawler.commands.diff",
    "parse": "crawler.commands.parse",
}


def build_parser() -> argparse.ArgumentParser:
    """The main command's parser: the URL file, then every option of `OPTIONS`."""
    parser = argparse.ArgumentParser(
        prog="crawl",
        description="Fetch the URLs listed in URLS_FILE with a pool of workers and append "
        "one record per page (and one per parsed entry) to the output file. "
        f"Other commands: {', '.join(f'crawl {name} --help' for name in SUBCOMMANDS)}.",
    )
    parser.add_argument(
        "urls_file",
        nargs="?",
        metavar="URLS_FILE",
        help="one URL per line, optionally followed by parser names; - reads stdin "
        "(a file named like a command: ./export)",
    )
    add_to(parser)
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
    """The settings of a run: each settings field takes the option of the same name;
    the HTTP cache's path is derived (`--cache`, `--no-cache`, the output's folder)."""
    given = vars(args)

    def fields_of(settings: type) -> dict[str, Any]:
        names = {field.name for field in dataclasses.fields(settings)}
        return {name: value for name, value in given.items() if name in names}

    fetch = FetchSettings(**{**fields_of(FetchSettings), "cache_path": cache_path(args)})
    return RunSettings(**{**fields_of(RunSettings), "fetch": fetch})


def check_follow(
    settings: RunSettings, registry: Registry, parser: argparse.ArgumentParser
) -> None:
    """Exit 2 with one line if the options or the `[follow]` table for following
    links cannot be used (a bad regex or selector, a parser that is unknown or
    cannot run, --scope any alone)."""
    from crawler.frontier.policy import policy_for
    from crawler.frontier.rules import RulesError

    try:
        policy_for(settings, registry.check)
    except RulesError as error:
        parser.error(str(error))


def load_parsers(tables: object, config: Path | None) -> Registry:
    """The registry of parsers (built-ins, plugins, the config's `[parsers]` table),
    checked; raises RegistryError with one line."""
    from pipelines.parsers import build

    return build(tables, config)


def parse_arguments(
    argv: Sequence[str] | None, parser: argparse.ArgumentParser | None = None
) -> argparse.Namespace:
    """The command line, over the defaults of `--config FILE`, with the backend settled
    and the parsers loaded (`args.registry`): a bad `[parsers.NAME]` table, or
    `--parse` naming a parser that is unknown or cannot run, is a usage error."""
    parser = parser or build_parser()
    args = parse_with_config(parser, argv)  # --help and --version exit here
    resolve_backend(args, parser)
    from pipelines.parsers import RegistryError

    try:
        args.registry = load_parsers(args.config_tables.get("parsers"), args.config)
    except RegistryError as error:
        parser.error(str(error))
    problem = args.registry.check(args.parse)
    if problem:
        parser.error(f"--parse: {problem}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    parser = build_parser()
    args = parse_arguments(argv, parser)
    from crawler.pools import DASK_MISSING, dask_installed
    from crawler.report import Reporter
    from crawler.runner import run_crawl

    settings = settings_from(args)
    check_follow(settings, args.registry, parser)
    reporter = Reporter(settings.progress, settings.quiet, settings.verbose)
    if args.list_parsers:
        print("\n".join(args.registry.listing()))
        return 0
    for problem in args.registry.problems:
        reporter.say(f"crawl: {problem}")
    from pipelines.parsers import install

    install(args.registry)
    if settings.backend == "dask" and not dask_installed():
        reporter.say(DASK_MISSING)
        return EXIT_UNUSABLE
    if args.demo:
        from crawler.demo import run_demo

        demo_settings = with_archives(settings, None, reporter)
        return EXIT_UNUSABLE if demo_settings is None else run_demo(demo_settings, reporter)
    if args.urls_file is None:
        parser.error("URLS_FILE is required (or --demo)")
    identity = identity_of(settings, args.urls_file, reporter)
    if identity is None:
        return EXIT_UNUSABLE
    settings = with_archives(settings, identity, reporter)
    if settings is None:
        return EXIT_UNUSABLE
    if args.urls_file == "-":
        return run_crawl(settings, sys.stdin.buffer, "-", reporter, identity)
    try:
        urls = open(args.urls_file, "rb")  # noqa: SIM115 - closed below, after the run
    except OSError as error:
        reporter.say(f"crawl: cannot read {args.urls_file}: {error.strerror}")
        return EXIT_UNUSABLE
    with urls:
        return run_crawl(settings, urls, args.urls_file, reporter, identity)


def with_archives(
    settings: RunSettings, identity: Identity | None, reporter: Any
) -> RunSettings | None:
    """`settings` made ready for `--warc` and `--replay`, checked before anything is
    fetched; None (after one line on stderr) when they cannot be used.

    `--warc`: its folder must be writable; the workers capture records, redacting
    the values of the headers the identity binds to sites (the names only travel).
    `--replay`: the archives are indexed here, once (a damaged file costs a warning
    line), and the index goes to each worker; the HTTP cache is off, since nothing
    is fetched that it could save."""
    fetch = settings.fetch
    if settings.warc is not None:
        from crawler.archive.writer import check_writable

        problem = check_writable(settings.warc)
        if problem:
            reporter.say(f"crawl: {problem}")
            return None
        names: set[str] = set()
        if identity is not None:  # None: the demo, which sends nothing of the user's
            names = {name.lower() for name, _ in identity.header}
            names |= {name.lower() for rule in identity.sites for name, _ in rule.headers}
        fetch = dataclasses.replace(fetch, archive=True, secret_headers=frozenset(names))
    if settings.replay is not None:
        from crawler.archive.replay import ReplayError, archive_files, build_index

        try:
            files = archive_files(settings.replay)
        except ReplayError as error:
            reporter.say(f"crawl: {error}")
            return None
        index = build_index(files, reporter.say)
        fetch = dataclasses.replace(fetch, replay_index=index, cache_path=None)
    return dataclasses.replace(settings, fetch=fetch)


def identity_of(settings: RunSettings, urls_file: str, reporter: Any) -> Identity | None:
    """The run's headers, sites and cookies (`crawler.identity`), checked before
    anything is fetched; None (after one line on stderr) when they cannot be used,
    or when they would go in clear to a Dask scheduler off this machine
    (`crawler.pools.cluster_security`). Without secrets such a run goes on, but a
    listed URL's `user:password@` is then refused, not sent."""
    from crawler.identity import IdentityError, build_identity
    from crawler.pools.cluster_security import secrets_refusal

    try:
        identity = build_identity(
            settings.header,
            settings.config_tables.get("sites"),
            settings.cookies,
            os.environ,
            reporter.say,
        )
    except IdentityError as error:
        reporter.say(f"crawl: {error}")
        return None
    joined = settings.backend == "dask" and settings.scheduler
    refusal = secrets_refusal(settings.scheduler) if joined else None
    if refusal:
        if identity.secrets or urls_hold_credentials(urls_file):
            reporter.say(f"crawl: {refusal}")
            return None
        identity.refuse_userinfo = "user:password@ not sent to a tcp:// scheduler (use tls://)"
    return identity


def urls_hold_credentials(urls_file: str) -> bool:
    """Whether a line of the URL file (a file; stdin cannot be read twice) starts
    with a URL holding `user:password@` (`crawler.urlfile.holds_credentials`)."""
    from crawler.urlfile import holds_credentials

    if urls_file == "-":
        return False
    try:
        with open(urls_file, "rb") as lines:
            return holds_credentials(lines)
    except OSError:
        return False  # said when the run opens it


def entry_point() -> None:
    sys.exit(main())
