"""`python -m bench.late_payments [--payments N ...] [--store sqlite|postgres]
[--late payments|cancellations|sales]`: a backfill of late payments (or
cancellations, or sales with their payments) into a paid quarter under pay on
collection.

One rep on a collection plan with N sales booked in 2026-Q3, half of each paid
in Q3; Q3 paid out (run, approval, payment); then N more payments — or a
cancellation of each sale, inside its clawback window, or N more sales each
with a payment —, recorded late and dated in Q3. Times the late import with the projector's catch-up — which
weighs each late event as a cause of the paid period (SPEC §4) — and the paid
statement's read as of the head. Prints one JSON line per N: {"bench":
"late_payments", "store", "late", "payments", "seconds", "later_events"}."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.__main__ import drop, fresh_url
from bench.pages import event_line
from demo import PLAN_TOML
from ledger.application import Ledger
from policies.plan import load_plan
from projections.service import Reports
from service.usecases import UseCases

_COLLECTION = PLAN_TOML.replace("[commission]\n", '[commission]\nbasis = "collection"\n', 1)


def _event(type_: str, day: str, actor: str, **fields: Any) -> str:
    return event_line(type_, f"{day}T10:00:00", actor, **fields)


def _payment(payment_id: str, sale_id: str, at: str) -> str:
    fields = {"payment_id": payment_id, "sale_id": sale_id, "amount": "500.00"}
    return _event("PaymentReceived", at, "crm-sync", **fields)


def _late(kind: str, payments: int) -> list[str]:
    """The late events: a payment of each sale, its cancellation, or another
    sale with its payment."""
    if kind == "sales":
        return [
            line
            for k in range(payments)
            for line in (
                _event(
                    "SaleRecorded",
                    "2026-08-10",
                    "crm-sync",
                    sale_id=f"LS{k}",
                    rep_id="rep-1",
                    amount="1000.00",
                    currency="CNY",
                ),
                _payment(f"LP{k}", f"LS{k}", "2026-09-01"),
            )
        ]
    if kind == "cancellations":
        return [
            _event("SaleCancelled", "2026-09-01", "crm-sync", sale_id=f"S{k}", reason="churned")
            for k in range(payments)
        ]
    return [_payment(f"L{k}", f"S{k}", "2026-09-01") for k in range(payments)]


def backfill(url: str, payments: int, late_kind: str = "payments") -> dict[str, Any]:
    ledger = Ledger(url)
    try:
        ledger.publish_plan(load_plan(_COLLECTION, "toml"), actor="admin")
        enrol = {"rep_id": "rep-1", "name": "Rep One", "plan_id": "field-sales"}
        sales = [
            _event(
                "SaleRecorded",
                "2026-07-10",
                "crm-sync",
                sale_id=f"S{k}",
                rep_id="rep-1",
                amount="1000.00",
                currency="CNY",
            )
            for k in range(payments)
        ]
        paid = [_payment(f"P{k}", f"S{k}", "2026-08-01") for k in range(payments)]
        ledger.import_lines(
            [_event("RepEnrolled", "2026-03-20", "hr-sync", **enrol), *sales, *paid], actor="bench"
        )
        reports = Reports(ledger)
        cases = UseCases(ledger, reports)
        run = cases.run_payout("2026-Q3", actor="fin-amy").run_id
        cases.decide_run(run, actor="fin-bob")
        cases.pay_run(run, actor="fin-amy")
        reports.catch_up()
        late = _late(late_kind, payments)
        started = time.perf_counter()
        ledger.import_lines(late, actor="bench-late")
        reports.catch_up()
        statement = reports.statement("rep-1", "2026-Q3")
        seconds = time.perf_counter() - started
        return {"seconds": round(seconds, 2), "later_events": len(statement["later_events"])}
    finally:
        ledger.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.late_payments")
    parser.add_argument("--payments", type=int, nargs="+", default=[600, 5000])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--late", choices=["payments", "cancellations", "sales"], default="payments"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.payments:
            url = fresh_url(args.store, Path(tmp))
            try:
                figures = backfill(url, n, args.late)
            finally:
                drop(url)
            print(
                json.dumps(
                    {
                        "bench": "late_payments",
                        "store": args.store,
                        "late": args.late,
                        "payments": n,
                        **figures,
                    }
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
