"""What an import file that is not JSON Lines probably is, and what to do.

SPEC §2's import reads JSON Lines: one event object per line. Files that
people actually hand it are often something close — a CSV export, a JSON array,
one pretty-printed JSON document — and judging those line by line names every
line as malformed JSON without saying why. `format_hint` looks at the first
non-blank line (a UTF-8 byte order mark already removed) and says what the
file looks like and how to turn it into JSON Lines; None when it may well be
JSON Lines (then each line is judged as usual).

Pure: the caller reads the line.
"""

from __future__ import annotations

import re

__all__ = ["BOM", "format_hint"]

BOM = "\ufeff"

_JSONL = "the import reads JSON Lines: one event object per line"
# A CSV header names event fields, separated by commas, semicolons or tabs.
_CSV_HEADER = re.compile(r"^\"?[A-Za-z_]+\"?\s*[,;\t]")


def format_hint(first_line: str) -> str | None:
    """What the file whose first non-blank line is ``first_line`` looks like, if
    not JSON Lines, and how to convert it."""
    text = first_line.removeprefix(BOM).strip()
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
