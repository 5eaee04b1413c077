"""Every `crawl` command the docs show (README.md, docs/*.md, the option reference) is
one a reader can paste: its options exist and its arguments parse, for the main
command and for `crawl export`, `crawl diff` and `crawl parse`."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.cli import SUBCOMMANDS, build_parser
from crawler.options import reference

ROOT = Path(__file__).resolve().parent.parent
OPERATORS = {"&&", "||", ";", "|", "&", "(", ")"}
REDIRECTION = re.compile(r"\s\d?(>>|>|<)(&\d|\s*[^\s;&|]+)")  # `>> log`, `2>&1`, `< /dev/null`


def documents() -> Iterator[tuple[str, str]]:
    yield "README.md", (ROOT / "README.md").read_text("utf-8")
    for page in sorted((ROOT / "docs").rglob("*.md")):
        yield str(page.relative_to(ROOT)), page.read_text("utf-8")
    yield "reference/options.md", reference()


def shell_lines(text: str) -> Iterator[str]:
    """The lines of the sh and crontab blocks, a heredoc's body left out."""
    for block in re.findall(r"^```(?:sh|crontab)\n(.*?)^```$", text, re.MULTILINE | re.DOTALL):
        heredoc = None
        for line in block.splitlines():
            if heredoc is not None:
                heredoc = None if line == heredoc else heredoc
                continue
            found = re.search(r"<<-?'?(\w+)'?", line)
            heredoc = found.group(1) if found else None
            yield line


def crawl_commands() -> Iterator[tuple[str, list[str]]]:
    """(where, the arguments) of every `crawl` invocation in the docs' shell blocks."""
    for name, text in documents():
        for line in shell_lines(text):
            lexer = shlex.shlex(REDIRECTION.sub(" ", line), posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            words = list(lexer)
            command: list[str] = []
            for word in [*words, ";"]:
                if word in OPERATORS:
                    yield from invocation(name, line, command)
                    command = []
                else:
                    command.append(word)


def invocation(name: str, line: str, words: list[str]) -> Iterator[tuple[str, list[str]]]:
    while words and "=" in words[0] and not words[0].startswith("-"):
        words = words[1:]  # NAME=value before the command
    if not words or not (words[0] == "crawl" or words[0].endswith("/crawl")):
        return
    yield f"{name}: {line.strip()}", words[1:]


COMMANDS = list(crawl_commands())


def test_the_docs_show_crawl_commands() -> None:
    assert len(COMMANDS) > 50
    assert {args[0] for _, args in COMMANDS if args} >= {"export", "diff", "parse"}


@pytest.mark.parametrize(("where", "args"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_each_crawl_command_in_the_docs_parses(
    where: str, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    parser: argparse.ArgumentParser = build_parser()
    if args and args[0] in SUBCOMMANDS:
        import importlib

        parser = importlib.import_module(SUBCOMMANDS[args[0]]).build_parser()
        args = args[1:]
    try:
        parser.parse_args(args)
    except SystemExit as exit:
        assert exit.code == 0, capsys.readouterr().err  # --help, --version


def toml_blocks() -> list[tuple[str, str]]:
    return [
        (f"{name}: block {n}", block)
        for name, text in documents()
        for n, block in enumerate(re.findall(r"^```toml\n(.*?)^```$", text, re.M | re.S), 1)
    ]


@pytest.mark.parametrize(("where", "block"), toml_blocks(), ids=[w for w, _ in toml_blocks()])
def test_each_config_example_in_the_docs_is_one_crawl_reads(where: str, block: str) -> None:
    """Its TOML parses; its top-level keys are options `--config` takes; its
    `[parsers]` tables load; its `[follow]` table is checked (parsers it names that the
    example does not declare count as known: an example may be a fragment)."""
    from crawler.config import split_tables
    from crawler.frontier.rules import read_follow_table
    from crawler.options import BY_DEST
    from pipelines.parsers import build

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    content = tomllib.loads(block)
    if set(content) <= {"project"}:
        return  # a plugin's pyproject.toml
    options, tables = split_tables(content)
    for key in options:
        dest = key.replace("-", "_")
        assert dest in ("urls", "urls_file") or (dest in BY_DEST and BY_DEST[dest].in_config), key
    if "parsers" in tables:
        build(tables["parsers"], Path("crawl.toml"), plugins=list)
    if "follow" in tables:
        read_follow_table(tables["follow"], lambda names: None)
