"""The hostile-page corpus: what each page is, and how the big ones are made.

Small pages are saved under tests/hostile/pages/ (written by `python -m
tests.hostile.corpus`, so each is reproducible and reviewable here); the big ones
(several MB) are generated when a test or benchmark asks, to keep the repo small.
"""

from __future__ import annotations

import codecs
from pathlib import Path

PAGES = Path(__file__).parent / "pages"

ENTRY = (
    '<dd><i class="board-index board-index-{index}">{index}</i>'
    '<p class="name"><a href="/films/{index}" title="t">{title}</a></p>'
    '<p class="star">主演：{actor}</p><p class="releasetime">上映时间：1993-01-01</p>'
    '<p class="score"><i class="integer">9.</i><i class="fraction">5</i></p></dd>\n'
)

# Runs that each defeat a different naive parser, repeated to any size:
ADVERSARIAL_RUNS = (
    # the tutorial's whole-page `<dd>.*?board-index.*?...` regex: blocks that never close
    ("", '<dd><i class="board-index">1</i><p class="name"><a href="x">t</a>', ""),
    # one block of field anchors with no `>`: a field regex scans from each to the end
    ("<dd ", 'class="name" class="board-index board-index-1" ', "</dd>"),
    # one block of anchors whose text never reaches a `<`
    ("<dd>", 'class="star">主演：' + "x" * 40, "</dd>"),
    # end tags without a start
    ("", "</dd>", ""),
)


def adversarial_board(size: int) -> bytes:
    """A page of about `size` bytes made of the adversarial runs (each run a quarter
    of the page, so each one's worst case is reached), ending in one real entry
    that must still be found."""
    share = size // len(ADVERSARIAL_RUNS)
    parts = [
        head + unit * (share // len(unit.encode())) + tail for head, unit, tail in ADVERSARIAL_RUNS
    ]
    entry = ENTRY.format(index=1, title="最后", actor="甲")
    return ("<html><body>" + "".join(parts) + entry + "</body></html>").encode()


def nested_board(depth: int) -> bytes:
    """One entry under `depth` levels of unclosed and closed markup."""
    entry = ENTRY.format(index=1, title="深", actor="乙")
    return ("<div><span>" * depth + entry + "</span></div>" * depth).encode()


def normal_board(size: int) -> bytes:
    """An ordinary board page of about `size` bytes (entries repeated)."""
    entry = ENTRY.format(index=7, title="霸王别姬", actor="张国荣,张丰毅,巩俐")
    count = max(1, size // len(entry.encode()))
    return ("<html><body><dl>" + entry * count + "</dl></body></html>").encode()


# The saved pages: name -> (bytes, Content-Type the test server sends them with).
HOSTILE_TITLES = [
    "line\nbreak",
    "carriage\rreturn",
    "a > b &gt; c",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;owned title\x07",
    "csi\x9b2J",
    "sep\u2028ara\u2029tor",
    "nel\x85line",
    "entity &#10; newline &#x1b; esc",
    'quote " back\\slash',
    "tab\there\x0bvt\x0cff\x1cfs",
]


def saved_pages() -> dict[str, tuple[bytes, str]]:
    head = '<html><head><meta charset="utf-8"></head><body><dl>'
    titles = "".join(
        ENTRY.format(index=number + 1, title=title, actor="丙\n丁")
        for number, title in enumerate(HOSTILE_TITLES)
    )
    nul_entry = ENTRY.format(index=1, title="nul\x00title", actor="a\x00b").encode()
    return {
        "hostile-titles.html": (
            f"{head}{titles}</dl></body></html>".encode(),
            "text/html; charset=utf-8",
        ),
        "nul-invalid-utf8.html": (
            b"<html>\x00<body>\xff\xfe\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82"
            + nul_entry
            + b"\x80\x80 trailing \xf0\x9f</body>",
            "text/html",
        ),
        # Says UTF-8 in both header and <meta>; the bytes are GBK.
        "lying-charset-gbk.html": (
            (
                '<html><head><meta charset="utf-8"></head><body>'
                + ENTRY.format(index=1, title="霸王别姬", actor="张国荣")
                + "</body></html>"
            ).encode("gbk"),
            "text/html; charset=utf-8",
        ),
        # Says UTF-16 in its <meta>, is ASCII; and an unknown charset in the header.
        "lying-charset-utf16.html": (
            b'<html><head><meta charset="utf-16"></head><body>plain ascii</body></html>',
            "text/html; charset=x-no-such-charset",
        ),
        # A UTF-16 BOM in front of UTF-8 bytes.
        "lying-bom.html": (codecs.BOM_UTF16_LE + "<p>中文</p>".encode(), "text/html"),
        "binary-as-text.html": (bytes(range(256)) * 64, "text/html"),
        "empty.html": (b"", "text/html"),
    }


def write_saved_pages() -> None:
    PAGES.mkdir(exist_ok=True)
    for name, (body, _) in saved_pages().items():
        (PAGES / name).write_bytes(body)


def content_type(name: str) -> str:
    return saved_pages()[name][1]


if __name__ == "__main__":
    write_saved_pages()
