"""Jobs set aside on disk, so a host with very many URLs neither fills memory nor
keeps the scheduler from reading the URLs of other hosts behind them.

The scheduler keeps at most `per_host_cap` queued jobs of one host in memory;
the next ones of that host go here, to an anonymous temporary file (deleted by
the kernel when the run ends, however it ends), one line each. Once the URL file
is read to its end, the scheduler reads this file back, waiting for room in that
host's queue rather than setting a job aside twice, so every job is written and
read at most once. Jobs were deduplicated before they got here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from crawler.model import Job


class Spill:
    def __init__(self) -> None:
        self._file = None
        self.count = 0
        self.broken = False

    def add(self, job: Job) -> bool:
        """Set `job` aside; False if the disk will not take it (then the caller waits
        for room in memory, as if there were no spill). URLs hold no whitespace (the
        URL file's check), so a tab separates the fields."""
        if self.broken:
            return False
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")  # noqa: SIM115
            self._file.write(f"{job.line}\t{job.url}\t{','.join(job.parsers)}\n")
        except OSError:
            self.broken = True  # what was written still comes back in replay
            return False
        self.count += 1
        return True

    def replay(self) -> Iterator[Job]:
        """The jobs set aside, in order; the file is closed when they are all read."""
        file, self._file = self._file, None
        if file is None:
            return
        with file:
            file.seek(0)
            for text in file:
                line, url, parsers = text.rstrip("\n").split("\t")
                yield Job(int(line), url, tuple(name for name in parsers.split(",") if name))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
