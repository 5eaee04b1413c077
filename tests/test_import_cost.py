"""`crawl --version` and `crawl --help` pay for `import crawler.cli`: it imports
none of the heavy libraries, which only a run (or a subcommand) imports; nor do
they import `pipelines` (the parser registry reads every installed package's
entry points) or the TOML reader, which only a run (with `--config`) needs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, crawl_env

HEAVY = (
    "requests",
    "urllib3",
    "http.cookiejar",
    "lxml",
    "parsel",
    "jmespath",
    "sqlite3",
    "ada_url",
    "distributed",
    "bs4",
    "charset_normalizer",
    "prometheus_client",
)

PROBE = f"""
import sys
import crawler.cli
heavy = {HEAVY!r}
print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))
"""


def test_importing_the_command_line_imports_no_heavy_library() -> None:
    imported = subprocess.check_output(
        [sys.executable, "-c", PROBE], text=True, timeout=60, env=crawl_env(), cwd=ROOT
    )
    assert imported.strip() == "[]"


ANSWER = """
import sys
from crawler.cli import main
try:
    main([sys.argv[1]])
except SystemExit:
    pass
print(sorted(m for m in sys.modules if m.split('.')[0] in ('pipelines', 'tomllib', 'tomli')))
"""


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_import_neither_pipelines_nor_toml(option: str) -> None:
    output = subprocess.check_output(
        [sys.executable, "-c", ANSWER, option], text=True, timeout=60, env=crawl_env(), cwd=ROOT
    )
    *answer, imported = output.splitlines()
    assert answer and answer[0].startswith(("crawl ", "usage: crawl"))
    assert imported == "[]"
