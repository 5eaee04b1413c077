"""One run per output file: an exclusive `flock` on `<output>.lock` held for the
whole run, so a cron job that starts while the last one is still going stops at
once instead of mixing two runs. The kernel drops the lock when the process dies,
however it dies, so a killed run never leaves it stuck."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from pipelines.writer import OutputError


class LockHeld(Exception):
    """Another run holds the lock."""


class RunLock:
    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = output.with_name(output.name + ".lock")
        self._fd: int | None = None

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to `wait` seconds for another run to let it go.

        Raises LockHeld if it is still held then, OutputError if the lock file
        cannot be made."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # mkdir's own words ("File exists") would mislead
            raise OutputError(
                f"cannot write {self.output}: {self.path.parent} is not a folder"
            ) from None
        except OSError as error:
            raise OutputError(f"cannot create {self.path.parent}: {error.strerror}") from None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise OutputError(f"cannot open {self.path}: {error.strerror}") from None
        give_up = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    os.close(fd)
                    raise LockHeld(f"another crawl is writing to {self.output}") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
