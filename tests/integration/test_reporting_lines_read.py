"""SPEC §3.1 and §5 on both stores: a report's reporting lines are their
manager's to read while they move the rep into or out of the manager's team
— not the rep's moves after they left (`Reports.reps_of_event`, GET /events'
rule, and what a diff and a bundle disclose)."""

from __future__ import annotations

from ledger.application import Ledger
from policies.plan import load_plan
from projections.service import Reports
from tests.builders import PLAN_TOML, enrol, jsonl, line, seeded

# lead-he's plan: the SPEC's, and an override on their team's sales
LEADS = PLAN_TOML.replace('id = "field-sales"', 'id = "leads"') + '\n[override]\nrates = ["0.02"]\n'


def test_a_reports_moves_after_they_left_are_not_their_former_managers(ledger: Ledger) -> None:
    """r1, enrolled in lead-he's team (lead-he is paid overrides), moved to
    mgr-zhao, then from mgr-zhao to mgr-qian: lead-he is among the reps of
    r1's enrolment and of the move out of their team, not of the last move,
    which the replay index lists for them (it was theirs to read too)."""
    seeded(ledger, "mgr-zhao", "mgr-qian")
    ledger.publish_plan(load_plan(LEADS, "toml"), actor="admin")
    team = jsonl(enrol("lead-he", plan_id="leads"), enrol("r1", manager_id="lead-he"))
    ledger.import_lines(team, actor="hr-sync")
    for at, manager in (("2026-08-01", "mgr-zhao"), ("2026-09-01", "mgr-qian")):
        moved = line("RepTransferred", at=f"{at}T09:00:00+08:00", rep_id="r1", manager_id=manager)
        ledger.import_lines(jsonl(moved), actor="hr")
    reports = Reports(ledger)
    reports.catch_up()
    seen = {
        record.data.get("manager_id"): "lead-he" in reports.reps_of_event(record)
        for record in ledger.iter_log()
        if record.type != "PlanPublished" and record.data["rep_id"] == "r1"
    }
    assert seen == {"lead-he": True, "mgr-zhao": True, "mgr-qian": False}
