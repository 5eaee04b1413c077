"""The docs site: it builds with `mkdocs build --strict` (a broken link, a missing page
or a page left out of the navigation fails), and its option reference says what
`crawl --help` says, group by group, option by option."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.cli import build_parser
from crawler.options import GROUPS, OPTIONS, Option, help_text, reference, usage_of

ROOT = Path(__file__).resolve().parent.parent


def test_the_site_builds_strict_with_no_internet(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "no_proxy": "*"}
    # Not `-q`: it silences the warnings, and --strict then counts none of them.
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "reference" / "options" / "index.html").is_file()
    tour = (tmp_path / "getting-started" / "index.html").read_text("utf-8")
    assert "missing.html: HTTP 404" in tour  # the README's tour, included


def sections_of_help() -> dict[str, list[tuple[str, str]]]:
    """`crawl --help` as printed: each group's title and its (invocation, help) pairs."""
    sections: dict[str, list[tuple[str, str]]] = {}
    entries: list[list[str]] = []
    for line in build_parser().format_help().splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            entries = []
            sections[line[:-1]] = entries  # type: ignore[assignment]
        elif line.startswith("  -"):
            invocation, _, words = line.strip().partition("  ")
            entries.append([invocation, words])
        elif line.startswith("    ") and entries:
            entries[-1][1] += " " + line
    return {
        title: [(invocation, " ".join(words.split())) for invocation, words in pairs]
        for title, pairs in sections.items()
    }


def sections_of_reference() -> dict[str, list[tuple[str, str]]]:
    """The reference page: each `## group` and its options (heading, first paragraph)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for section in reference().split("\n## ")[1:]:
        title, _, body = section.partition("\n")
        entries = re.findall(r"^### `([^`]+)` \{ #[\w-]+ \}\n\n(.+)$", body, re.MULTILINE)
        sections[title.lower()] = [(usage, " ".join(words.split())) for usage, words in entries]
    return sections


def test_the_reference_and_help_list_the_same_options_in_the_same_groups() -> None:
    in_help = sections_of_help()
    in_reference = sections_of_reference()
    assert list(in_reference) == [group.title for group in GROUPS]
    for title, entries in in_reference.items():
        assert in_help[title] == entries, title


def test_every_option_has_a_group_and_is_listed_once() -> None:
    assert [option for option in OPTIONS if option.group not in GROUPS] == []
    listed = [usage for entries in sections_of_help().values() for usage, _ in entries]
    for option in OPTIONS:
        assert sum(usage_of(option).split(" ")[0].rstrip(",") in usage.split(", ")[0].split(" ")
                   for usage in listed) == 1, option.flag  # fmt: skip


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.flag)
def test_help_says_each_default_once(option: Option) -> None:
    text = help_text(option)
    assert text.count("(default") <= text.count("; with --scheduler") + 1, text
    for noise in ["(default: None)", "(default: False)", "(default: ())", "(default: [])"]:
        assert noise not in text


def test_the_readme_is_a_front_page_whose_test_command_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.splitlines()) <= 300
    (command,) = [line for line in readme.splitlines() if "python -m pytest" in line]
    command = command.split("  #")[0].strip()
    ci = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    assert ci[-1] == command  # `.ci/run` runs exactly the README's test command


def nav_pages(entries: object) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, dict):
        return [page for value in entries.values() for page in nav_pages(value)]
    return [page for entry in entries for page in nav_pages(entry)]  # type: ignore[attr-defined]


def test_the_front_pages_link_every_page_of_the_site() -> None:
    """README.md and docs/index.md list the pages, so a page added to the navigation
    is added to both."""
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text("utf-8"))["nav"]
    pages = [page for page in nav_pages(nav) if page not in ("index.md", "reference/options.md")]
    readme = (ROOT / "README.md").read_text("utf-8")
    index = (ROOT / "docs" / "index.md").read_text("utf-8")
    for page in pages:
        assert f"](docs/{page})" in readme, page
        assert f"]({page})" in index, page


def test_both_exit_status_tables_list_every_exit_status() -> None:
    import crawler.exit_codes as codes

    statuses = {value for name, value in vars(codes).items() if name.startswith("EXIT_")}
    for page, heading in (("urls-and-output.md", "## Exit status"), ("cron.md", "## Exit status")):
        text = (ROOT / "docs" / page).read_text("utf-8").split(heading, 1)[1]
        table = text.split("\n\n", 2)[1]
        listed = {int(code) for row in table.splitlines()[2:]
                  for code in re.findall(r"\d+", row.split("|")[1])}  # fmt: skip
        assert listed == statuses | {130, 143}, page
