"""JSON text: its value, whatever a server sends. Pure.

- A page is JSON when its Content-Type's media type is `application/json`,
  `text/json` or ends in `+json` (`application/ld+json`, `application/vnd.api+json`);
  with no Content-Type at all, when its text parses as JSON (`media_type.is_json`,
  and `ParserPage.is_json` for the sniff). Any other Content-Type is not JSON,
  whatever the text holds.
- `load(text)` is the value, or raises `NotJSON`, whose message is one line a person
  can act on, in this order of checks:
  1. a byte-order mark at the start is passed over (the decoder keeps it);
  2. in a text that starts with an array or an object (any other, an HTML page
     sniffed for JSON say, cannot nest and fails at its first character in step 3),
     nesting deeper than `MAX_DEPTH` levels: `not JSON (nested deeper than 512
     levels)`, measured before parsing in a few passes that run in C (`nesting`),
     so 100,000 levels of `[` cost one pass over the text and never reach Python's
     recursion limit (which `json` would otherwise raise as a RecursionError, at a
     depth that depends on how deep the caller's stack already is);
  3. text that is not JSON: `not JSON (line L column C)`, where the parser stopped;
     `NaN` and `Infinity`, which Python reads but JSON does not have, included,
     and a number too large for a float (`1e999`);
  4. a value Python refuses (an integer of more than 4,300 digits): `not JSON (...)`
     with Python's reason.
  Everything else is linear in the text: `json` parses in C.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

MAX_DEPTH = 512  # far past real documents, far below the recursion limit (1000)
_OPENS = re.compile(r"[ \t\n\r]*[\[{]")  # JSON's white space, then an array or object
_NOT_MARKS = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # read as signed bytes: +1, -1


class NotJSON(ValueError):
    """Text that is not JSON; the message is the reason as written (`not JSON (...)`)."""


def nesting(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep the arrays and objects of `text` nest, strings aside; 0 is returned
    without looking when `text` has `limit` brackets or fewer (it cannot nest deeper).

    In passes that run in C, each linear: the escapes `\\\\` then `\\"` taken out
    (left to right, as JSON reads them), so every quote left opens or closes a
    string; the quotes and brackets kept; the brackets between a quote and the next
    dropped; then the running sum of +1 and -1. Exact for JSON; for text that is
    not, a number that `load` does not need to be right (the parse fails anyway)."""
    if text.count("[") + text.count("{") <= limit:
        return 0
    data = text.encode("utf-8", "surrogatepass")
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(data.translate(None, _NOT_MARKS).split(b'"')[0::2])
    return max(itertools.accumulate(memoryview(outside.translate(_SIGNS)).cast("b")), default=0)


def _constant(name: str) -> Any:
    raise NotJSON(f"not JSON ({name} is not a JSON value)")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: a record could only say Infinity, which is not JSON
        raise NotJSON(f"not JSON ({text[:20]} is out of range)")
    return value


# One decoder: json.loads with options would build a new one (and its scanner) a call.
_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_finite)


def load(text: str) -> Any:
    """The value of the JSON `text`; NotJSON says why not (see the module docstring)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if _OPENS.match(text) and nesting(text) > MAX_DEPTH:  # else it cannot nest (HTML)
        raise NotJSON(f"not JSON (nested deeper than {MAX_DEPTH} levels)")
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        raise NotJSON(f"not JSON (line {error.lineno} column {error.colno})") from None
    except RecursionError:  # not reached after the check above; kept as the last guard
        raise NotJSON(f"not JSON (nested deeper than {MAX_DEPTH} levels)") from None
    except NotJSON:
        raise
    except ValueError as error:
        reason = " ".join(str(error).split())
        raise NotJSON(f"not JSON ({reason})") from None
