"""The state a run keeps next to its output so that `--resume` can continue it:
the folder `<output>.state/` (mode 0700) holding `journal` (0600), whose first
line is the header and the rest the frontier's journal
(`crawler.frontier.journal`).

The header is one line, `crawl-journal 1 {json}`: the run's id, when it started,
where its start line is in db.txt, and what the run must not change to be
continued (`fingerprint`): the URL file (its path, size and a digest of its
beginning) and the options that decide which URLs the run has (follow options,
robots, parsers). Nothing secret is in it: no header, cookie or password.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.frontier.journal import FORMAT

JOURNAL = "journal"
HEAD_BYTES = 1 << 20  # the URL file's first MiB names it, with its size and path
STDIN = "-"


class StateError(Exception):
    """The state cannot be used; the message is one line."""


def state_dir(output: Path) -> Path:
    return output.with_name(output.name + ".state")


@dataclass(frozen=True)
class Header:
    run: str
    started_at: float
    db_offset: int
    fingerprint: dict[str, Any]

    def line(self) -> bytes:
        fields = {
            "run": self.run,
            "started_at": self.started_at,
            "db_offset": self.db_offset,
            "fingerprint": self.fingerprint,
        }
        return f"{FORMAT} {json.dumps(fields, sort_keys=True)}\n".encode()


def url_file_identity(source: str, stream: Any) -> dict[str, Any]:
    """What names the URL file: its absolute path, size, and a digest of its first
    MiB (read through a second handle, so `stream` stays where it is). Standard
    input, a pipe or the --demo's list: only its name (it cannot be read again)."""
    if source == STDIN:
        return {"path": STDIN}
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):  # not a file (the --demo's list): nothing to read again
        return {"path": source}
    if not stat.S_ISREG(status.st_mode):  # a pipe is read once
        return {"path": source}
    path = Path(source).absolute()
    size = status.st_size
    with open(path, "rb") as again:
        head = hashlib.blake2b(again.read(HEAD_BYTES), digest_size=16).hexdigest()
    return {"path": str(path), "size": size, "head": head}


def options_fingerprint(frontier: Any, settings: Any) -> dict[str, Any]:
    """The options that decide which URLs a run has, as plain values named as the
    user gives them. Tables are digested: what differs is named, not shown."""
    follow = frontier.follow

    def table(name: str) -> str | None:
        value = settings.config_tables.get(name)
        if value is None:
            return None
        text = json.dumps(value, sort_keys=True, default=str)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    depth = follow.depth
    return {
        "--depth": "inf" if depth == math.inf else int(depth),
        "--scope": follow.scope,
        "--allow": [pattern.pattern for pattern in follow.allow],
        "--deny": [pattern.pattern for pattern in follow.deny],
        "--max-pages": follow.max_pages if follow.max_pages != math.inf else "inf",
        "--ignore-nofollow": not follow.obey_nofollow,
        "--allow-private-network": not follow.guard_private,
        "--sitemaps": frontier.sitemaps,
        "--ignore-robots": frontier.robots_agent is None,
        "--parse": list(settings.parse),
        "[follow] table": table("follow"),
        "[parsers] table": table("parsers"),
    }


def rereadable(identity: dict[str, Any]) -> bool:
    """Whether the URL file of `url_file_identity` can be read again (a file)."""
    return "size" in identity


def differences(then: dict[str, Any], now: dict[str, Any]) -> str | None:
    """What differs between two fingerprints, said in a few words; None if nothing."""
    then_urls, now_urls = then.get("urls", {}), now.get("urls", {})
    if then_urls.get("path") != now_urls.get("path"):
        return f"the URL file was {then_urls.get('path')}, now {now_urls.get('path')}"
    if then_urls != now_urls:
        return f"the URL file {now_urls.get('path')} changed since (size or content)"
    then_options, now_options = then.get("options", {}), now.get("options", {})
    for name in sorted(then_options.keys() | now_options.keys()):
        before, after = then_options.get(name), now_options.get(name)
        if before != after:
            if name.endswith("table"):
                return f"the {name} of --config differs"
            return f"{name} was {_said(before)}, now {_said(after)}"
    return None


def _said(value: Any) -> str:
    if isinstance(value, bool):
        return "given" if value else "not given"
    if isinstance(value, list):
        return " ".join(map(str, value)) or "none"
    return str(value)


def create(directory: Path, header: Header) -> int:
    """A new state (what was there goes): the folder, then the journal with its
    header, synced. Returns the journal, open for appending."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(directory)
    os.mkdir(directory, 0o700)
    os.chmod(directory, 0o700)  # whatever the umask
    path = directory / JOURNAL
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, header.line())
        os.fsync(fd)
        _sync_folder(directory)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_header(directory: Path) -> Header:
    """The state's header; StateError says why it cannot be used."""
    path = directory / JOURNAL
    try:
        with open(path, "rb") as journal:
            first = journal.readline(1 << 20)
    except FileNotFoundError:
        raise StateError(f"its state {directory} is missing") from None
    except OSError as error:
        raise StateError(f"cannot read its state {path}: {error.strerror}") from None
    text = first.decode("utf-8", "replace")
    if not text.endswith("\n"):
        raise StateError(f"its state {path} is torn")
    if not text.startswith(FORMAT + " "):
        raise StateError(f"its state {path} is from another version of crawl")
    try:
        fields = json.loads(text[len(FORMAT) + 1 :])
        return Header(
            str(fields["run"]),
            float(fields["started_at"]),
            int(fields["db_offset"]),
            dict(fields["fingerprint"]),
        )
    except (ValueError, KeyError, TypeError):
        raise StateError(f"its state {path} is torn") from None


def reopen(directory: Path, end: int) -> int:
    """The journal, open for appending, cut back to `end` (past its last commit)."""
    fd = os.open(directory / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, end)
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove(directory: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(directory)


def _sync_folder(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
