"""Limits on input at the edge (SPEC §7): size, events per request, JSON depth.

A request body over ``MAX_BODY_BYTES`` or holding more than ``MAX_EVENTS``
events is refused (413); JSON nested deeper than ``MAX_JSON_DEPTH`` levels is
refused (422) before it is decoded, so no decoder (nor the walk that looks for
floats) ever recurses into the interpreter's recursion limit. An import applies
the byte and depth limits to each line.

Pure functions over bytes; the API's settings and the CLI choose the numbers.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_EVENTS",
    "MAX_JSON_DEPTH",
    "depth_error",
    "exceeds_depth",
    "line_too_long",
]

MAX_BODY_BYTES = 10 * 1024 * 1024  # 10 MiB, SPEC §7's default
MAX_EVENTS = 10_000  # events in one request
MAX_JSON_DEPTH = 32  # levels of arrays and objects

# Every byte but the structure a depth count needs: brackets, quotes, backslashes.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"\\')
_SQUARE = bytes.maketrans(b"{}", b"[]")
# A JSON string in that reduced form (its escapes and brackets are all that is left of it).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def exceeds_depth(text: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON ``text`` nests arrays and objects deeper than ``max_depth``.

    Cheap on the common input: text with no more than ``max_depth`` opening
    brackets cannot nest deeper (two substring counts, no scan). Otherwise the
    text is reduced, at C speed, to its brackets (strings dropped), and the
    innermost pairs are removed ``max_depth`` times over: a pair still left
    then lies deeper. Never recurses; malformed text is left to the decoder
    (an unbalanced bracket is not counted as depth).
    """
    if isinstance(text, str):
        if text.count("[") + text.count("{") <= max_depth:
            return False
        data = text.encode()
    elif text.count(b"[") + text.count(b"{") <= max_depth:
        return False
    else:
        data = text
    reduced = data.translate(None, _NOT_STRUCTURE)
    # Without escapes, strings with nothing to hide are "" now, and go at C speed;
    # what is left of the others (a bracket or an escape inside) needs the pattern.
    if b"\\" not in reduced:
        reduced = reduced.replace(b'""', b"")
    if b'"' in reduced:
        reduced = _STRING.sub(b"", reduced)
    brackets = reduced.translate(_SQUARE)
    too_deep = b"[" * (max_depth + 1)  # so many opened in a row: found at once
    for _ in range(max_depth):
        if too_deep in brackets:
            return True
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            return False
        brackets = shorter
    return b"[]" in brackets


def depth_error(max_depth: int = MAX_JSON_DEPTH) -> str:
    """The reason given for JSON nested too deep."""
    return f"JSON nested deeper than {max_depth} levels"


def line_too_long(text: str, max_bytes: int) -> bool:
    """Whether an import line (its end of line aside) is longer than ``max_bytes``
    in UTF-8: encoded only when its length in characters leaves that open (a
    character is at most 4 bytes)."""
    return len(text) > max_bytes // 4 and len(text.rstrip("\r\n").encode()) > max_bytes
