"""A plan, a CRM mapping or a payroll layout nested deeper than any real one is
refused with a clear error, never a traceback or an HTTP 500 (SPEC §7): the
parsers' own recursion ran out first."""

from __future__ import annotations

import pytest

from ledger.crm.mapping import MappingError, load_mapping
from policies.plan import PlanError, load_plan
from projections.payroll import LayoutError, load_layout

DEEP_TOML = "a = " + "[" * 2000 + "1" + "]" * 2000 + "\n"
DEEP_JSON = '{"a": ' + "[" * 5000 + "1" + "]" * 5000 + "}"


@pytest.mark.parametrize(("text", "fmt"), [(DEEP_TOML, "toml"), (DEEP_JSON, "json")])
def test_a_plan(text: str, fmt: str) -> None:
    with pytest.raises(PlanError, match="nested too deeply"):
        load_plan(text, fmt)  # type: ignore[arg-type]


def test_a_mapping() -> None:
    with pytest.raises(MappingError, match="nested too deeply"):
        load_mapping(DEEP_TOML)


def test_a_layout() -> None:
    with pytest.raises(LayoutError, match="nested too deeply"):
        load_layout(DEEP_TOML)
