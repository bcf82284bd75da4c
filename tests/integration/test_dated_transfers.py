"""SPEC §2: a transfer moves a rep "from ``occurred_at`` on" — so their team and
manager are those of the latest assignment (the enrolment, then each transfer)
dated on or before the day asked, ties by log position; not of the last one
recorded. A transfer recorded ahead of its date leaves the rep with their
manager (scope, lists, the summary's teams) until that day, then moves them; two
recorded out of business order resolve by date. The directory row keeps the
dated assignments, a function of the events alone: `verify` finds it equal to
a fresh replay whatever the day. Both stores, the day injected (`Reports.today`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from api.auth import may_read_event
from api.pages import views
from api.tokens import Principal
from ledger.application import Ledger
from policies.plan import load_plan
from projections.disputes import team_on
from projections.queues import Viewer, WorkQueues
from projections.runner import verify_views
from projections.service import Reports
from tests.builders import enrol, jsonl, line, sale, seeded, stored_record
from tests.unit.shapes import plan_toml

TODAY = date(2026, 12, 4)  # in Q4; the move to lead-he is dated 1 March 2027
MOVE_DAY = date(2027, 3, 1)
FINANCE = Viewer("finance", "fin-amy")
ZHAO, HE = Viewer("manager", "mgr-zhao"), Viewer("manager", "lead-he")


class Clock:
    """The day `Reports` asks on: set by the test, not read from the machine."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


def _transfer(rep_id: str, at: str, **moves: str) -> dict[str, str]:
    return line("RepTransferred", at=at, actor="hr-sync", rep_id=rep_id, **moves)


@pytest.fixture
def org(ledger: Ledger) -> Ledger:
    return moved_ahead(ledger)


def moved_ahead(ledger: Ledger) -> Ledger:
    """r1 and r2 in team east under mgr-zhao, each with a sale in Q3 and Q4; r1's
    move to team north under lead-he is recorded now, dated 1 March 2027."""
    seeded(ledger, "mgr-zhao", "lead-he")
    ledger.import_lines(
        jsonl(
            enrol("r1", team="east", manager_id="mgr-zhao"),
            enrol("r2", team="east", manager_id="mgr-zhao"),
            sale("S1", "r1", "10000.00"),
            sale("S2", "r1", "20000.00", at="2026-11-02T10:00:00+08:00"),
            sale("S3", "r2", "30000.00", at="2026-11-03T10:00:00+08:00"),
            _transfer("r1", "2027-03-01T00:00:00+08:00", team="north", manager_id="lead-he"),
        ),
        actor="hr-sync",
    )
    return ledger


def _reports(ledger: Ledger, clock: Callable[[], date]) -> Reports:
    reports = Reports(ledger, today=clock)
    reports.catch_up()
    return reports


def _team_of(queues: WorkQueues, viewer: Viewer) -> list[str]:
    return [row.rep_id for row in queues.reps(viewer).items]


def _teams(queues: WorkQueues, period: str) -> dict[str | None, int]:
    return {team.team: team.reps for team in queues.summary(FINANCE, period).teams}


def _overview_teams(reports: Reports, period: str) -> dict[str, int]:
    """The overview's payouts by team (SPEC §5.1) in ``period``: reps per team
    (the two managers are in none)."""
    payouts = views.overview(reports, period).payouts
    return {p["team"]: p["reps"] for p in payouts if p["period"] == period and p["team"]}


class TestAFutureDatedTransfer:
    def test_the_rep_stays_with_their_manager_until_its_date_then_moves(self, org: Ledger) -> None:
        """Until 1 March 2027 r1 is east's and mgr-zhao's — the rep, the managers'
        lists, the summary's and the overview's teams; on that day (its date in
        its own offset, +08:00) all of them move to north and lead-he."""
        clock = Clock(TODAY)
        reports = _reports(org, clock)
        queues = WorkQueues(reports)
        row = reports.rep("r1")
        assert (row.team, row.manager_id) == ("east", "mgr-zhao")
        assert (_team_of(queues, ZHAO), _team_of(queues, HE)) == (["r1", "r2"], [])
        # mgr-zhao and lead-he, enrolled with no team and nothing in Q4, are
        # listed too (at 0.00, as a payout run of Q4 would cover them)
        assert _teams(queues, "2026-Q4") == {None: 2, "east": 2}
        assert _overview_teams(reports, "2026-Q4") == {"east": 2}
        summary = {item.rep_id: item for item in queues.summary(FINANCE, "2026-Q4").items}
        assert (summary["r1"].team, summary["r1"].manager_id) == ("east", "mgr-zhao")
        assert queues.summary(HE, "2026-Q3").items == []
        clock.day = date(2027, 2, 28)  # the day before
        assert reports.rep("r1").manager_id == "mgr-zhao"
        assert _team_of(queues, HE) == []

        clock.day = MOVE_DAY
        row = reports.rep("r1")
        assert (row.team, row.manager_id) == ("north", "lead-he")
        assert (_team_of(queues, ZHAO), _team_of(queues, HE)) == (["r2"], ["r1"])
        assert _teams(queues, "2026-Q4") == {None: 2, "east": 1, "north": 1}
        assert _overview_teams(reports, "2026-Q4") == {"east": 1, "north": 1}
        assert [item.rep_id for item in queues.summary(HE, "2026-Q3").items] == ["r1"]
        assert queues.reps(FINANCE, team="north").items == [row]

    def test_the_read_model_does_not_depend_on_the_day(self, org: Ledger) -> None:
        """The stored row is the same whatever the day, and equal to a replay;
        it keeps the move dated, not applied (its team of today is east)."""
        stored = []
        for day in (TODAY, MOVE_DAY):
            reports = _reports(org, Clock(day))
            stored.append(reports.projector.store.row("reps", "r1", "r1"))
        assert stored[0] == stored[1]
        assert stored[0] is not None
        assert team_on(stored[0], TODAY) == "east"
        assert verify_views(org) == []


class TestTransfersRecordedOutOfBusinessOrder:
    def test_the_latest_by_date_is_in_force_not_the_last_recorded(self, org: Ledger) -> None:
        """r2 moves to lead-he in north on 1 November (recorded first), and to team
        west on 1 October (recorded later, naming no manager): from 1 November
        r2 is north's and lead-he's; in October, west's and still mgr-zhao's."""
        org.import_lines(
            jsonl(
                _transfer("r2", "2026-11-01T09:00:00+08:00", team="north", manager_id="lead-he"),
                _transfer("r2", "2026-10-01T09:00:00+08:00", team="west"),
            ),
            actor="hr-sync",
        )
        clock = Clock(TODAY)
        reports = _reports(org, clock)
        queues = WorkQueues(reports)
        row = reports.rep("r2")
        assert (row.team, row.manager_id) == ("north", "lead-he")
        assert (_team_of(queues, ZHAO), _team_of(queues, HE)) == (["r1"], ["r2"])
        assert _teams(queues, "2026-Q4") == {None: 2, "east": 1, "north": 1}
        clock.day = date(2026, 10, 15)
        row = reports.rep("r2")
        assert (row.team, row.manager_id) == ("west", "mgr-zhao")
        assert _team_of(queues, ZHAO) == ["r1", "r2"]
        assert verify_views(org) == []

    def test_ties_on_one_moment_go_by_log_position(self, org: Ledger) -> None:
        """Two moves of r2 dated alike, recorded before one dated earlier: the
        later recorded of the two is in force, the earlier dated one is not."""
        at = "2026-11-01T09:00:00+08:00"
        org.import_lines(
            jsonl(
                _transfer("r2", at, team="west"),
                _transfer("r2", at, team="south"),
                _transfer("r2", "2026-10-01T09:00:00+08:00", team="north"),
            ),
            actor="hr-sync",
        )
        assert _reports(org, Clock(TODAY)).rep("r2").team == "south"


MORNING, TRANSFER, EVENING = (f"2026-08-14T{h}:00:00+08:00" for h in ("09", "15", "18"))


@pytest.fixture
def moved_at_noon(ledger: Ledger) -> Ledger:
    """r1 reports to mgr-a, both managers paid overrides; on 14 August r1 sells
    at 9:00 (S-am), moves to mgr-b at 15:00 and sells at 18:00 (S-pm); from
    1 September r1 reports to mgr-c."""
    seeded(ledger)
    managers = plan_toml(tail="[override]\nrates = [0.02, 0.01]\n")
    ledger.publish_plan(
        load_plan(managers.replace('id = "field-sales"', 'id = "managers"'), "toml"),
        actor="admin",
    )
    ledger.import_lines(
        jsonl(
            *(enrol(m, plan_id="managers") for m in ("mgr-a", "mgr-b", "mgr-c")),
            enrol("r1", manager_id="mgr-a"),
            sale("S-am", "r1", "10000.00", at=MORNING),
            _transfer("r1", TRANSFER, manager_id="mgr-b"),
            sale("S-pm", "r1", "20000.00", at=EVENING),
            _transfer("r1", "2026-09-01T09:00:00+08:00", manager_id="mgr-c"),
        ),
        actor="hr-sync",
    )
    return ledger


class TestATransferDaysSales:
    """SPEC §3.1: a sale pays the override of the manager the rep reported to at
    its moment; whose watch a sale is on — who of the managers the rep left
    reads it, whose events it is among — is decided by the same instant, not
    by its day (the day gave the whole transfer day to the new manager: the old
    one was refused the morning's sale their override rests on, and the new one
    read a sale that pays them nothing)."""

    def test_each_sale_is_read_by_the_manager_its_override_pays(
        self, moved_at_noon: Ledger
    ) -> None:
        reports = _reports(moved_at_noon, Clock(TODAY))
        credited = {
            manager: [
                step["values"]["credited"]
                for line_ in reports.statement(manager, "2026-Q3")["lines"]
                if line_["kind"] == "override"
                for step in line_["explanation"]
                if step["code"] == "override_rep"
            ]
            for manager in ("mgr-a", "mgr-b")
        }
        assert credited == {"mgr-a": ["10000"], "mgr-b": ["20000"]}
        morning = stored_record(moved_at_noon, "SaleRecorded", sale_id="S-am")
        evening = stored_record(moved_at_noon, "SaleRecorded", sale_id="S-pm")
        read = {
            (manager, record.data["sale_id"]): may_read_event(
                _manager(manager),
                record.type,
                reports.reps_of_event(record),
                reports,
                at=record.occurred_at,
            )
            for manager in ("mgr-a", "mgr-b")
            for record in (morning, evening)
        }
        assert read == {
            ("mgr-a", "S-am"): True,
            ("mgr-a", "S-pm"): False,
            ("mgr-b", "S-am"): False,
            ("mgr-b", "S-pm"): True,
        }

    def test_a_sale_is_among_the_events_of_the_manager_its_override_pays(
        self, moved_at_noon: Ledger
    ) -> None:
        """The managers are reps too (paid overrides): the morning's sale is
        mgr-a's event, the evening's mgr-b's — as their statements' lines say."""
        reports = _reports(moved_at_noon, Clock(TODAY))
        theirs = {
            sale_id: sorted(
                set(
                    reports.reps_of_event(
                        stored_record(moved_at_noon, "SaleRecorded", sale_id=sale_id)
                    )
                )
                & {"mgr-a", "mgr-b"}
            )
            for sale_id in ("S-am", "S-pm")
        }
        assert theirs == {"S-am": ["mgr-a"], "S-pm": ["mgr-b"]}


def _manager(actor: str) -> Principal:
    return Principal("t", actor, "manager", None, datetime(2199, 1, 1, tzinfo=UTC))
