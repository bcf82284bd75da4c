"""`ledger.events.decode_exact` refuses an object that names a key twice (JSON
leaves its meaning open: orjson and the standard library both keep the last),
whatever the spacing, and decodes every other text as before."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.events import DuplicateKeyError, decode_exact

keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**9), 10**9), st.text(max_size=12))
documents = st.recursive(
    st.dictionaries(keys, scalars, max_size=4),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(keys, inner, min_size=1, max_size=3)
    ),
    max_leaves=12,
)
spacings = st.sampled_from([(",", ":"), (", ", ": "), (",", " : "), ("\n,", "\t:\n")])


@given(documents, spacings)
def test_a_document_without_repeated_keys_decodes_as_it_was(
    doc: Any, spacing: tuple[str, str]
) -> None:
    text = json.dumps(doc, separators=spacing, ensure_ascii=False)
    assert decode_exact(text) == doc
    assert decode_exact(text.encode()) == doc


@given(st.dictionaries(keys, scalars, min_size=1, max_size=4), spacings, st.data())
def test_a_key_given_twice_is_refused_naming_it(
    doc: dict[str, Any], spacing: tuple[str, str], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(doc)))
    comma, colon = spacing
    text = json.dumps(doc, separators=spacing, ensure_ascii=False)
    twice = f"{text[:-1]}{comma}{json.dumps(key)}{colon}{json.dumps('again')}}}"
    nested = json.dumps({"outer": [1]})[:-1] + f', "inner": {twice}}}'
    for given_text in (twice, nested):
        with pytest.raises(DuplicateKeyError) as refused:
            decode_exact(given_text)
        assert refused.value.key == key


def test_a_value_that_looks_like_a_key_is_not_one() -> None:
    assert decode_exact('{"note": "a\\": b", "n": 1}') == {"note": 'a": b', "n": 1}
