"""The parsers: what turns a fetched page into records.

- `registry.py`: the one registry (built-ins, plugins, the config's tables) that
  everything naming a parser asks, and the lines a page's parsers make;
- `board.py`: the built-in `board` parser (regex, linear in the page's size);
- `selectors.py`: parsers declared as CSS/XPath selectors in the `--config` TOML;
- `json_fields.py`: their JMESPath items and fields (JSON pages, JSON embedded in HTML);
- `jsondoc.py`: whether a page is JSON, and its value, whatever a server sends;
- `plugins.py`: parsers installed as entry points of the group `crawl.parsers`;
- `page.py`: the page a parser is given (`ParserPage`);
- `base.py`: what a parser is (`Parser`, `Output`).
"""

from __future__ import annotations

from pipelines.parsers.base import Output, Parser
from pipelines.parsers.page import ParserPage
from pipelines.parsers.registry import Parsed, Registry, RegistryError, active, build, install

__all__ = [
    "Output",
    "Parsed",
    "Parser",
    "ParserPage",
    "Registry",
    "RegistryError",
    "active",
    "build",
    "install",
]
