"""Queued URLs set aside on disk, per host, so that neither a host with very many
URLs nor a crawl that finds a million links fills memory, and no host's surplus
holds up the others.

The frontier keeps a bounded number of queued entries in memory (a share of them
per host); the next ones of a host go here, as one line of text each, to one
anonymous temporary file (deleted by the kernel when the run ends, however it
ends). What stays in memory is the offset of each line, 8 bytes, in a flat array
per host, so a host's lines come back in the order they went, each read once,
as soon as that host has room again. Entries were deduplicated before they got
here.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator


class _HostLines:
    __slots__ = ("next", "offsets")

    def __init__(self) -> None:
        self.offsets = array("Q")
        self.next = 0  # index of the next offset to read


class Spill:
    def __init__(self) -> None:
        self._file = None
        self._hosts: dict[str, _HostLines] = {}
        self.count = 0
        self.broken = False

    def add(self, host: str, line: str) -> bool:
        """Set `line` (no line break in it) aside for `host`; False if the disk will
        not take it (then the caller waits for room in memory, or drops it)."""
        if self.broken:
            return False
        data = line.encode("utf-8", "surrogatepass") + b"\n"
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile("w+b")  # noqa: SIM115 - closed by close()
            self._file.seek(0, 2)
            offset = self._file.tell()
            self._file.write(data)
        except OSError:
            self.broken = True  # what was written still comes back
            return False
        lines = self._hosts.get(host)
        if lines is None:
            lines = self._hosts[host] = _HostLines()
        lines.offsets.append(offset)
        self.count += 1
        return True

    def count_for(self, host: str) -> int:
        lines = self._hosts.get(host)
        return len(lines.offsets) - lines.next if lines is not None else 0

    def hosts(self) -> Iterator[str]:
        """The hosts that have lines set aside, in the order they first had one."""
        return iter(list(self._hosts))

    def pop(self, host: str) -> str | None:
        """The oldest line set aside for `host`; None if it has none, "" if the disk
        failed to give it back."""
        lines = self._hosts.get(host)
        if lines is None or self._file is None:
            return None
        offset = lines.offsets[lines.next]
        lines.next += 1
        self.count -= 1
        if lines.next == len(lines.offsets):
            del self._hosts[host]
        try:
            self._file.seek(offset)
            data = self._file.readline()
        except OSError:
            return ""  # the disk failed under it: the line is lost, and the caller says so
        return data.decode("utf-8", "surrogatepass").rstrip("\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._hosts.clear()
        self.count = 0
