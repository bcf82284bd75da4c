"""The payout claims index rules (SPEC §5), pure: who holds a rep's period, and
the index a replay of the log makes."""

from __future__ import annotations

import orjson
import pytest

from ledger.domain import event_topic
from ledger.payout_claims import (
    CALCULATED,
    PAID,
    REJECTED,
    Claim,
    ClaimChange,
    claim_changes,
    expected_claims,
    holder_of,
)

P = "2026-Q3"


def _c(run: str, state: str, position: int, rep: str = "r1") -> Claim:
    return Claim(P, rep, run, state, position)


@pytest.mark.parametrize(
    ("claims", "holder"),
    [
        ([], None),
        ([_c("A", CALCULATED, 5)], "A"),  # an open run holds it
        ([_c("A", CALCULATED, 5), _c("A", REJECTED, 7)], None),  # a rejected one frees it
        ([_c("A", CALCULATED, 5), _c("A", PAID, 9)], "A"),  # a paid one locks it
        ([_c("B", CALCULATED, 5)], None),  # the run asked about is not its own holder
        ([_c("A", CALCULATED, 5, rep="r2")], None),  # another rep's claim
        (  # paid by an earlier run beats an open later one (a store of the code before)
            [_c("C", CALCULATED, 8), _c("A", CALCULATED, 5), _c("A", PAID, 9)],
            "A",
        ),
        ([_c("A", CALCULATED, 5), _c("C", CALCULATED, 0)], "A"),  # staged claims come last
    ],
)
def test_who_holds_a_reps_period(claims: list[Claim], holder: str | None) -> None:
    found = holder_of(claims, "r1", "B")
    assert (found.run_id if found else None) == holder


def test_the_changes_an_append_makes() -> None:
    def state(**data: object) -> bytes:
        return orjson.dumps({"data": data})

    rows = [
        (3, event_topic("SaleRecorded"), b"not even decoded"),
        (
            4,
            event_topic("PayoutCalculated"),
            state(run_id="A", period=P, statements=[{"rep_id": "r1"}, {"rep_id": "r2"}]),
        ),
        (5, event_topic("ApprovalRejected"), state(subject_id="A")),
        (6, event_topic("PayoutPaid"), state(run_id="B")),
    ]
    assert claim_changes(rows) == [
        ClaimChange(4, CALCULATED, "A", P, ("r1", "r2")),
        ClaimChange(5, REJECTED, "A"),
        ClaimChange(6, PAID, "B"),
    ]


def test_a_replay_makes_the_index() -> None:
    events = [
        (4, "PayoutCalculated", {"run_id": "A", "period": P, "statements": [{"rep_id": "r1"}]}),
        (5, "ApprovalRejected", {"subject_id": "T-1"}),  # not a run: nothing
        (6, "ApprovalRejected", {"subject_id": "A"}),
        (7, "PayoutCalculated", {"run_id": "B", "period": P, "statements": [{"rep_id": "r1"}]}),
        (9, "PayoutPaid", {"run_id": "B"}),
    ]
    assert expected_claims(events) == {
        _c("A", CALCULATED, 4),
        _c("A", REJECTED, 6),
        _c("B", CALCULATED, 7),
        _c("B", PAID, 9),
    }
