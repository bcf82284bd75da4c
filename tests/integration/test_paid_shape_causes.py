"""A paid period's statement names the later events that changed what it would
pay (SPEC §4: those whose removal from the replay would change a line) under
SPEC §3.1's shapes too, and each correction line carries them — on SQLite and
PostgreSQL:

- overrides: a manager's figures rest on the team's sales, so a team member's
  cancellation inside the window, and a team sale recorded late but dated in
  the paid period, are named on the override lines they move;
- pay on collection: a period's lines are releases of what sales earned in
  their booking period, so a cancellation in a booking period — the paid one
  or an earlier one — is named on every paid period whose releases it moved;
- events beyond a period's own facts that still move its lines, recorded late
  and backdated: a transfer taking a rep out of a manager's team, a plan
  assignment, an exchange rate a team sale converts at — each named on the
  paid period, on its correction and in a diff (`caused_by`).
"""

from __future__ import annotations

from typing import Any

from ledger.application import Ledger
from policies.plan import load_plan
from projections.service import Reports
from tests.builders import PLAN_TOML, enrol, jsonl, line, pay_period, sale, stored_record
from tests.unit.shapes import CREDITED_BANDS, plan_toml, shaped, spiff, tiers


def _changes(statement: dict[str, Any], paid_period: str) -> dict[tuple[str, Any], Any]:
    """The correction of ``paid_period`` in ``statement``: each changed line's
    (kind, subject) → (change, the events named on it)."""
    (correction,) = [
        x
        for x in statement["lines"]
        if x["kind"] == "correction" and x["paid_period"] == paid_period
    ]
    return {
        (s["values"]["kind"], s["values"].get("subject")): (s["values"]["change"], s["event_ids"])
        for s in correction["explanation"]
        if s["code"] == "correction_change"
    }


class TestOverrides:
    def test_a_team_cancellation_and_a_late_team_sale_are_named(self, ledger: Ledger) -> None:
        """m1 (override 2 %, 1 %) over r2 (100,000 in July), over r3 (50,000):
        Q3 paid 2,000 + 500. Then r3's sale is cancelled inside the window and
        a 20,000 sale of r2's dated September is recorded: level 1 +400 (the
        late sale), level 2 −500 (the cancellation)."""
        ledger.publish_plan(shaped(tail="[override]\nrates = [0.02, 0.01]\n"), actor="admin")
        ledger.import_lines(
            jsonl(
                enrol("m1"),
                enrol("r2", manager_id="m1"),
                enrol("r3", manager_id="r2"),
                sale("S1", "r2", "100000.00"),
                sale("S2", "r3", "50000.00"),
            ),
            actor="hr-sync",
        )
        reports = Reports(ledger)
        pay_period(reports, "2026-Q3")
        ledger.import_lines(
            jsonl(
                line("SaleCancelled", at="2026-08-01T10:00:00+08:00", sale_id="S2", reason="x"),
                sale("S3", "r2", "20000.00", at="2026-09-01T10:00:00+08:00"),
            ),
            actor="crm",
        )
        cancelled = stored_record(ledger, "SaleCancelled", sale_id="S2").event_id
        late = stored_record(ledger, "SaleRecorded", sale_id="S3").event_id
        q3 = reports.statement("m1", "2026-Q3")
        assert [e["event_id"] for e in q3["later_events"]] == [cancelled, late]
        assert q3["correction_to"] == "2026-Q4"
        assert _changes(reports.statement("m1", "2026-Q4"), "2026-Q3") == {
            ("override", "level=1"): ("400.00", [late]),
            ("override", "level=2"): ("-500.00", [cancelled]),
        }


class TestPayOnCollection:
    def test_a_cancellation_is_named_on_each_paid_period_whose_releases_it_moved(
        self, ledger: Ledger
    ) -> None:
        """Marginal bands on credited money (1 % to 10,000, then 2 %): S1 (10,000)
        earns 100 and S2 (40,000, after it) 800. Q3 releases half of S1 (50),
        Q4 half of S2 (400); both paid. S1's cancellation inside the window,
        recorded after, takes Q3's release away (−50) and, S2 now starting at
        0, earning 700, halves Q4's to 350 (−50): both paid periods name it,
        and so does each correction line of 2027-Q1, which releases S2's other
        half at 350."""
        bands = "{from = 0, rate = 0.01}, {from = 10000, rate = 0.02}"
        ledger.publish_plan(
            load_plan(
                plan_toml(
                    commission='basis = "collection"\n',
                    tail=tiers("credited", "marginal", bands),
                ),
                "toml",
            ),
            actor="admin",
        )
        ledger.import_lines(jsonl(enrol("r1")), actor="hr-sync")
        ledger.import_lines(
            jsonl(
                sale("S1", "r1", "10000.00"),
                sale("S2", "r1", "40000.00", at="2026-07-20T10:00:00+08:00"),
                _payment("P1", "S1", "5000.00", "2026-08-01T10:00:00+08:00"),
                _payment("P2", "S2", "20000.00", "2026-10-01T10:00:00+08:00"),
            ),
            actor="crm",
        )
        reports = Reports(ledger)
        assert _amount(reports.statement("r1", "2026-Q3"), "commission") == "50.00"
        assert _amount(reports.statement("r1", "2026-Q4"), "commission") == "400.00"
        pay_period(reports, "2026-Q3")
        pay_period(reports, "2026-Q4")
        ledger.import_lines(
            jsonl(
                line("SaleCancelled", at="2026-10-05T10:00:00+08:00", sale_id="S1", reason="x"),
                _payment("P3", "S2", "20000.00", "2027-01-10T10:00:00+08:00"),
            ),
            actor="crm",
        )
        cancelled = stored_record(ledger, "SaleCancelled", sale_id="S1").event_id
        for paid in ("2026-Q3", "2026-Q4"):
            statement = reports.statement("r1", paid)
            assert [e["event_id"] for e in statement["later_events"]] == [cancelled], paid
            assert statement["correction_to"] == "2027-Q1"
        q1 = reports.statement("r1", "2027-Q1")
        for paid in ("2026-Q3", "2026-Q4"):
            assert _changes(q1, paid) == {("commission", None): ("-50.00", [cancelled])}
        corrections = [x for x in q1["lines"] if x["kind"] == "correction"]
        assert [x["event_ids"] for x in corrections] == [[cancelled], [cancelled]]
        # what S2 earned without the cancellation (800) was worked out for the
        # causes, and kept nowhere: Q1's own release of S2 is half of 700
        assert _amount(q1, "commission") == "350.00"


def _payment(payment_id: str, sale_id: str, amount: str, at: str) -> dict[str, Any]:
    return line("PaymentReceived", at=at, payment_id=payment_id, sale_id=sale_id, amount=amount)


def _amount(statement: dict[str, Any], kind: str) -> str:
    (found,) = [x["amount"] for x in statement["lines"] if x["kind"] == kind]
    return str(found)


class TestManyLaterEvents:
    def test_past_the_exact_limit_each_line_kind_names_its_causes(self, ledger: Ledger) -> None:
        """210 sales of 1,000 in July under marginal bands (1 % to 10,000, 2 %
        to 50,000, then 3 %) and a SPIFF of 100 a sale, paid; then 205 are
        cancelled inside the window — more candidates than are worked out one
        whole replay each, so the period's totals are used: each cancellation
        still moves the commission and the SPIFF line, and is named on both."""
        ledger.publish_plan(
            load_plan(
                plan_toml(
                    tail=tiers("credited", "marginal", CREDITED_BANDS)
                    + spiff("push", "2026-07-01", "2026-09-30", amount="100")
                ),
                "toml",
            ),
            actor="admin",
        )
        ledger.import_lines(jsonl(enrol("r1")), actor="hr-sync")
        at = "2026-07-{:02d}T10:{:02d}:00+08:00"
        ledger.import_lines(
            jsonl(*(sale(f"S{i}", "r1", at=at.format(1 + i % 28, i % 60)) for i in range(210))),
            actor="crm",
        )
        reports = Reports(ledger)
        pay_period(reports, "2026-Q3")
        ledger.import_lines(
            jsonl(
                *(
                    line(
                        "SaleCancelled", at="2026-08-10T10:00:00+08:00", sale_id=f"S{i}", reason="x"
                    )
                    for i in range(205)
                )
            ),
            actor="crm",
        )
        cancelled = {r.event_id for r in ledger.iter_log() if r.type == "SaleCancelled"}
        changes = _changes(reports.statement("r1", "2026-Q4"), "2026-Q3")
        assert set(changes) == {("commission", None), ("spiff", "spiff_id=push")}
        # 210,000 → 5,000: 100 + 800 + 4,800 → 50; 21,000 → 500
        assert changes["commission", None][0] == "-5650.00"
        assert changes["spiff", "spiff_id=push"][0] == "-20500.00"
        for _, named in changes.values():
            assert set(named) == cancelled


_OVERRIDE = "[override]\nrates = [0.02, 0.01]\n"
Q3_START = "2026-07-01T00:00:00+08:00"


def _org_event(type_: str, rep_id: str, at: str = Q3_START, **fields: str) -> dict[str, Any]:
    return line(type_, at=at, actor="hr-late", rep_id=rep_id, **fields)


def _rate(rate: str, at: str) -> dict[str, Any]:
    return line("FxRateSet", at=at, actor="fin-late", base="USD", quote="CNY", rate=rate)


def _causes(diff: Any) -> dict[tuple[str, str | None], list[str]]:
    return {(c.kind, c.subject): [e.event_id for e in c.caused_by] for c in diff.changes}


def _r1_under_m1(ledger: Ledger) -> None:
    """m1 and m2 on the override plan; r1 under m1 sold 100,000 in July."""
    ledger.publish_plan(shaped(tail=_OVERRIDE), actor="admin")
    ledger.import_lines(
        jsonl(
            enrol("m1"), enrol("m2"), enrol("r1", manager_id="m1"), sale("S1", "r1", "100000.00")
        ),
        actor="hr-sync",
    )


class TestBackdatedEventsBeyondThePeriodsFacts:
    """Each event here changes no sale, target or case of the period: it moves
    its lines through who reported to whom, which plan pays it, or what a
    team sale converts to — and removing it would change a line, so it is
    named (SPEC §4; SPEC §3 rule 7: a correction is explained by the diff)."""

    def test_a_transfer_out_of_the_team_is_named_by_the_manager_it_left(
        self, ledger: Ledger
    ) -> None:
        """r1 (under m1) sold 100,000 in July; Q3 paid m1 an override of 2,000.
        Then r1's move to m2 from 1 July is recorded: m1's Q3 would pay no
        override (−2,000), m2's would pay 2,000. Both name the transfer."""
        _r1_under_m1(ledger)
        reports = Reports(ledger)
        pay_period(reports, "2026-Q3")
        ledger.import_lines(
            jsonl(_org_event("RepTransferred", "r1", manager_id="m2")), actor="hr-late"
        )
        moved = stored_record(ledger, "RepTransferred", rep_id="r1").event_id
        for manager, change in (("m1", "-2000.00"), ("m2", "2000.00")):
            q3 = reports.statement(manager, "2026-Q3")
            assert [e["event_id"] for e in q3["later_events"]] == [moved], manager
            q4 = reports.statement(manager, "2026-Q4")
            assert _changes(q4, "2026-Q3") == {("override", "level=1"): (change, [moved])}
            (correction,) = [x for x in q4["lines"] if x["kind"] == "correction"]
            assert correction["event_ids"] == [moved]

    def test_a_transfer_out_of_the_team_is_the_cause_in_a_diff(self, ledger: Ledger) -> None:
        """An open period: the transfer takes r1's sale off m1's override line,
        and the diff across it says so (it named no cause)."""
        _r1_under_m1(ledger)
        before = ledger.head()
        assert before is not None
        ledger.import_lines(
            jsonl(_org_event("RepTransferred", "r1", manager_id="m2")), actor="hr-late"
        )
        moved = stored_record(ledger, "RepTransferred", rep_id="r1").event_id
        reports = Reports(ledger)
        head = ledger.head()
        assert head is not None
        diff = reports.diff("m1", "2026-Q3", before.position, head.position)
        assert _causes(diff) == {("override", "level=1"): [moved]}

    def test_a_backdated_plan_assignment_is_named(self, ledger: Ledger) -> None:
        """r1 sold 100,000 in July at 5 %; Q3 paid 5,000. Then r1's move to a
        10 % plan from 1 July is recorded: Q3 would pay 10,000 (+5,000), and
        the assignment is what changed it."""
        ledger.publish_plan(shaped(), actor="admin")
        richer = PLAN_TOML.replace('id = "field-sales"', 'id = "richer"')
        ledger.publish_plan(
            load_plan(richer.replace("default_rate = 0.05", "default_rate = 0.10"), "toml"),
            actor="admin",
        )
        ledger.import_lines(jsonl(enrol("r1"), sale("S1", "r1", "100000.00")), actor="hr-sync")
        reports = Reports(ledger)
        pay_period(reports, "2026-Q3")
        ledger.import_lines(
            jsonl(_org_event("RepPlanAssigned", "r1", plan_id="richer")), actor="hr-late"
        )
        assigned = stored_record(ledger, "RepPlanAssigned", rep_id="r1").event_id
        q3 = reports.statement("r1", "2026-Q3")
        assert [e["event_id"] for e in q3["later_events"]] == [assigned]
        q4 = reports.statement("r1", "2026-Q4")
        assert _changes(q4, "2026-Q3") == {("commission", None): ("5000.00", [assigned])}

    def test_a_late_rate_a_team_sale_converts_at_is_named_on_the_override(
        self, ledger: Ledger
    ) -> None:
        """r1 (under m1) sold 10,000 USD on 20 July at 7.0 (1 July's rate):
        m1's override 2 % of 70,000 = 1,400, paid. A rate of 7.5 dated 10 July,
        recorded after, makes it 75,000: +100 on m1's override, named there as
        on r1's own commission — and on the line itself, which rests on it."""
        ledger.publish_plan(shaped(tail=_OVERRIDE), actor="admin")
        ledger.import_lines(
            jsonl(enrol("m1"), enrol("r1", manager_id="m1"), _rate("7.0", Q3_START)),
            actor="hr-sync",
        )
        usd = sale("SU", "r1", "10000.00", at="2026-07-20T10:00:00+08:00") | {"currency": "USD"}
        ledger.import_lines(jsonl(usd), actor="crm")
        reports = Reports(ledger)
        pay_period(reports, "2026-Q3")
        ledger.import_lines(jsonl(_rate("7.5", "2026-07-10T00:00:00+08:00")), actor="fin-late")
        late = stored_record(ledger, "FxRateSet", rate="7.5").event_id
        q3 = reports.statement("m1", "2026-Q3")
        assert [e["event_id"] for e in q3["later_events"]] == [late]
        q4 = reports.statement("m1", "2026-Q4")
        assert _changes(q4, "2026-Q3") == {("override", "level=1"): ("100.00", [late])}
        assert _changes(reports.statement("r1", "2026-Q4"), "2026-Q3") == {
            ("commission", None): ("250.00", [late])
        }
        # the override line as paid rests on the rate its team sale converted at
        first = next(r.event_id for r in ledger.iter_log() if r.type == "FxRateSet")
        (override,) = [x for x in q3["lines"] if x["kind"] == "override"]
        assert first in override["event_ids"]
