"""The writer (one append per page, never torn or interleaved) and the run lock."""

from __future__ import annotations

import multiprocessing
import os
import re
from pathlib import Path

import pytest

from pipelines.run_lock import LockHeld, RunLock
from pipelines.writer import OutputError, Writer


def test_lines_are_appended_with_newlines(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "db.txt"
    writer = Writer(db)
    writer.append(["url:<http://a/> size:[1]", "board:<http://a/> {}"])
    writer.append(["error:<http://b/> HTTP 404"])
    writer.close()
    assert db.read_text("utf-8") == (
        "url:<http://a/> size:[1]\nboard:<http://a/> {}\nerror:<http://b/> HTTP 404\n"
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", "x\n"),
        ("old\n", "old\nx\n"),
        ("torn by a crash", "torn by a crash\nx\n"),
    ],
)
def test_an_unterminated_file_is_mended_once(tmp_path: Path, before: str, after: str) -> None:
    db = tmp_path / "db.txt"
    db.write_text(before, "utf-8")
    writer = Writer(db)
    writer.append(["x"])
    writer.close()
    assert db.read_text("utf-8") == after


def test_an_unusable_output_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=re.escape(f"cannot open {tmp_path}")):
        Writer(tmp_path)


def _append_blocks(path: str, name: str, blocks: int) -> None:
    writer = Writer(Path(path))
    for block in range(blocks):
        writer.append([f"url:<{name}/{block}> size:[{i}]" + "x" * 2000 for i in range(5)])
    writer.close()


def test_two_processes_never_interleave_a_page(tmp_path: Path) -> None:
    db = tmp_path / "db.txt"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_blocks, args=(str(db), name, 200)) for name in "ab"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    lines = db.read_text("utf-8").splitlines()
    assert len(lines) == 2 * 200 * 5
    for start in range(0, len(lines), 5):
        block = lines[start : start + 5]
        head = block[0].split(" ", 1)[0]
        assert [line.split(" ", 1)[0] for line in block] == [head] * 5  # one page, together
        assert [line.split("size:[", 1)[1][0] for line in block] == list("01234")


def test_run_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    db = tmp_path / "out" / "db.txt"
    first, second = RunLock(db), RunLock(db)
    first.acquire()
    assert (tmp_path / "out" / "db.txt.lock").read_text() == f"{os.getpid()}\n"
    with pytest.raises(LockHeld, match=re.escape(f"another crawl is writing to {db}")):
        second.acquire()
    first.release()
    second.acquire()
    second.release()


def test_run_lock_under_a_file_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(OutputError, match=re.escape("notes.txt is not a folder")):
        RunLock(tmp_path / "notes.txt" / "db.txt").acquire()
