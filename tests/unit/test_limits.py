"""The JSON depth check (SPEC §7: deeper than 32 levels is refused before decoding)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.ingestion.pipeline import bounded
from ledger.limits import MAX_JSON_DEPTH, exceeds_depth, line_too_long


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _nested(depth: int, *, inner: Any = 1) -> Any:
    value = inner
    for level in range(depth):
        value = [value] if level % 2 else {"k": value, "s": '"[{\\'}
    return value


# Strings that hold brackets, quotes and escapes: they must never count as depth.
_TEXT = st.text(alphabet='[]{}"\\ab,:', max_size=8)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXT, children, max_size=3),
    max_leaves=60,
)


class TestDepth:
    @pytest.mark.parametrize("depth", [0, 1, 2, 31, 32])
    def test_up_to_the_limit_passes(self, depth: int) -> None:
        """Nesting of 32 levels is allowed; the check agrees with a decoder's walk."""
        text = json.dumps(_nested(depth))
        assert _depth(json.loads(text)) == depth
        assert not exceeds_depth(text)
        assert not exceeds_depth(text.encode())

    @pytest.mark.parametrize("depth", [33, 34, 100, 1_000, 100_000])
    def test_past_the_limit_is_found(self, depth: int) -> None:
        """A 33rd level is refused, however deep it goes (no recursion)."""
        text = "[" * depth + "]" * depth
        assert exceeds_depth(text)
        assert exceeds_depth(json.dumps(_nested(min(depth, 500))))

    def test_brackets_inside_strings_do_not_count(self) -> None:
        text = json.dumps({"a": "[" * 100, "b": ["{" * 50, '\\"[[['], "c": "]]]"})
        assert not exceeds_depth(text)
        assert exceeds_depth(json.dumps({"a": "[" * 100, "b": _nested(32)}))

    @settings(max_examples=300, deadline=None)
    @given(value=_JSON, wrap=st.integers(min_value=0, max_value=36))
    def test_agrees_with_the_depth_of_the_decoded_value(self, value: Any, wrap: int) -> None:
        """For any JSON value (wrapped in up to 36 more levels), the check says
        exactly whether its depth is over the limit."""
        for _ in range(wrap):
            value = [value, "]"]
        text = json.dumps(value)
        assert exceeds_depth(text) == (_depth(value) > MAX_JSON_DEPTH)
        assert exceeds_depth(text, 3) == (_depth(value) > 3)


class TestLineLength:
    def test_counts_bytes_not_characters(self) -> None:
        assert not line_too_long("a" * 100 + "\n", 100)
        assert line_too_long("a" * 101, 100)
        assert line_too_long("销" * 34, 100)  # 102 bytes in UTF-8
        assert not line_too_long("销" * 33 + "\r\n", 100)

    def test_a_long_line_of_a_file_is_never_read_whole(self) -> None:
        """A file's line over the limit is read in bounded pieces and given as None."""
        reads: list[int] = []

        class Recording(io.StringIO):
            def readline(self, size: int | None = -1, /) -> str:
                line = super().readline(size)
                reads.append(len(line))
                return line

        source = Recording("short\n" + "x" * 5_000_000 + "\nlast")
        assert list(bounded(source, 1_000)) == ["short\n", None, "last"]
        assert max(reads) <= 1 << 20  # never the 5 MB line at once
