"""`--warc`, `--warc-max-size` and `--replay` on the command line, in-process: bad
input is one line and exit 2 before anything is fetched; `crawl --help` lists them
in their group. (Real crawls with them: tests/test_warc_crawl.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import exit_status, write_urls


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--warc", "{tmp}/file.txt/arc"], "crawl: cannot write --warc {tmp}/file.txt/arc: "),
        (["--replay", "{tmp}/none-*.warc.gz"], "crawl: --replay {tmp}/none-*.warc.gz: no WARC"),
        (["--replay", "{tmp}"], "crawl: --replay {tmp}: no WARC file there"),
        (["--warc-max-size", "big"], "crawl: error: argument --warc-max-size: not a size"),
    ],
)
def test_bad_archive_options_are_one_line_and_exit_2_before_any_fetch(
    server, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], expected: str
) -> None:
    (tmp_path / "file.txt").write_text("a file, not a folder")
    urls = write_urls(tmp_path / "urls.txt", server.url("/page/a"))
    given = [part.format(tmp=tmp_path) for part in option]
    assert exit_status([str(urls), "--output", str(tmp_path / "db.txt"), *given]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith(("usage:", " "))]
    assert len(lines) == 1 and lines[0].startswith(expected.format(tmp=tmp_path)), lines
    assert server.request_count() == 0
    assert not (tmp_path / "db.txt").exists()


def test_help_lists_the_archive_options_in_their_group(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert exit_status(["--help"]) == 0
    group = capsys.readouterr().out.split("\narchives:", 1)[1].split("\n\n", 1)[0]
    for flag in ("--warc PATH", "--warc-max-size SIZE", "--replay ARCHIVE"):
        assert flag in group
