"""The size summary: one `url:` line for every fetched page."""

from __future__ import annotations

from crawler.model import Page
from pipelines.records import url_line


def size_summary(page: Page) -> str:
    """`url:<URL> size:[N]`, N being the length of the decoded text, or the byte
    count of a body that is not text."""
    return url_line(page.url, page.size)
