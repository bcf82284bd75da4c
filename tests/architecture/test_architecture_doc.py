"""ARCHITECTURE.md's "Adding an event type" stays true of the code."""

from __future__ import annotations

import inspect
import re
from collections import defaultdict
from functools import cache

import pytest

from ledger.catalogue import CATALOGUE, EVENT_TYPES
from ledger.domain import LedgerAggregate
from tests.architecture.source import ROOT, event_mentions, relative, source_files, tree_of

_DOC = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
_PATH = re.compile(r"`((?:[a-z_]+/)*[a-z_]+\.py)\b")


def _section(title: str) -> str:
    start = _DOC.index(f"## {title}\n")
    end = _DOC.find("\n## ", start + 1)
    return _DOC[start : end if end != -1 else None]


_ADDING = _section("Adding an event type")
_NAMED = set(_PATH.findall(_ADDING))
# The steps (1-5) name what every new type touches; the paragraph after them,
# the files that name an existing type because they record or read it specially.
_STEPS = set(_PATH.findall(_ADDING[: _ADDING.index("Nothing else names")]))
_EXAMPLE_ONLY = {"ledger/payment.py"}  # the worked example's new module


@cache
def _mentions() -> dict[str, set[str]]:
    """Event type -> the source files whose code (not prose) names it."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in source_files():
        for _, name in event_mentions(tree_of(path)):
            found[name].add(relative(path))
    return found


def test_every_file_named_exists() -> None:
    missing = sorted(p for p in _NAMED - _EXAMPLE_ONLY if not (ROOT / p).is_file())
    assert missing == []


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_only_the_files_named_name_an_event_type(name: str) -> None:
    """Were a new list or dispatch on event types written elsewhere, adding a
    type would touch a file the page does not name: this fails first."""
    assert _mentions()[name] - _NAMED == set()


def test_a_plain_event_type_touches_only_the_steps() -> None:
    """The steps are the whole change for a type nothing records specially
    (a departure, an overturned case): the worked example is the real size."""
    mentions = _mentions()
    plain = [n for n in EVENT_TYPES if mentions[n] <= _STEPS]
    assert {"RepLeft", "ViolationOverturned"} <= set(plain)


def test_the_aggregate_modules_listed_are_all_of_them() -> None:
    modules = {relative_module(cls) for cls in _subclasses(LedgerAggregate)}
    assert modules <= _STEPS


def test_the_steps_are_the_catalogue_model_rule_and_fold() -> None:
    assert {
        "ledger/events.py",
        "ledger/catalogue.py",
        "ledger/rules.py",
        "projections/facts.py",
    } <= _STEPS
    rules = {inspect.getsourcefile(e.apply) for e in CATALOGUE.values()}
    assert rules == {str(ROOT / "ledger/rules.py")}


def relative_module(cls: type) -> str:
    source = inspect.getsourcefile(cls)
    assert source is not None
    return relative(ROOT.joinpath(source))


def _subclasses(base: type) -> set[type]:
    found: set[type] = set()
    for cls in base.__subclasses__():
        if cls.__module__.startswith("ledger."):
            found |= {cls, *_subclasses(cls)}
    return found
