"""SPEC §5 and §7 over HTTP, on both stores: a payout run id in the path that
names no run is a resource not found — reading, exporting and paying it
answer 404 "unknown payout run 'x'" naming run_id (paying it answered 422
"1 bad item; nothing was stored. First: item 0, ...", the path's id taken
for a one-item list) — while a run id that names nothing in a body (a
dispute's) is bad input: 422 naming the field."""

from __future__ import annotations

import pytest

from tests.api.conftest import Served

UNKNOWN = "unknown payout run 'run-nope'"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/payouts/runs/run-nope"),
        ("GET", "/payouts/runs/run-nope/export.csv"),
        ("GET", "/payouts/runs/run-nope/export.xlsx"),
        ("POST", "/payouts/runs/run-nope/pay"),
    ],
    ids=["read", "export-csv", "export-xlsx", "pay"],
)
def test_a_path_naming_no_run_is_not_found(demo_served: Served, method: str, path: str) -> None:
    """One answer whatever is done with the run: 404, its one wording, run_id."""
    before = demo_served.stored()
    answer = demo_served.call(method, path)
    assert answer.status_code == 404, answer.text
    assert answer.json() == {"error": "not_found", "detail": UNKNOWN, "field": "run_id"}
    assert demo_served.stored() == before


def test_paying_a_long_unknown_id_is_cut_as_reading_it(demo_served: Served) -> None:
    """An id longer than any id is quoted by its first 64 characters."""
    long = "r" * 5_000
    said = {
        demo_served.call(method, path).json()["detail"]
        for method, path in (
            ("GET", f"/payouts/runs/{long}"),
            ("POST", f"/payouts/runs/{long}/pay"),
        )
    }
    assert said == {f"unknown payout run {'r' * 64!r}...(5000 characters)"}


def test_a_dispute_naming_no_run_is_bad_input(demo_served: Served) -> None:
    """A dispute of run-nope: the run id is a field of the input, refused as
    one (422, item 0, run_id), nothing stored."""
    before, stored = demo_served.call("GET", "/disputes").json(), demo_served.stored()
    dispute = {"rep_id": "rep-li", "run_id": "run-nope", "message": "m"}
    answer = demo_served.call("POST", "/disputes", "rep", json=dispute)
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert (error["index"], error["field"], error["reason"]) == (0, "run_id", UNKNOWN)
    assert (demo_served.call("GET", "/disputes").json(), demo_served.stored()) == (before, stored)
