"""What changed between two runs of `db.txt`, for `crawl diff`. Pure: the lines of
one URL in both runs go in, its changes come out (`url_changes`); reading the runs
and bringing each URL's lines together is `pipelines.diff_reader`'s.

The changes, in the order they are given for one URL:
1. The page (`kind` "url"), from its `url:` line (its size) and its first `error:`
   line (why it failed); `page_change` decides, in this order:
   - in neither run: nothing;
   - `gone`: in `--from`, in no line of `--to`;
   - `failed`: failed in `--to` (an `error:` line: not fetched, or a parser failed
     on it), and not in `--from`; a URL that failed in both is no news;
   - `new`: fetched in `--to`, in no line of `--from`;
   - `changed`: its size changed, or it failed in `--from` and not in `--to`.
2. The records of each other kind (`board`, a parser's), kinds in name order;
   `record_changes` decides. A record is its JSON, compared whole (as written, and
   failing that as an object, so keys in another order are the same record), as a
   multiset: a record in both runs cancels one equal record (two equal records in
   `--to` against one in `--from` leave one `added`). With key fields for the kind
   (`--key board.title`), what is left is paired by the values of those fields,
   first with first in file order, and a pair is one `changed` with both versions.
   What is left after that is `removed` (in `--from`) or `added` (in `--to`).

A change as JSON (`Change.as_json`): `change`, `kind`, `url`, then `key` (the key
fields' values, for a changed record), `from` (the page's state or the record in
`--from`) and `to` (in `--to`), each only where there is one.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

FROM, TO = 0, 1
PAGE_KINDS = ("url", "error")  # the lines that say what became of a page's fetch
NEW, GONE, CHANGED, FAILED, ADDED, REMOVED = "new", "gone", "changed", "failed", "added", "removed"
_SIZE = re.compile(r"size:\[([0-9]+)\](?= |$)")
T = TypeVar("T")


class Row(NamedTuple):
    """One record line of either run, as the reader hands it over."""

    kind: str
    side: int  # FROM or TO
    number: int  # its line number in db.txt: file order within a side
    rest: str  # what follows the key: `size:[N]`, a reason, or the record's JSON


class PageState(NamedTuple):
    """A page in one run: its size (None: not fetched) and why it failed (None: it
    did not)."""

    size: int | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if self.size is not None:
            state["size"] = self.size
        if self.reason is not None:
            state["reason"] = self.reason
        return state


class Change(NamedTuple):
    change: str  # new, gone, changed, failed (a page); added, removed, changed (a record)
    kind: str  # "url" for a page, else the record's kind
    url: str
    before: Any = None  # the page's state or the record in --from; None: none there
    after: Any = None  # in --to
    key: dict[str, Any] | None = None  # the key fields of a changed record

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"change": self.change, "kind": self.kind, "url": self.url}
        if self.key is not None:
            out["key"] = self.key
        if self.before is not None:
            out["from"] = (
                self.before.as_json() if isinstance(self.before, PageState) else self.before
            )
        if self.after is not None:
            out["to"] = self.after.as_json() if isinstance(self.after, PageState) else self.after
        return out


def page_state(rows: Iterable[Row]) -> PageState | None:
    """The page in one run, from its `url:` and `error:` lines (the first of each
    counts); None when it has neither. A `url:` line that is not whole is not read."""
    size = reason = None
    seen = False
    for row in rows:
        if row.kind == "url" and size is None:
            match = _SIZE.match(row.rest)
            if match:
                size, seen = int(match.group(1)), True
        elif row.kind == "error" and reason is None and row.rest:
            reason, seen = row.rest, True
    return PageState(size, reason) if seen else None


def page_change(url: str, before: PageState | None, after: PageState | None) -> Change | None:
    """What became of the page at `url` (the module docstring gives the order)."""
    if before is None and after is None:
        return None
    if after is None:
        return Change(GONE, "url", url, before)
    if after.reason is not None:
        if before is not None and before.reason is not None:
            return None
        return Change(FAILED, "url", url, before, after)
    if before is None:
        return Change(NEW, "url", url, None, after)
    if before != after:
        return Change(CHANGED, "url", url, before, after)
    return None


def record_changes(
    kind: str, url: str, before: Sequence[str], after: Sequence[str], key: Sequence[str] = ()
) -> list[Change]:
    """The records of one kind and URL in `--from` (`before`) and `--to` (`after`),
    as written (their JSON), each in file order: what changed (the module docstring
    gives the order). A record that is not a JSON object (a torn line) is left out."""
    left = _objects(_multiset_difference(before, after))
    right = _objects(_multiset_difference(after, before))
    # Texts that differ may still hold equal objects (keys in another order).
    removed = _multiset_difference(left, right, _canonical)
    added = _multiset_difference(right, left, _canonical)
    changes: list[Change] = []
    if key and removed and added:
        waiting: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in removed:
            waiting[_key_of(record, key)].append(record)
        unpaired = []
        for record in added:
            match = waiting.get(_key_of(record, key))
            if match:
                old = match.pop(0)
                values = {name: record.get(name) for name in key}
                changes.append(Change(CHANGED, kind, url, old, record, values))
            else:
                unpaired.append(record)
        paired = {id(change.before) for change in changes}
        removed = [record for record in removed if id(record) not in paired]
        added = unpaired
    changes += [Change(REMOVED, kind, url, record) for record in removed]
    changes += [Change(ADDED, kind, url, None, record) for record in added]
    return changes


def url_changes(
    url: str, rows: Iterable[Row], keys: Mapping[str, Sequence[str]] | None = None
) -> list[Change]:
    """Every change of one URL: its page first, then its records kind by kind.
    `rows` are its lines of both runs; `keys` the key fields of each kind."""
    keys = keys or {}
    page: tuple[list[Row], list[Row]] = ([], [])
    records: dict[str, tuple[list[str], list[str]]] = {}
    for row in rows:
        if row.kind in PAGE_KINDS:
            page[row.side].append(row)
        else:
            records.setdefault(row.kind, ([], []))[row.side].append(row.rest)
    changes: list[Change] = []
    change = page_change(url, page_state(page[FROM]), page_state(page[TO]))
    if change is not None:
        changes.append(change)
    for kind in sorted(records):
        before, after = records[kind]
        changes += record_changes(kind, url, before, after, keys.get(kind, ()))
    return changes


def _multiset_difference(
    these: Sequence[T], those: Sequence[T], same: Callable[[T], Hashable] | None = None
) -> list[T]:
    """`these` less one item of `those` for each that is the same (equal, or with
    an equal `same(item)`), in the order of `these`."""
    if not those:
        return list(these)
    counts: dict[Hashable, int] = defaultdict(int)
    for item in those:
        counts[same(item) if same else item] += 1
    left = []
    for item in these:
        mark = same(item) if same else item
        if counts[mark]:
            counts[mark] -= 1
        else:
            left.append(item)
    return left


def _canonical(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def _objects(texts: list[str]) -> list[dict[str, Any]]:
    records = []
    for text in texts:
        try:
            record = json.loads(text)
        except ValueError:
            continue  # a torn line: not a record
        if isinstance(record, dict):
            records.append(record)
    return records


def _key_of(record: Mapping[str, Any], key: Sequence[str]) -> str:
    return json.dumps([record.get(name) for name in key], ensure_ascii=False, sort_keys=True)
