"""SPEC §5 and §7 over HTTP, on both stores: a payout run id in the path that
names no run is a resource not found — reading, exporting and paying it
answer 404 "unknown payout run 'x'" naming run_id (paying it answered 422
"1 bad item; nothing was stored. First: item 0, ...", the path's id taken
for a one-item list) — while a run id that names nothing in a body (a
dispute's) is bad input: 422 naming the field."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.tokens import TokenStore
from demo import run_demo
from ledger.application import Ledger
from projections.service import Reports
from tests.api.conftest import HOLDERS, SECRET, issue_tokens

UNKNOWN = "unknown payout run 'run-nope'"


class Served:
    def __init__(self, client: TestClient, ledger: Ledger, tokens: dict[str, str]) -> None:
        self.client, self.ledger, self.tokens = client, ledger, tokens

    def call(self, method: str, path: str, who: str = "finance2", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.request(method, path, headers=headers, **kwargs)

    def stored(self) -> int:
        head = self.ledger.head()
        return head.position if head is not None else 0


@pytest.fixture
def served(db_url: str, make_ledger: Callable[..., Ledger]) -> Iterator[Served]:
    """The demo's quarter served on ``db_url``, a token for each holder."""
    ledger = make_ledger()
    run_demo(ledger)
    Reports(ledger).catch_up()
    tokens = issue_tokens(TokenStore(ledger, SECRET), *HOLDERS)
    settings = Settings(database_url=db_url, token_secret=SECRET, log_json=True, parse_workers=1)  # type: ignore[arg-type]
    with TestClient(create_app(settings, ledger=ledger), base_url="http://127.0.0.1") as client:
        yield Served(client, ledger, tokens)


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
def test_a_path_naming_no_run_is_not_found(served: Served, method: str, path: str) -> None:
    """One answer whatever is done with the run: 404, its one wording, run_id."""
    before = served.stored()
    answer = served.call(method, path)
    assert answer.status_code == 404, answer.text
    assert answer.json() == {"error": "not_found", "detail": UNKNOWN, "field": "run_id"}
    assert served.stored() == before


def test_paying_a_long_unknown_id_is_cut_as_reading_it(served: Served) -> None:
    """An id longer than any id is quoted by its first 64 characters."""
    long = "r" * 5_000
    said = {
        served.call(method, path).json()["detail"]
        for method, path in (
            ("GET", f"/payouts/runs/{long}"),
            ("POST", f"/payouts/runs/{long}/pay"),
        )
    }
    assert said == {f"unknown payout run {'r' * 64!r}...(5000 characters)"}


def test_a_dispute_naming_no_run_is_bad_input(served: Served) -> None:
    """A dispute of run-nope: the run id is a field of the input, refused as
    one (422, item 0, run_id), nothing stored."""
    before, stored = served.call("GET", "/disputes").json(), served.stored()
    dispute = {"rep_id": "rep-li", "run_id": "run-nope", "message": "m"}
    answer = served.call("POST", "/disputes", "rep", json=dispute)
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert (error["index"], error["field"], error["reason"]) == (0, "run_id", UNKNOWN)
    assert (served.call("GET", "/disputes").json(), served.stored()) == (before, stored)
