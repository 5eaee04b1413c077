"""`--config FILE`: options from a TOML file, so a crontab line stays short.

    # crawl.toml
    urls_file = "urls.txt"        # the URL file too, if wanted
    workers = 4
    per-host = 2                  # names as on the command line, - or _
    delay = 1.5
    parse = ["board"]             # or "board"
    ignore-robots = false
    output = "/var/lib/crawl/db.txt"

- Any option of `crawler.options.OPTIONS` can be set, except the few declared
  `in_config=False` (`--config` itself, `--demo`); `urls_file` (or `urls`) names
  the URL file. `[parsers.NAME]`, `[follow]` and `[sites."ORIGIN"]` tables are handed on
  as they are (`[sites]` to `crawler.identity`).
- The command line wins: file values become the parser's defaults.
- Relative paths in the file (`urls_file`, `output`, `cache`) are taken from the
  file's folder, not from wherever cron starts the command.
- An unknown key, a value of the wrong type or out of range, an unreadable file or
  bad TOML is one line and exit status 2, like a bad command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from crawler.options import BY_DEST, CONFIG_TABLES, Option


def _tomllib() -> ModuleType:
    """The TOML reader, imported when a file is read, so that a command line
    without `--config` (`crawl --version`, `crawl --help`) does not pay the 4 ms
    of importing it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def __getattr__(name: str) -> Any:
    """`from crawler.config import tomllib`: the reader of this Python (tests, benchmarks)."""
    if name == "tomllib":
        return _tomllib()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ConfigError(Exception):
    """The config file cannot be used; the message is one line."""


def load(path: Path) -> dict[str, Any]:
    tomllib = _tomllib()
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config {path} is not valid TOML: {error}") from None


def split_tables(content: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The file's options, and its tables (`[parsers.NAME]`, `[follow]`, `[sites]`) for their
    owners."""
    options = {key: value for key, value in content.items() if key not in CONFIG_TABLES}
    tables = {key: value for key, value in content.items() if key in CONFIG_TABLES}
    return options, tables


def defaults_from(
    parser: argparse.ArgumentParser, options: dict[str, Any], folder: Path
) -> dict[str, Any]:
    """The parser defaults that `options` (read from a file in `folder`) ask for."""
    types = {action.dest: action.type for action in parser._actions}
    defaults: dict[str, Any] = {}
    for key, value in options.items():
        dest = key.replace("-", "_")
        if dest in ("urls", "urls_file"):
            defaults["urls_file"] = _path_text(str(value), folder)
            continue
        option = BY_DEST.get(dest)
        if option is None or not option.in_config:
            raise ConfigError(f"unknown option {key!r}")
        defaults[dest] = _value(option, types.get(dest), key, value, folder)
    return defaults


def _path_text(text: str, folder: Path) -> str:
    return text if text == "-" else str(folder / Path(text).expanduser())


def _value(option: Option, convert: Any, key: str, value: Any, folder: Path) -> Any:
    if option.kind in ("flag", "toggle"):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, not {value!r}")
        return value
    if option.kind == "append":
        items = value if isinstance(value, list) else [value]
        return [_one(option, convert, key, item, folder) for item in items]
    if isinstance(value, list) and option.dest == "parse":
        value = ",".join(str(item) for item in value)
    return _one(option, convert, key, value, folder)


def _one(option: Option, convert: Any, key: str, value: Any, folder: Path) -> Any:
    if isinstance(value, (bool, list, dict)):
        raise ConfigError(f"{key}: unexpected value {value!r}")
    text = str(value)
    if option.path:
        text = _path_text(text, folder)
    try:
        converted = convert(text) if convert else text
    except (argparse.ArgumentTypeError, ValueError, TypeError) as error:
        raise ConfigError(f"{key}: {error}") from None
    if option.choices is not None and converted not in option.choices:
        raise ConfigError(f"{key}: {converted!r} is not one of {', '.join(option.choices)}")
    return converted


def parse_with_config(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse `argv`, with the defaults of `--config FILE` if it names one. The file's
    tables come along as `config_tables` (name -> parsed TOML)."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--config", type=Path)
    known, _ = first.parse_known_args(argv)
    tables: dict[str, Any] = {}
    if known.config is not None:
        try:
            options, tables = split_tables(load(known.config))
            parser.set_defaults(**defaults_from(parser, options, known.config.parent))
        except ConfigError as error:
            parser.error(str(error))
    args = parser.parse_args(argv)
    args.config_tables = tables
    return args
