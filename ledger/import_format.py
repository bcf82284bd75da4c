"""What an import file that is not JSON Lines probably is, and what to do.

SPEC §2's import reads JSON Lines: one event object per line. Files that
people actually hand it are often something close — a CSV export, a JSON array,
one pretty-printed JSON document, a TOML plan — and judging those line by line names every
line as malformed JSON without saying why. `format_hint` looks at the first
non-blank line (a UTF-8 byte order mark already removed) and says what the
file looks like and how to turn it into JSON Lines; None when it may well be
JSON Lines (then each line is judged as usual).

A file in another encoding than UTF-8 (Latin-1, GBK, UTF-16 from a Windows
tool) is refused at its first line that is no UTF-8, naming it
(`not_utf8`), never a decoding traceback.

Pure: the caller reads the lines.
"""

from __future__ import annotations

import re

__all__ = ["BOM", "UNDECODABLE", "format_hint", "not_utf8"]

BOM = "\ufeff"

# What a file is read with (``errors=UNDECODABLE``): a byte that is no UTF-8
# becomes a lone surrogate, U+DC80..U+DCFF, which no UTF-8 text holds, and
# `not_utf8` names its line.
UNDECODABLE = "surrogateescape"
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_UTF16_BOMS = ("\udcff\udcfe", "\udcfe\udcff")  # FF FE, FE FF: UTF-16 LE, BE

_JSONL = "the import reads JSON Lines: one event object per line"
# A CSV header names event fields, separated by commas, semicolons or tabs.
_CSV_HEADER = re.compile(r"^\"?[A-Za-z_]+\"?\s*[,;\t]")


# A TOML document's first line: a comment, a table header, or a key = value.
_TOML_LINE = re.compile(
    r"^(?:#.*|\[\[?[A-Za-z_][\w.-]*\]\]?\s*(?:#.*)?|[A-Za-z_][\w.-]*\s*=\s*\S.*)$"
)


def format_hint(first_line: str) -> str | None:
    """What the file whose first non-blank line is ``first_line`` looks like, if
    not JSON Lines, and how to convert it."""
    text = first_line.removeprefix(BOM).strip()
    if _TOML_LINE.match(text):
        # a plan handed to the import was a "malformed JSON" per line
        return (
            f"this looks like TOML (a plan?); {_JSONL}. A plan is published with "
            "`plan publish FILE`, or in the import's transaction with "
            "`import EVENTS.jsonl --plan FILE`"
        )
    if text.startswith("["):
        return (
            f"this looks like a JSON array; {_JSONL}. "
            "Convert it with: jq -c '.[]' FILE > FILE.jsonl"
        )
    if text == "{":
        return (
            "this looks like one JSON document spread over several lines; "
            f"{_JSONL}. Convert it with: jq -c . FILE > FILE.jsonl"
        )
    if not text.startswith("{") and _CSV_HEADER.match(text):
        return (
            f"this looks like CSV (a header line of field names); {_JSONL}, e.g. "
            '{"type": "SaleRecorded", "occurred_at": "2026-07-14T10:00:00+08:00", ...}. '
            "Export JSON Lines instead, or convert each row to one JSON object"
        )
    return None


def not_utf8(text: str) -> str | None:
    """Why a line of a file read with ``errors=UNDECODABLE`` is refused — a byte
    of it is no UTF-8 (SPEC §7: a clear error naming the line, as every other
    bad line is named; nothing stored) — or None for a line of UTF-8.

    Decoding the file strictly instead would raise a `UnicodeDecodeError` from
    inside the import, and where the decoder met the byte (it decodes a block
    of several lines at a time) is not the line it is on. A plain ASCII line
    (most are) costs one ``isascii``.
    """
    if text.isascii() or (found := _ESCAPED_BYTE.search(text)) is None:
        return None
    if text.startswith(_UTF16_BOMS):
        return (
            "the file is UTF-16 (it starts with a UTF-16 byte order mark), not UTF-8: "
            "the import reads UTF-8 only; convert it, e.g. iconv -f UTF-16 -t UTF-8 FILE"
        )
    byte = ord(found.group()) - 0xDC00
    return (
        f"not UTF-8: byte 0x{byte:02X} at column {found.start() + 1} is no UTF-8 character; "
        "the file must be UTF-8: convert it from its encoding, e.g. iconv -f LATIN1 -t UTF-8 FILE"
    )
