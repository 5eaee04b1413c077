"""The command line in-process: what argparse and the CLI say about bad input, and
the help text. The real command runs in tests/test_cli_integration.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.cli import build_parser, parse_arguments, settings_from
from crawler.options import BY_DEST, OPTIONS, Option
from tests.conftest import exit_status


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["u.txt", "--workers", "0"], "--workers: must be at least 1, not 0"),
        (["u.txt", "--workers", "many"], "--workers: invalid positive_int value: 'many'"),
        (["u.txt", "--retries", "-1"], "--retries: must be 0 or more, not -1"),
        (["u.txt", "--timeout", "0"], "--timeout: must be more than 0, not 0"),
        (["u.txt", "--timeout", "nan"], "--timeout: must be more than 0, not nan"),
        (["u.txt", "--max-bytes", "0"], "--max-bytes: must be at least 1, not 0"),
        (["u.txt", "--parse", "nope"], "--parse: unknown parser nope (known: board)"),
        (["u.txt", "--start-method", "thread"], "--start-method: invalid choice: 'thread'"),
        ([], "URLS_FILE is required (or --demo)"),
    ],
)
def test_bad_options_exit_2_with_one_clear_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert exit_status(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.splitlines()[-1].startswith("crawl: error: ")


def test_output_that_is_a_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    assert exit_status([str(urls), "--output", str(tmp_path)]) == 2
    assert f"crawl: cannot open {tmp_path}: Is a directory" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: crawl ")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["--version"]) == 0
    assert capsys.readouterr().out.startswith("crawl ")


def test_help_lists_every_option_with_its_default() -> None:
    text = " ".join(build_parser().format_help().split())
    for option in [
        "URLS_FILE",
        "--demo",
        "--workers",
        "--output",
        "--parse",
        "--timeout",
        "--retries",
        "--max-bytes",
        "--user-agent",
        "--progress, --no-progress",
        "--start-method",
        "-q, --quiet",
        "-v, --verbose",
        "--version",
    ]:
        assert option in text
    for default in [
        "(default: the number of CPUs)",
        "(default: output/db.txt)",
        "(default: 10.0)",
        "(default: 2)",
        "(default: 10485760)",
        "(default: crawl/",
        "(default: only when stderr is a terminal)",
    ]:
        assert default in text
    # A default said once, in words a user reads: no Python values.
    for noise in ["(default: None)", "(default: False)", "(default: ())", ") (default:"]:
        assert noise not in text


def test_help_shows_the_options_in_their_groups_in_order() -> None:
    from crawler.options import GROUPS

    text = build_parser().format_help()
    headings = [line[:-1] for line in text.splitlines() if line.endswith(":") and line[0] != " "]
    titles = [group.title for group in GROUPS]
    assert [heading for heading in headings if heading in titles] == titles
    fetching = text.split("\nfetching:\n", 1)[1].split("\n\n", 1)[0]
    assert "--timeout SECONDS" in fetching and "--depth" not in fetching


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.flag)
def test_every_option_is_in_help_and_in_the_parser(option: Option) -> None:
    assert option.flag in build_parser().format_help()
    dest = {action.dest for action in build_parser()._actions}
    assert option.dest in dest


@pytest.mark.parametrize(
    ("field", "flag"),
    [("timeout", "--timeout"), ("per_host", "--per-host"), ("output", "--output")],
)
def test_an_option_s_default_is_its_settings_field_s(field: str, flag: str) -> None:
    """Defaults live in crawler/settings.py only: the parser takes them from there."""
    settings = settings_from(parse_arguments(["u.txt"]))
    value = getattr(settings.fetch if field == "timeout" else settings, field)
    assert BY_DEST[flag.lstrip("-").replace("-", "_")].resolved_default() == value
