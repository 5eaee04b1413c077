"""A killed run's frontier rebuilt from its journal (`crawler.frontier.journal`),
for `--resume`: the one place that reads the journal's records back into a
`Frontier`. It imports both; neither imports it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from crawler.frontier.core import Frontier
from crawler.frontier.journal import committed_groups, digest_pair
from crawler.frontier.robots import interpret_again
from crawler.frontier.seen import SeenUrls, digest
from crawler.urlfile import Place


class Replayed(NamedTuple):
    """What a replay found beside the frontier's state."""

    offset: int  # the URL file was handled up to this byte offset...
    number: int  # ...and this line
    counters: str  # the last `b` record
    links_taken: set[str]  # pages whose links are in, whose line is not
    identity_lines: list[Place]  # the URL file lines of the `k` records
    admitted_done: int  # admitted URLs that have their line in db.txt
    end: int  # the byte offset just past the last commit


def replay(
    path: Path,
    frontier: Frontier,
    done: SeenUrls,
    now: float,
) -> Replayed:
    """Rebuild `frontier` from the journal at `path`: every admitted URL seen again,
    those without a key in `done` (the db.txt keys of the run's lines) queued again
    in the order they came, the links not followed counted again. No URL comes
    back with a password: the journal holds none (`crawler.identity` learns those
    of listed URLs again from their lines, `crawler.resume.KeptPlan.jobs`)."""
    offset = number = admitted_done = end = 0
    counters = ""
    if not len(frontier.seen):  # sized at once, not grown by doubling as it fills
        frontier.seen = SeenUrls(path.stat().st_size // 120)
    links_taken: set[str] = set()
    identity_lines: list[Place] = []
    for committed, records in committed_groups(path):
        end = committed
        for record in records:
            mark, _, rest = record.partition("\t")
            if mark == "+":
                seen, key, host, _flag, line = rest.split("\t", 4)
                finished = done.has_digest(digest_pair(key))
                admitted_done += finished
                kind = line[: line.index("\t")]
                frontier.readmit(digest_pair(seen), host, kind, line, not finished, now)
            elif mark == "=":
                frontier.mark_seen(digest_pair(rest))
            elif mark == "p" and not done.has_digest(digest(rest)):
                links_taken.add(rest)
            elif mark == "s":
                frontier.mark_sitemapped(rest)
            elif mark == "r":
                host, read = rest.split("\t", 1)
                frontier.restore_robots(host, interpret_again(json.loads(read)), now)
            elif mark == "d":
                reason, count = rest.split("\t")
                frontier.dropped[reason] += int(count)
            elif mark == "@":
                at, line_number = rest.split("\t")
                offset, number = int(at), int(line_number)
            elif mark == "b":
                counters = rest
            elif mark == "k":
                at, line_number = rest.split("\t")
                identity_lines.append(Place(int(at), int(line_number)))
    return Replayed(offset, number, counters, links_taken, identity_lines, admitted_done, end)
