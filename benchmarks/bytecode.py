"""crawl measured as installed: its modules' bytecode written before a benchmark runs it.

`pip install` compiles a package's modules, and Python writes the bytecode of a
checkout's modules on their first import, so a user's crawl never compiles its
sources twice. Where `PYTHONDONTWRITEBYTECODE` is set (some containers and CI set
it), Python writes none, and every run measured would compile crawl's hundred-odd
modules from source again: about 90 ms of CPU a run on a 2-core machine, which no
installed crawl pays. The contenders (Scrapy, requests) run from site-packages,
compiled when they were installed.
"""

from __future__ import annotations

import compileall
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compile_crawl() -> None:
    """Write the bytecode of `crawler` and `pipelines` (py_compile writes it even
    under PYTHONDONTWRITEBYTECODE; an up-to-date file is left as it is)."""
    for package in ("crawler", "pipelines"):
        compileall.compile_dir(ROOT / package, quiet=1)
