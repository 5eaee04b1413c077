"""MkDocs hook: the option reference, reference/options.md, is written at build time
from crawler/options.py, the one place options are declared, so the reference and
`crawl --help` cannot disagree (tests/test_docs.py checks both say the same)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "reference/options.md"


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from crawler.options import reference

    files.append(File.generated(config, REFERENCE, content=reference()))
    return files
