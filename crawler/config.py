"""`--config FILE`: options from a TOML file, so a crontab line stays short.

    # crawl.toml
    urls_file = "urls.txt"        # the URL file too, if wanted
    workers = 4
    per-host = 2                  # names as on the command line, - or _
    delay = 1.5
    parse = ["board"]             # or "board"
    ignore-robots = false
    output = "/var/lib/crawl/db.txt"

- Any option can be set, except `--config` itself, `--help` and `--version`.
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
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PATH_KEYS = frozenset({"urls_file", "output", "cache"})
NOT_IN_FILE = frozenset({"help", "version", "config"})


class ConfigError(Exception):
    """The config file cannot be used; the message is one line."""


def load(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config {path} is not valid TOML: {error}") from None


def defaults_from(
    parser: argparse.ArgumentParser, options: dict[str, Any], folder: Path
) -> dict[str, Any]:
    """The parser defaults that `options` (read from a file in `folder`) ask for."""
    actions = {action.dest: action for action in parser._actions if action.dest not in NOT_IN_FILE}
    defaults: dict[str, Any] = {}
    for key, value in options.items():
        dest = key.replace("-", "_")
        if dest == "urls":
            dest = "urls_file"
        action = actions.get(dest)
        if action is None:
            raise ConfigError(f"unknown option {key!r}")
        defaults[dest] = _value(action, key, value, folder)
    return defaults


def _value(action: argparse.Action, key: str, value: Any, folder: Path) -> Any:
    flag = action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction)
    if flag:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, not {value!r}")
        return value
    if isinstance(value, list) and action.dest == "parse":
        value = ",".join(str(item) for item in value)
    if isinstance(value, (bool, list, dict)):
        raise ConfigError(f"{key}: unexpected value {value!r}")
    text = str(value)
    if action.dest in PATH_KEYS and text != "-":
        text = str(folder / Path(text).expanduser())
    try:
        converted = action.type(text) if action.type else text
    except (argparse.ArgumentTypeError, ValueError, TypeError) as error:
        raise ConfigError(f"{key}: {error}") from None
    if action.choices is not None and converted not in action.choices:
        raise ConfigError(f"{key}: {converted!r} is not one of {', '.join(action.choices)}")
    return converted


def parse_with_config(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse `argv`, with the defaults of `--config FILE` if it names one."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--config", type=Path)
    known, _ = first.parse_known_args(argv)
    if known.config is not None:
        try:
            options = load(known.config)
            parser.set_defaults(**defaults_from(parser, options, known.config.parent))
        except ConfigError as error:
            parser.error(str(error))
    return parser.parse_args(argv)
