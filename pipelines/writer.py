"""Append records to `db.txt` so that no line is ever lost, torn or interleaved.

All the lines of one page go out in one `write` on a file opened with O_APPEND,
under a `threading.Lock` (threads of this process) and an `fcntl.flock` on the
file (other processes appending to it). Nothing is buffered in between: once
`append` returns, the lines are in the file.

If the file's last line is unterminated (a run was killed mid-write, or another
tool left it so), the first append starts with a newline, so the two never merge.

A write that fails part-way (the disk filled up: the kernel took the first pages
of the block, then said ENOSPC) is undone by cutting the file back to where the
block began, so a full disk leaves whole lines only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Sequence
from pathlib import Path


class OutputError(Exception):
    """The output cannot be written; the message names the path and the cause."""


class Writer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._needs_check = True
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise OutputError(f"cannot open {path}: {error.strerror}") from None
        self._reader = self._open_reader()

    def _open_reader(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None  # not a regular readable file (a pipe, /dev/full): nothing to mend

    def _ends_unterminated(self) -> bool:
        if self._reader is None:
            return False
        size = os.fstat(self._fd).st_size
        return size > 0 and os.pread(self._reader, 1, size - 1) != b"\n"

    def append(self, lines: Sequence[str]) -> None:
        """Write `lines` (without their newlines) as one block, atomically."""
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        with self._lock:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    if self._needs_check and self._ends_unterminated():
                        data = b"\n" + data
                    self._write_all_or_nothing(data)
                    self._needs_check = False
                finally:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError as error:
                raise OutputError(f"cannot write {self.path}: {error.strerror}") from None

    def _write_all_or_nothing(self, data: bytes) -> None:
        try:
            start = os.fstat(self._fd).st_size
        except OSError:
            start = None
        try:
            self._write_all(data)
        except OSError:
            if start is not None:
                with contextlib.suppress(OSError):  # a device or a pipe cannot be cut
                    os.ftruncate(self._fd, start)
            raise

    def _write_all(self, data: bytes) -> None:
        # A regular file takes the whole block in one write; the loop is for the
        # rare short write (a signal, a nearly full disk), still under the lock.
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        """Sync and close; the records are on disk when this returns."""
        with self._lock:
            if self._fd < 0:
                return
            with contextlib.suppress(OSError):  # a pipe or a device cannot be synced
                os.fsync(self._fd)
            os.close(self._fd)
            if self._reader is not None:
                os.close(self._reader)
            self._fd, self._reader = -1, None
