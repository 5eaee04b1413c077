"""Many writers at once: threads sharing one Writer, processes each with their own
Writer on one file, and four `crawl` runs side by side. Every line whole, every
record present, the lines of one block together."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from pipelines.records import read_line
from pipelines.writer import Writer
from tests import server as test_server
from tests.conftest import start_crawl, write_urls
from tests.stress_util import LINE, db_lines

BLOCKS = 300
LINES_PER_BLOCK = 3
# Long enough that a block spans pages and PIPE_BUF: an unlocked writer would tear it.
PAD = "x" * 5000
BOARD_ENTRIES = 5  # in tests/pages/board.html


def block(writer_id: str, number: int) -> list[str]:
    return [f"url:<http://w/{writer_id}/{number}/{part}> size:[{PAD}]" for part in range(3)]


def write_blocks(path: str, writer_id: str) -> None:
    writer = Writer(Path(path))
    for number in range(BLOCKS):
        writer.append(block(writer_id, number))
    writer.close()


def assert_all_blocks_whole(db: Path, writer_ids: list[str]) -> None:
    lines = db_lines(db)
    assert len(lines) == len(writer_ids) * BLOCKS * LINES_PER_BLOCK
    assert all(LINE.match(line) and line.endswith(f"size:[{PAD}]") for line in lines)
    for start in range(0, len(lines), LINES_PER_BLOCK):
        first = lines[start].split("/")
        writer_id, number = first[3], int(first[4])
        assert lines[start : start + LINES_PER_BLOCK] == block(writer_id, number)
    found = {tuple(line.split("/")[3:5]) for line in lines}
    assert found == {(w, str(n)) for w in writer_ids for n in range(BLOCKS)}


def test_threads_sharing_one_writer(tmp_path: Path) -> None:
    db = tmp_path / "db.txt"
    writer = Writer(db)
    ids = [f"t{n}" for n in range(8)]

    def work(writer_id: str) -> None:
        for number in range(BLOCKS):
            writer.append(block(writer_id, number))

    threads = [threading.Thread(target=work, args=(writer_id,)) for writer_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    writer.close()
    assert_all_blocks_whole(db, ids)


def test_processes_appending_to_one_file(tmp_path: Path) -> None:
    db = tmp_path / "db.txt"
    ids = [f"p{n}" for n in range(4)]
    context = multiprocessing.get_context("spawn")  # no fork: each has its own Writer
    processes = [
        context.Process(target=write_blocks, args=(str(db), writer_id)) for writer_id in ids
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert_all_blocks_whole(db, ids)


def test_four_crawls_to_four_outputs(server: test_server.TestServer, tmp_path: Path) -> None:
    runs = []
    for run in range(4):
        urls = [server.url(f"/page/{run}-{n}") for n in range(40)] + [server.url("/board")]
        urls_file = write_urls(tmp_path / f"urls-{run}.txt", *urls)
        db = tmp_path / f"db-{run}.txt"
        crawl = start_crawl(
            str(urls_file), "--output", str(db), "--workers", "2", "--parse", "board"
        )
        runs.append((crawl, db, urls))
    for crawl, db, urls in runs:
        _, stderr = crawl.communicate(timeout=120)
        assert crawl.returncode == 1, stderr  # the /page/ URLs fail the board parser
        lines = db_lines(db)
        assert all(LINE.match(line) for line in lines)
        assert {read_line(line).key for line in lines if line.startswith("url:")} == set(urls)
        assert sum(line.startswith("board:") for line in lines) == BOARD_ENTRIES
