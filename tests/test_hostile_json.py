"""Hostile JSON through declared parsers, as a page and embedded in one: deep nesting
(100,000 levels of `[`), a 50 MB array, brackets inside strings, lone surrogates.
Never a traceback, a RecursionError or a hang: each page gets its records or one
error line a person can act on, in time linear in its size (bounds wide enough for
a busy 2-core machine: quadratic would be minutes)."""

from __future__ import annotations

import json
import time

import pytest

from crawler.config import tomllib
from crawler.model import Page
from crawler.page.jsondoc import MAX_DEPTH, NotJSON, load, nesting
from pipelines import parse_page
from pipelines.parsers import build
from pipelines.records import read_line

MB = 1024 * 1024
URL = "http://h/api"
PARSERS = """
[parsers.rows]
item = { jmespath = "[*]" }
[parsers.rows.fields]
v = { jmespath = "@" }

[parsers.whole]
[parsers.whole.fields]
kind = { jmespath = "type(@)" }
size = { jmespath = "length(@)" }

[parsers.ld]
item = { css = "script::text", jmespath = "[*]" }
[parsers.ld.fields]
v = { jmespath = "@" }
"""
REGISTRY = build(tomllib.loads(PARSERS)["parsers"], "crawl.toml", plugins=list)
DEEP_ERROR = f"not JSON (nested deeper than {MAX_DEPTH} levels)"


def run(text: str, content_type: str = "application/json", names=("rows", "whole")) -> list[str]:
    page = Page(URL, 200, content_type, text, len(text), len(text), 1)
    lines = parse_page(page, names, REGISTRY).lines
    for line in lines:
        assert len(line.splitlines()) == 1 and line.encode("utf-8")
        assert read_line(line) is not None
    return lines[1:]


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("100,000 levels of [", "[" * 100_000),
        ("100,000 levels of [ closed", "[" * 100_000 + "]" * 100_000),
        ("100,000 levels of objects", '{"a":' * 100_000 + "1" + "}" * 100_000),
        ("one level past the limit", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)),
        ("deep inside a wide array", "[" + "[1]," * 10_000 + "[" * 5_000 + "]" * 5_001),
        # an unterminated string of escaped quotes: each quote could start a string
        ("escaped quotes, unterminated", "[" * 600 + '"' + '\\"' * 2_000_000),
        ("escaped quotes, a lone backslash last", "[" * 600 + '"' + '\\"' * 2_000_000 + "\\"),
    ],
)
def test_deep_nesting_is_one_error_line_never_a_recursion_error(label: str, text: str) -> None:
    started = time.process_time()
    assert run(text) == [f"error:<{URL}> rows: {DEEP_ERROR}", f"error:<{URL}> whole: {DEEP_ERROR}"]
    assert time.process_time() - started < 5, label


def test_nesting_at_the_limit_is_read_and_written() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    lines = run(text)
    assert lines[0] == f"rows:<{URL}> " + json.dumps({"v": json.loads(text[1:-1])})
    assert lines[1] == f'whole:<{URL}> {{"kind": "array", "size": 1}}'


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps(["[" * 100_000, "{" * 1000 + '\\"[', "]" * 10])
    assert nesting(text) == 1
    assert run(text, names=("whole",)) == [f'whole:<{URL}> {{"kind": "array", "size": 3}}']


def test_deep_embedded_json_is_passed_over_not_raised() -> None:
    html = f"<script>{'[' * 100_000}</script><script>[1, 2]</script>"
    assert run(html, "text/html", ("ld",)) == [f'ld:<{URL}> {{"v": 1}}', f'ld:<{URL}> {{"v": 2}}']


@pytest.mark.timeout(120)
def test_a_50_mb_array_parses_in_linear_time() -> None:
    text = "[" + ",".join(["1234567"] * (50 * MB // 8)) + "]"
    assert len(text) >= 50 * MB
    started = time.process_time()
    lines = run(text, names=("whole",))
    spent = time.process_time() - started
    assert lines == [f'whole:<{URL}> {{"kind": "array", "size": {50 * MB // 8}}}']
    assert spent < 30, f"{spent:.1f} s CPU"  # about 1 s on a quiet machine
    print(f"50 MB array: {spent:.2f} s CPU")


@pytest.mark.timeout(120)
def test_the_depth_check_is_linear_in_a_50_mb_page_of_brackets() -> None:
    started = time.process_time()
    with pytest.raises(NotJSON, match="nested deeper"):
        load("[" * (50 * MB))
    small = time.process_time() - started
    assert small < 20, f"{small:.1f} s CPU"  # about 1 s on a quiet machine


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": 1e999999}', "not JSON (1e999999 is out of range)"),  # Python's inf
        ("1" * 5000, "not JSON (Exceeds the limit (4300 digits) for integer string conversion"),
        ('"\\ud800"', None),
        ('{"\\u0000": "\\u2028\\n"}', None),
    ],
)
def test_odd_values_are_an_error_line_or_a_record_that_reads_back(
    text: str, reason: str | None
) -> None:
    lines = run(text, names=("whole",))
    assert len(lines) == 1
    if reason is not None:
        assert lines[0].startswith(f"error:<{URL}> whole: {reason}")
    else:
        record = read_line(lines[0])
        assert record.kind in ("whole", "error")
        if record.kind == "whole":
            json.loads(record.rest)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@pytest.mark.parametrize(
    "text",
    [
        '["a\\\\", ["\\"[[", {"]": "}}}"}]]',
        '[["\\\\\\"[", "\\\\\\\\"], [[[]]]]',
        '{"k\\"[": [{"\\\\": ["\\\\\\\\\\"]"]}]}',
        '["\\u005b\\u005b", [], {}, [[{"a": [1, "]"]}]]]',
        '["中文[", {"é": ["]]]"]}]',
    ],
)
def test_nesting_is_exact_whatever_the_strings_hold(text: str) -> None:
    assert nesting(text, limit=0) == depth_of(json.loads(text))
