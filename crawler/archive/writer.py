"""`--warc PATH`: the run's archive files, written by the main process from the
records the workers made.

Where the work happens, and why: a fetch worker builds and gzips every record
(`crawler.archive.records.capture`) and sends them back with its result, as
bytes; the main process only appends them, one `write` per finished page, and
decides what needs the whole run's view: whether a body is already in the
archive (then a small `revisit` record is written instead of the response) and
when a file is full. So the coordinator pays one system call and a dictionary
look-up per page, nothing is compressed twice, the run has one file at a time
(with its index and one sequence of record offsets), and it works unchanged when
the workers are a Dask cluster's, on other machines. (The alternative, a file per
worker process, would need no transfer, but a Dask worker on another machine would
write it where the run cannot see it, and the run-wide deduplication would need a
shared table.)

Files: `PATH` names a folder (made if needed), or, ending in `.warc.gz`, a file
whose name without that ending starts each file's name: the files are
`STEM-RUNID-NNNNN.warc.gz` (stem `crawl` in a folder), numbered from 00000, each
with its CDXJ index `STEM-RUNID-NNNNN.cdxj` beside it. A file is started past
`max_size` bytes; `--resume` (the same run id) goes on in the next number, so a
file once closed is never appended to. Files are created 0600: they hold what
sites served.

Nothing torn: each page's records are one `write` of whole gzip members, straight
to the file (no buffer of ours in between), before the page's lines reach
`db.txt`; a kill -9 leaves whole members. The index lines follow each write; the
index is sorted (as CDXJ readers expect) when its file is closed, and left in
write order by a killed run.

Order of decisions for one response (`write`):
1. a 304 is a `revisit` (`server-not-modified`) naming its own URL and, when the
   cache gave it, the date of the answer it confirms (the full answer it stands
   for is an earlier run's, in an earlier archive: replay finds it there);
2. a non-empty body whose payload digest this run already wrote is a `revisit`
   (`identical-payload-digest`) naming that first record;
3. anything else is written as it came, and its digest remembered: the last
   `REMEMBERED` digests, so memory stays flat however long the run (a body seen
   again after that many others is written again).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from crawler.archive.records import revisit, warcinfo
from crawler.model import Capture

DEFAULT_STEM = "crawl"
SUFFIX = ".warc.gz"
INDEX_SUFFIX = ".cdxj"
REMEMBERED = 200_000  # payload digests kept for deduplication: ~30 MB


class ArchiveError(Exception):
    """The archive cannot be written; the message is one line."""


def place(spec: str | Path) -> tuple[Path, str]:
    """The folder and the file stem `--warc PATH` names (see the module's docstring)."""
    path = Path(spec).expanduser()
    if path.name.endswith(SUFFIX) and len(path.name) > len(SUFFIX):
        return path.parent, path.name[: -len(SUFFIX)]
    return path, DEFAULT_STEM


def check_writable(spec: str | Path) -> str | None:
    """Why the archive `spec` names cannot be written (one line), or None. Makes
    its folder if needed, as the output's folder is made."""
    folder, _ = place(spec)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot write --warc {spec}: {error.strerror or error}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write --warc {spec}: {folder} is not writable"
    return None


def surt(url: str) -> str:
    """The sort key of `url` as CDXJ indexes spell it (SURT): the host's labels
    reversed and comma-joined, `www.` dropped, the port kept, then `)` and the path
    and sorted query, all lower-cased."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    key = ",".join(reversed(host.split(".")))
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != {"http": 80, "https": 443}.get(parts.scheme.lower()):
        key += f":{port}"
    path = parts.path or "/"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{key}){path}{'?' + query if query else ''}".lower()


def index_line(capture: Capture, kind: str, offset: int, length: int, filename: str) -> str:
    timestamp = "".join(char for char in capture.date[:19] if char.isdigit())
    fields = {
        "url": capture.url,
        "mime": "warc/revisit" if kind == "revisit" else capture.mime or "unk",
        "status": str(capture.status),
        "digest": capture.digest.removeprefix("sha1:"),
        "length": str(length),
        "offset": str(offset),
        "filename": filename,
    }
    return f"{surt(capture.url)} {timestamp} {json.dumps(fields, ensure_ascii=False)}\n"


class ArchiveWriter:
    """The archive of one run (see the module's docstring). `info`: the fields of
    each file's `warcinfo` record; `say`: where the one line goes if the archive
    cannot be written any more (the run goes on without it)."""

    def __init__(
        self,
        spec: str | Path,
        run_id: str,
        max_size: int,
        info: Iterable[tuple[str, str]],
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder, self.stem = place(spec)
        self.run_id = run_id
        self.max_size = max_size
        self.info = tuple(info)
        self.say = say
        self.clock = clock
        self.files: list[Path] = []
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._index = None
        self._size = self._pages = 0
        self._seen: dict[str, tuple[str, str]] = {}  # payload digest -> (URI, WARC-Date)
        self._broken = False
        self._number = self._first_number()
        self._open()

    def _first_number(self) -> int:
        """The next number for this run: past every file a resumed run wrote."""
        prefix = f"{self.stem}-{self.run_id}-"
        taken = [
            int(name[len(prefix) : len(prefix) + 5])
            for name in (path.name for path in self.folder.glob(f"{prefix}*{SUFFIX}"))
            if name[len(prefix) : len(prefix) + 5].isdigit()
        ]
        return max(taken, default=-1) + 1

    def _open(self) -> None:
        name = f"{self.stem}-{self.run_id}-{self._number:05d}"
        path = self.folder / (name + SUFFIX)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, flags, 0o600)
            index_fd = os.open(self.folder / (name + INDEX_SUFFIX), flags, 0o600)
        except OSError as error:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            raise ArchiveError(f"cannot write --warc {path}: {error.strerror or error}") from None
        self._index = os.fdopen(index_fd, "w", encoding="utf-8", buffering=1)
        self.files.append(path)
        self._size = self._pages = 0
        self._append(warcinfo(path.name, self.info, self.clock()))

    def _append(self, data: bytes) -> int:
        """Write `data` at the end of the file; its offset."""
        offset = self._size
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)  # type: ignore[arg-type]
            view = view[written:]
        self._size += len(data)
        return offset

    def write(self, captures: Iterable[Capture]) -> None:
        """Append the records of one finished page (its hops, robots.txt's...), in
        one write. Never raises: a failure is said once and ends the archive."""
        captures = tuple(captures)
        if not captures or self._broken:
            return
        with self._lock:
            try:
                self._write(captures)
            except Exception as error:  # noqa: BLE001 - it runs in the pool's callback
                self._broken = True
                text = error.strerror if isinstance(error, OSError) else str(error)
                self.say(f"crawl: --warc: {text}; the archive stops here, the run goes on")

    def _write(self, captures: tuple[Capture, ...]) -> None:
        if self._size >= self.max_size and self._pages:  # a file holds one page at least
            self._close_file()
            self._number += 1
            self._open()
        chunks: list[bytes] = []
        entries: list[tuple[Capture, str, int, int]] = []  # capture, kind, offset, length
        position = self._size
        for capture in captures:
            kind, data = self._response_of(capture)
            entries.append((capture, kind, position, len(data)))
            chunks += (data, capture.request)
            position += len(data) + len(capture.request)
        self._append(b"".join(chunks))
        self._pages += 1
        name = self.files[-1].name
        for capture, kind, offset, length in entries:
            self._index.write(index_line(capture, kind, offset, length, name))  # type: ignore[union-attr]

    def _response_of(self, capture: Capture) -> tuple[str, bytes]:
        """`response` or `revisit`, and the record (the module's order of decisions)."""
        if capture.status == 304 or not capture.response:
            return "revisit", revisit(
                capture, "server-not-modified", capture.url, capture.refers_to_date
            )
        first = self._seen.get(capture.digest) if capture.length else None
        if first is not None:
            return "revisit", revisit(capture, "identical-payload-digest", *first)
        if capture.length:
            self._seen[capture.digest] = (capture.url, capture.date)
            if len(self._seen) > REMEMBERED:  # the oldest goes (dicts keep their order)
                del self._seen[next(iter(self._seen))]
        return "response", capture.response

    def _close_file(self) -> None:
        """Close the current file, and sort its index."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._index is not None:
            self._index.close()
            self._index = None
            sort_index(self.files[-1].with_name(self.files[-1].name[: -len(SUFFIX)] + INDEX_SUFFIX))

    def close(self) -> None:
        with self._lock:
            self._broken = True  # a late result is not written: the file is done
            try:
                self._close_file()
            except OSError as error:
                self.say(f"crawl: --warc: {error.strerror}")


def sort_index(path: Path) -> None:
    """Sort a CDXJ file in place (by key, then time), replacing it in one rename."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(sorted(lines))
    os.replace(temporary, path)
