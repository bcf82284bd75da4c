"""The role × endpoint matrix of SPEC §5, and object-level access."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api import auth
from api.schemas import AuditBundleOut
from tests.api.conftest import Api, demo_adjustment, demo_event, demo_sale
from tests.builders import stored_record

ROLES = ["rep", "manager", "finance", "compliance", "integration", "admin"]


def _sale() -> dict[str, Any]:
    return demo_sale("S-HTTP-1")


def _pending_adjustment(api: Api) -> None:
    line = demo_adjustment("ADJ-M", "100.00", "matrix", actor="fin-carl")
    api.ledger.import_lines([json.dumps(line)], actor="fin-carl")


def _candidate_toml() -> str:
    from demo import PLAN_TOML

    return PLAN_TOML.replace("version = 1", "version = 2")


def _allowed(status: int, *roles: str) -> dict[str, int]:
    """A row of the matrix: ``roles`` get ``status``, every other role 403."""
    return {role: status if role in roles else 403 for role in ROLES}


# route name -> (method, path, body or None, {role: expected status})
def _routes(api: Api) -> dict[str, tuple[str, str, Any, dict[str, int]]]:
    run = api.demo.run_id
    sale_event = stored_record(api.ledger, "SaleRecorded", sale_id="S-1001").event_id
    # SPEC §5: finance all payouts, compliance violations and histories — no
    # one's pay; admin reads no one's pay
    pay_readers = _allowed(200, "rep", "manager", "finance")
    history_readers = _allowed(200, "rep", "manager", "compliance")
    run_readers = _allowed(200, "finance")
    return {
        "post_events": ("POST", "/events", _sale(), _allowed(201, "integration")),
        "get_event": (
            "GET",
            f"/events/{sale_event}",
            None,
            # admin reads the events of its own work (plans, enrolment), not a
            # sale; nor compliance (a case, coaching, a decision on a case: yes)
            {**pay_readers, "compliance": 404, "admin": 404},
        ),
        "get_statement": ("GET", "/reps/rep-li/statements/2026-Q3", None, pay_readers),
        "get_diff": (
            "GET",
            "/reps/rep-li/statements/2026-Q3/diff?from=20&to=30",
            None,
            pay_readers,
        ),
        "get_history": ("GET", "/reps/rep-li/history", None, history_readers),
        "post_run": ("POST", "/payouts/2026-Q4/runs", None, _allowed(201, "finance")),
        "post_pay": ("POST", f"/payouts/runs/{run}/pay", None, _allowed(200, "finance")),
        "get_export": ("GET", f"/payouts/runs/{run}/export.csv", None, _allowed(200, "finance")),
        "get_export_xlsx": (
            "GET",
            f"/payouts/runs/{run}/export.xlsx",
            None,
            _allowed(200, "finance"),
        ),
        "post_approval": (
            "POST",
            "/approvals",
            {"subject_id": "ADJ-M", "decision": "grant"},
            # compliance decides cases and reads no one's pay: an adjustment's
            # id is answered as one naming no subject
            {**_allowed(201, "finance"), "compliance": 404},
        ),
        "post_dispute": (
            "POST",
            "/disputes",
            {"run_id": run, "message": "split is wrong", "rep_id": "rep-li", "dispute_id": "DSP-M"},
            _allowed(201, "rep", "finance"),
        ),
        "post_resolution": (
            "POST",
            "/disputes/DSP-401/resolution",
            {"outcome": "rejected", "note": "split was agreed"},
            _allowed(201, "finance"),
        ),
        "get_disputes": (
            "GET",
            "/reps/rep-li/disputes",
            None,
            _allowed(200, "rep", "manager", "finance"),
        ),
        # the work queues (SPEC §5): scoped lists; what each role sees is test_queues
        "get_reps": ("GET", "/reps", None, {**pay_readers, "compliance": 200, "admin": 200}),
        "get_summary": ("GET", "/periods/2026-Q3/summary", None, pay_readers),
        "get_runs": ("GET", "/payouts/runs?period=2026-Q3", None, run_readers),
        "get_run": ("GET", f"/payouts/runs/{run}", None, run_readers),
        "get_pending": ("GET", "/approvals/pending", None, {**pay_readers, "compliance": 200}),
        "get_dispute_list": (
            "GET",
            "/disputes?status=open",
            None,
            _allowed(200, "rep", "manager", "finance"),
        ),
        "get_cases": ("GET", "/cases?severity=red_line", None, history_readers),
        "get_bundle": (
            "GET",
            "/reps/rep-li/statements/2026-Q3/bundle",
            None,
            pay_readers,
        ),
        # modelling (SPEC §5): records nothing; whatif shows every rep's pay
        "post_whatif": (
            "POST",
            "/whatif",
            {"plan": _candidate_toml(), "periods": ["2026-Q4"]},
            _allowed(200, "finance"),
        ),
        "post_estimate": (
            "POST",
            "/reps/rep-li/estimate",
            {"amount": "1000.00", "date": "2026-11-20"},
            _allowed(200, "rep", "manager", "finance"),
        ),
        "get_verify": (
            "GET",
            "/audit/verify",
            None,
            _allowed(200, "finance", "compliance", "admin"),
        ),
    }


ROUTE_NAMES = [
    "post_events",
    "get_event",
    "get_statement",
    "get_diff",
    "get_history",
    "post_run",
    "post_pay",
    "get_export",
    "get_export_xlsx",
    "post_approval",
    "post_dispute",
    "post_resolution",
    "get_disputes",
    "get_verify",
    "get_reps",
    "get_summary",
    "get_runs",
    "get_run",
    "get_pending",
    "get_dispute_list",
    "get_cases",
    "get_bundle",
    "post_whatif",
    "post_estimate",
]


def test_the_matrix_covers_every_route_in_the_role_table() -> None:
    """A route added to `api.auth.ROUTE_ROLES` without a row here fails."""
    from api.auth import ROUTE_ROLES

    # GET /metrics answers without a token by default: its roles are test_metrics'
    assert {*ROUTE_NAMES, "get_metrics"} == set(ROUTE_ROLES)


@pytest.mark.parametrize("route", ROUTE_NAMES)
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(api: Api, route: str, role: str) -> None:
    """Every route, every role: exactly the status SPEC §5 gives."""
    _pending_adjustment(api)
    method, path, body, expected = _routes(api)[route]
    response = api.client.request(method, path, json=body, headers=api.as_(role))
    assert response.status_code == expected[role], response.text
    if response.status_code >= 400:
        assert set(response.json()) >= {"error", "detail"}


@pytest.mark.parametrize("route", ROUTE_NAMES)
@pytest.mark.parametrize("token", ["none", "malformed", "forged", "expired", "revoked"])
def test_without_a_valid_token_is_401(api: Api, route: str, token: str) -> None:
    method, path, body, _ = _routes(api)[route]
    headers = {} if token == "none" else api.as_(token)
    before = api.head()
    response = api.client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert "il1." not in response.text
    assert api.head() == before


def test_health_needs_no_token(api: Api) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200
    assert response.json()["position"] == api.head()


# (who, whose bundle, the answer): a statement's scope, which a bundle follows
BUNDLE_SCOPE = [
    ("rep", "rep-li", 200),
    ("rep", "rep-chen", 404),
    ("other_rep", "rep-chen", 200),
    ("other_rep", "rep-li", 404),
    ("manager", "rep-chen", 200),
    ("other_manager", "rep-li", 404),
    ("finance", "rep-wang", 200),
    ("compliance", "rep-wang", 403),
    ("admin", "rep-wang", 403),
    ("integration", "rep-li", 403),
]


class TestObjectLevel:
    @pytest.mark.parametrize(
        "path",
        [
            "/reps/rep-chen/statements/2026-Q3",
            "/reps/rep-chen/statements/2026-Q3?as_of=30",
            "/reps/rep-chen/statements/2026-Q3/diff?from=20&to=30",
            "/reps/rep-chen/history",
            "/reps/rep-chen/disputes",
            "/reps/rep-chen/statements/2026-Q3/bundle",
            "/reps/nobody/statements/2026-Q3",
        ],
    )
    def test_rep_a_on_rep_b_gets_404_and_nothing_of_b(self, api: Api, path: str) -> None:
        response = api.client.get(path, headers=api.as_("rep"))
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        for secret in ("1800.00", "CASE-201", "false-expense", "5000.00", "T-CHEN"):
            assert secret not in response.text

    @pytest.mark.parametrize(("who", "other"), [("rep", "rep-chen"), ("other_manager", "rep-li")])
    def test_another_reps_data_is_answered_as_no_rep_at_all(
        self, api: Api, who: str, other: str
    ) -> None:
        """SPEC §5: another rep's data is 404 — the very answer a rep id that
        does not exist gets, status and body, so no one outside finance,
        compliance and admin can tell which rep ids exist by asking."""
        for path in ("statements/2026-Q3", "statements/2026-Q3/diff?from=20&to=30", "history"):
            theirs = api.client.get(f"/reps/{other}/{path}", headers=api.as_(who))
            nobodys = api.client.get(f"/reps/nobody/{path}", headers=api.as_(who))
            assert theirs.status_code == nobodys.status_code == 404, path
            assert theirs.json() == json.loads(nobodys.text.replace("nobody", other)), path

    def test_a_rep_cannot_read_another_reps_event(self, api: Api) -> None:
        event_id = stored_record(
            api.ledger, "SaleRecorded", sale_id="S-1003"
        ).event_id  # Chen's sale
        response = api.client.get(f"/events/{event_id}", headers=api.as_("rep"))
        assert response.status_code == 404
        assert "90000" not in response.text

    def test_a_rep_cannot_read_the_payout_calculation(self, api: Api) -> None:
        """It holds every rep's statement."""
        event_id = stored_record(api.ledger, "PayoutCalculated").event_id
        assert api.client.get(f"/events/{event_id}", headers=api.as_("rep")).status_code == 404
        assert api.client.get(f"/events/{event_id}", headers=api.as_("finance")).status_code == 200

    def test_an_exchange_rate_is_every_reps_to_read(self, api: Api) -> None:
        """A converted sale's line cites the rate it was converted at: any rep
        may open it (it is no one's pay), as their bundle holds it."""
        event_id = stored_record(api.ledger, "FxRateSet").event_id
        assert api.client.get(f"/events/{event_id}", headers=api.as_("rep")).status_code == 200

    def test_admin_reads_its_own_work_and_no_ones_pay(self, api: Api) -> None:
        """SPEC §5: admin keeps plans, enrolment and tokens."""
        enrolled = stored_record(api.ledger, "RepEnrolled", rep_id="rep-li").event_id
        run = stored_record(api.ledger, "PayoutCalculated").event_id
        assert api.client.get(f"/events/{enrolled}", headers=api.as_("admin")).status_code == 200
        answer = api.client.get(f"/events/{run}", headers=api.as_("admin"))
        assert answer.status_code == 404
        assert "statements" not in answer.text

    def test_a_rep_reads_every_event_behind_their_statement(self, api: Api) -> None:
        """The transparent trail: each event id on Li's statement opens for Li."""
        statement = api.client.get("/reps/rep-li/statements/2026-Q4", headers=api.as_("rep")).json()
        ids = {e for line in statement["lines"] for e in line["event_ids"]}
        assert ids
        for event_id in ids:
            assert (
                api.client.get(f"/events/{event_id}", headers=api.as_("rep")).status_code == 200
            ), event_id

    def test_compliance_reads_the_histories_events_and_no_ones_pay(self, api: Api) -> None:
        """SPEC §5, compliance: violations and histories of everyone. A case, an
        overturning, coaching and the decision on a case are theirs to read; a
        sale, an adjustment and the decision on an adjustment are pay."""
        case = stored_record(api.ledger, "ViolationRecorded", case_id="CASE-201")
        decision = stored_record(api.ledger, "ApprovalGranted", subject_id="CASE-201")
        coaching = stored_record(api.ledger, "CoachingRecorded")
        adjustment = stored_record(api.ledger, "AdjustmentRequested")
        on_adjustment = stored_record(
            api.ledger, "ApprovalGranted", subject_id=adjustment.data["adjustment_id"]
        )
        sale = stored_record(api.ledger, "SaleRecorded")

        def status(record: Any) -> int:
            url = f"/events/{record.event_id}"
            return int(api.client.get(url, headers=api.as_("compliance")).status_code)

        assert [status(r) for r in (case, decision, coaching)] == [200, 200, 200]
        assert [status(r) for r in (adjustment, on_adjustment, sale)] == [404, 404, 404]
        # finance: every event pay can rest on (a case: its fine), not coaching
        as_finance = api.as_("finance")
        assert api.client.get(f"/events/{case.event_id}", headers=as_finance).status_code == 200
        url = f"/events/{coaching.event_id}"
        assert api.client.get(url, headers=as_finance).status_code == 404

    def test_a_manager_sees_only_their_team(self, api: Api) -> None:
        assert api.client.get("/reps/rep-li/history", headers=api.as_("manager")).status_code == 200
        response = api.client.get("/reps/rep-li/history", headers=api.as_("other_manager"))
        assert response.status_code == 404

    @pytest.mark.parametrize(("who", "rep", "status"), BUNDLE_SCOPE)
    def test_a_bundle_follows_the_statement_scope(
        self, api: Api, who: str, rep: str, status: int
    ) -> None:
        """A rep bundles only their own (another's is 404, nothing of it), a
        manager their team, finance anyone's; compliance and admin no one's (a
        statement is pay, SPEC §5)."""
        response = api.client.get(f"/reps/{rep}/statements/2026-Q3/bundle", headers=api.as_(who))
        assert response.status_code == status, response.text
        if status == 200:
            bundle = AuditBundleOut.model_validate_json(response.content)  # as documented
            assert (bundle.rep_id, bundle.statement["rep_id"]) == (rep, rep)
            assert response.headers["content-type"].startswith("application/json")
        else:
            assert "Chen Jing" not in response.text
            assert "Li Wei" not in response.text

    @pytest.mark.parametrize(
        "path",
        [
            "/reps/lead-he/statements/2026-07",
            "/reps/lead-he/statements/2026-07/diff?from=60&to=67",
            "/reps/lead-he/statements/2026-07/bundle",
            "/reps/lead-he/history",
            "/reps/lead-he/disputes",
        ],
    )
    def test_a_manager_paid_overrides_reads_their_own_pay(self, api: Api, path: str) -> None:
        """lead-he manages rep-sun and rep-xu and is paid overrides on their
        sales: their own statement, diff, bundle, history and disputes are
        theirs to read, as a rep's are (before: 404, their own pay hidden from
        them). Another manager still gets 404."""
        assert api.client.get(path, headers=api.as_("lead")).status_code == 200
        assert api.client.get(path, headers=api.as_("manager")).status_code == 404

    def test_a_manager_reads_the_events_of_their_own_pay(self, api: Api) -> None:
        enrolled = stored_record(api.ledger, "RepEnrolled", rep_id="lead-he")
        url = f"/events/{enrolled.event_id}"
        assert api.client.get(url, headers=api.as_("lead")).status_code == 200
        assert api.client.get(url, headers=api.as_("manager")).status_code == 404

    def test_a_cancellation_refused_as_standing_names_its_date_only_to_its_recorder(
        self, api: Api
    ) -> None:
        """S-1003 was cancelled on 5 September by crm-sync. Another cancellation
        of it is a 409 naming ``sale_id`` for any sender; crm-sync is told the
        day of the one it recorded, crm-other (an integration reads no event)
        is not. Both were told the day."""
        other = demo_event("SaleCancelled", sale_id="S-1003", reason="duplicate")
        answers = {
            who: api.client.post("/events", json=other, headers=api.as_(who))
            for who in ("integration", "integration2")
        }
        for who, answer in answers.items():
            assert answer.status_code == 409, (who, answer.text)
            assert answer.json()["field"] == "sale_id", who
            assert "happens once and stands" in answer.text, who
        assert "2026-09-05" in answers["integration"].text
        assert "2026-09-05" not in answers["integration2"].text

    def test_overrides_open_no_reports_history_to_their_manager(self, api: Api) -> None:
        """lead-he is paid overrides on rep-sun's sales, and rep-sun has moved on
        to mgr-zhao: rep-sun's coaching and cases recorded since are mgr-zhao's
        to read, not lead-he's — neither with lead-he's manager token nor with
        a rep token of theirs (their pay rests on rep-sun's sales only). Both
        were readable: the replay index listed every event of rep-sun for
        lead-he."""
        as_rep = _sun_moved_to_zhao(api)
        case = {"code": "late-report", "severity": "minor", "description": "late"}
        recorded = [
            demo_event("CoachingRecorded", rep_id="rep-sun", topic="one to one"),
            demo_event("ViolationRecorded", case_id="C-SUN", rep_id="rep-sun", **case),
        ]
        answer = api.client.post("/events", json=recorded, headers=api.as_("manager"))
        assert answer.status_code == 201, answer.text
        for event in answer.json()["events"]:
            url = f"/events/{event['event_id']}"
            assert api.client.get(url, headers=api.as_("manager")).status_code == 200
            assert api.client.get(url, headers=api.as_("lead")).status_code == 404
            assert api.client.get(url, headers=as_rep).status_code == 404
        sale = stored_record(api.ledger, "SaleRecorded", rep_id="rep-sun")  # on lead-he's watch
        assert (
            api.client.get(f"/events/{sale.event_id}", headers=api.as_("lead")).status_code == 200
        )

    def test_overrides_open_no_sale_made_after_a_report_moved_on(self, api: Api) -> None:
        """lead-he's override counts rep-sun's sales made while rep-sun reported
        to them; one made after rep-sun moved to mgr-zhao is mgr-zhao's team's
        pay, and was readable by lead-he (manager token, or a rep token of
        theirs) through GET /events."""
        as_rep = _sun_moved_to_zhao(api)
        sale = demo_event(
            "SaleRecorded", sale_id="S-SUN-NOV", rep_id="rep-sun", amount="7777.00", currency="CNY"
        )
        answer = api.client.post("/events", json=sale, headers=api.as_("integration"))
        assert answer.status_code == 201, answer.text
        url = f"/events/{answer.json()['events'][0]['event_id']}"
        assert api.client.get(url, headers=api.as_("manager")).status_code == 200
        assert api.client.get(url, headers=api.as_("lead")).status_code == 404
        assert api.client.get(url, headers=as_rep).status_code == 404
        earlier = stored_record(api.ledger, "SaleRecorded", rep_id="rep-sun")  # on their watch
        assert api.client.get(f"/events/{earlier.event_id}", headers=as_rep).status_code == 200

    def test_overrides_open_no_reporting_line_of_a_report_after_they_left(self, api: Api) -> None:
        """rep-sun moved from lead-he to mgr-zhao on 1 November, then from
        mgr-zhao to mgr-qian on 20 November: the first move is lead-he's to
        read (it ends their override on rep-sun), the second is mgr-zhao's and
        mgr-qian's, not lead-he's — neither through GET /events (manager token
        or a rep token of theirs), nor their November diff's events between,
        nor their bundle. The replay index lists every reporting line of
        rep-sun for lead-he, and each was readable, with its team and manager."""
        as_rep = _sun_moved_to_zhao(api)
        left = stored_record(api.ledger, "RepTransferred", rep_id="rep-sun").event_id
        start = api.head()
        line = {"rep_id": "rep-sun", "team": "team-qian-secret", "manager_id": "mgr-qian"}
        onward = demo_event("RepTransferred", at="2026-11-20T09:00:00+08:00", **line)
        answer = api.client.post("/events", json=onward, headers=api.as_("admin")).json()
        moved_on = answer["events"][0]["event_id"]
        for who, status in (("manager", 200), ("other_manager", 200), ("lead", 404)):
            got = api.client.get(f"/events/{moved_on}", headers=api.as_(who))
            assert got.status_code == status, who
        assert api.client.get(f"/events/{moved_on}", headers=as_rep).status_code == 404
        for headers in (api.as_("lead"), as_rep):
            assert api.client.get(f"/events/{left}", headers=headers).status_code == 200
            diff = api.client.get(
                f"/reps/lead-he/statements/2026-11/diff?from={start - 1}&to={api.head()}",
                headers=headers,
            )
            assert diff.status_code == 200, diff.text
            assert moved_on not in diff.text
            assert "team-qian-secret" not in diff.text
            bundle = api.client.get("/reps/lead-he/statements/2026-11/bundle", headers=headers)
            assert bundle.status_code == 200, bundle.text
            assert moved_on not in bundle.text
            assert "team-qian-secret" not in bundle.text

    def test_a_diff_names_only_the_events_its_reader_may_read(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """rep-sun moved from lead-he to mgr-zhao on 15 November: lead-he still
        reads rep-sun's November diff (they managed rep-sun half of it), but the
        coaching and the case mgr-zhao recorded since are mgr-zhao's to read
        (GET /events: 404 for lead-he), so lead-he's diff does not name them;
        nor does finance's name the coaching (no pay rests on it). The diff
        listed both to both, with who recorded them and when."""
        _move_sun_to_zhao(api, "2026-11-15T09:00:00+08:00")
        start = api.head()
        at = "2026-11-20T10:00:00+08:00"
        case = {"code": "late-report", "severity": "minor", "description": "late"}
        recorded = [
            *(
                demo_event("CoachingRecorded", at=at, rep_id="rep-sun", topic=f"one to one {n}")
                for n in range(3)
            ),
            demo_event("ViolationRecorded", at=at, case_id="C-SUN", rep_id="rep-sun", **case),
        ]
        answer = api.client.post("/events", json=recorded, headers=api.as_("manager"))
        assert answer.status_code == 201, answer.text
        url = f"/reps/rep-sun/statements/2026-11/diff?from={start}&to={api.head()}"

        def named(who: str) -> list[str]:
            response = api.client.get(url, headers=api.as_(who))
            assert response.status_code == 200, response.text
            return [e["type"] for e in response.json()["events_between"]]

        assert named("manager") == [*["CoachingRecorded"] * 3, "ViolationRecorded"]
        asked: list[str] = []
        may_read = auth.may_read_event

        def counted(principal: Any, event_type: str, *args: Any, **kwargs: Any) -> bool:
            asked.append(event_type)
            return may_read(principal, event_type, *args, **kwargs)

        monkeypatch.setattr(auth, "may_read_event", counted)
        assert named("lead") == []
        assert sorted(asked) == ["CoachingRecorded", "ViolationRecorded"], "once a type a day"
        assert named("finance") == ["ViolationRecorded"]

    def test_a_diff_line_names_no_cause_its_reader_may_not_read(self, api: Api) -> None:
        """rep-sun moved from lead-he to mgr-zhao on 15 November and sold on the
        20th: lead-he still reads rep-sun's November diff, whose commission line
        changed because of that sale — mgr-zhao's team's, which GET /events
        refuses lead-he. The line says it changed because of an event lead-he
        may not read, and names it no more than the events list does (its id
        alone, as the statement's line cites it, where the line gained it). It
        named the sale as its cause, with who recorded it and when."""
        _move_sun_to_zhao(api, "2026-11-15T09:00:00+08:00")
        start = api.head()
        sale = demo_event(
            "SaleRecorded",
            at="2026-11-20T10:00:00+08:00",
            sale_id="S-SUN-LATE",
            rep_id="rep-sun",
            amount="7777.00",
            currency="CNY",
        )
        answer = api.client.post("/events", json=sale, headers=api.as_("integration"))
        assert answer.status_code == 201, answer.text
        sale_id = answer.json()["events"][0]["event_id"]
        assert api.client.get(f"/events/{sale_id}", headers=api.as_("lead")).status_code == 404
        url = f"/reps/rep-sun/statements/2026-11/diff?from={start}&to={api.head()}"

        def commission(who: str) -> dict[str, Any]:
            response = api.client.get(url, headers=api.as_(who))
            assert response.status_code == 200, response.text
            return next(c for c in response.json()["changes"] if c["kind"] == "commission")

        theirs = commission("manager")  # today's manager: every event, named
        assert [e["event_id"] for e in theirs["caused_by"]] == [sale_id]
        assert theirs["events_added"][0]["actor"] == "crm-sync"
        line = commission("lead")
        assert line["caused_by"] == [{"withheld": True}]
        assert line["events_added"] == [{"event_id": sale_id}]
        as_text = api.client.get(url, headers=api.as_("lead") | {"Accept-Language": "zh-CN"})
        assert "crm-sync" not in as_text.text

    def test_a_taken_id_is_refused_without_what_takes_it(self, api: Api) -> None:
        """lead-he sets a target for their rep-sun under an id that names rep-chen's
        red-line case (mgr-zhao's team): SPEC §2 refuses it as a conflict — the
        id is taken, which a natural key cannot hide from whoever tries it — but
        says nothing more of it. The refusal said the id names a case."""
        target = demo_event("TargetSet", target_id="CASE-201", rep_id="rep-sun", period="2027-01")
        target |= {"kpi": "sales_amount", "value": "1000.00", "reason": "next year"}
        answer = api.client.post("/events", json=target, headers=api.as_("lead"))
        assert answer.status_code == 409, answer.text
        assert answer.json()["errors"][0]["field"] == "target_id"
        for theirs in ("case", "rep-chen", "red_line", "false-expense", "3200"):
            assert theirs not in answer.text.replace("CASE-201", ""), theirs

    def test_an_id_another_team_took_is_refused_with_a_way_forward(self, api: Api) -> None:
        """lead-he sets a target for their rep-sun under T-LI-Q3, the id of
        mgr-zhao's target for rep-li, which lead-he may not read (GET /events:
        404): SPEC §2's conflict says the id is taken and nothing of the fact
        it names, and — since lead-he cannot correct mgr-zhao's target — that
        another fact needs an id of its own. mgr-zhao, re-sending their target
        changed, is told a fact is corrected by a later event. Both were told
        to "correct it with a later event"."""
        target = demo_event("TargetSet", target_id="T-LI-Q3", rep_id="rep-sun", period="2027-01")
        target |= {"kpi": "sales_amount", "value": "1000.00", "reason": "next year"}
        answer = api.client.post("/events", json=target, headers=api.as_("lead"))
        assert answer.status_code == 409, answer.text
        (error,) = answer.json()["errors"]
        assert error["field"] == "target_id"
        assert "an id of its own" in error["reason"]
        assert "correct it" not in error["reason"]
        stored = stored_record(api.ledger, "TargetSet", target_id="T-LI-Q3")
        seen = api.client.get(f"/events/{stored.event_id}", headers=api.as_("lead"))
        assert seen.status_code == 404
        for theirs in ("rep-li", stored.actor, stored.data["value"], "2026-Q3"):
            assert theirs not in answer.text, theirs
        changed = target | {"rep_id": "rep-li", "period": "2026-Q3"}
        again = api.client.post("/events", json=changed, headers=api.as_("manager"))
        assert again.status_code == 409, again.text
        assert "corrected by a later event" in again.json()["errors"][0]["reason"]

    def test_a_manager_records_nothing_for_themselves(self, api: Api) -> None:
        """Reading their own pay is not managing it: a score or a target for
        themselves is still refused."""
        score = demo_event(
            "KpiScored", rep_id="lead-he", period="2026-08", kpi="market_feedback", score="1.0"
        )
        assert api.client.post("/events", json=score, headers=api.as_("lead")).status_code == 403

    def test_a_manager_records_for_their_team_only(self, api: Api) -> None:
        score = demo_event(
            "KpiScored", rep_id="rep-li", period="2026-Q4", kpi="market_feedback", score="0.8"
        )
        assert (
            api.client.post("/events", json=score, headers=api.as_("other_manager")).status_code
            == 403
        )
        assert api.client.post("/events", json=score, headers=api.as_("manager")).status_code == 201


# Requests whose parameters are wrong, one per route that takes parameters.
_BAD_PARAMETERS = [
    ("GET", "/reps/rep-li/statements/2026-Q3?view=bogus", None),
    ("GET", "/reps/rep-li/statements/2026-Q3?limit=0", None),
    ("GET", "/reps/rep-li/statements/2026-Q3?offset=-1", None),
    ("GET", "/reps/rep-li/statements/2026-Q3/diff?from=x&to=y", None),
    ("GET", "/payouts/runs?period=2026-Q3&limit=-5", None),
    ("POST", "/approvals", {"decision": "maybe"}),
    ("POST", "/reps/rep-li/estimate", {"amount": "lots"}),
]


@pytest.mark.parametrize(("method", "path", "body"), _BAD_PARAMETERS)
@pytest.mark.parametrize("token", ["none", "forged"])
def test_without_a_valid_token_the_parameters_are_not_checked(
    api: Api, method: str, path: str, body: Any, token: str
) -> None:
    """A caller without a valid token is told that (401), never what is wrong with
    the route's parameters (422 would describe them to anyone)."""
    headers = {} if token == "none" else api.as_(token)
    response = api.client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    # and with a valid token the same request is refused for its parameters
    response = api.client.request(method, path, json=body, headers=api.as_("finance"))
    assert response.status_code == 422, response.text


# A role-restricted route, a body it would refuse, and a role it refuses.
_REFUSED_ROLE_BAD_BODY = [
    ("/whatif", {}, "rep"),
    ("/whatif", {"plan": 5, "periods": "x"}, "manager"),
    ("/reps/rep-li/estimate", {"amount": "lots"}, "compliance"),
    ("/approvals", {"decision": "maybe"}, "rep"),
    ("/disputes", {"message": 5}, "manager"),
    ("/disputes/DSP-1/resolution", {"outcome": "maybe"}, "rep"),
]


@pytest.mark.parametrize(("path", "body", "role"), _REFUSED_ROLE_BAD_BODY)
def test_a_role_the_route_refuses_gets_403_whatever_it_sends(
    api: Api, path: str, body: Any, role: str
) -> None:
    """SPEC §5: a role not allowed is 403 — checked before the route's body
    and parameters are (a rep's ``POST /whatif`` with ``{}`` was 422, naming
    the fields a what-if takes); an allowed role gets the 422."""
    before = api.head()
    response = api.client.post(path, json=body, headers=api.as_(role))
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"
    allowed = "rep" if path == "/disputes" else "finance"
    response = api.client.post(path, json=body, headers=api.as_(allowed))
    assert response.status_code == 422, response.text
    assert api.head() == before


def test_a_decision_on_a_subject_being_saved_is_refused(api: Api) -> None:
    """Compliance's approval of finance's adjustment, sent while the adjustment
    was being saved by another request, passed the role check (its subject was
    not stored yet, so its kind was not known) and was committed right after it:
    a 9,000 adjustment approved by compliance. A decision's subject must be
    stored when the decision is checked; the other request is made to commit
    between the check and this one's commit, as it did in the race."""
    committer = api.client.app.state.committer  # type: ignore[attr-defined]
    submit = committer.submit_inputs

    def save_adjustment() -> None:  # the other request (skipped when stored already)
        line = demo_adjustment("ADJ-RACE", "9000.00", "race", actor="fin-amy")
        api.ledger.import_lines([json.dumps(line)], actor="fin-amy")

    def adjustment_saved_meanwhile(inputs: list[Any]) -> Any:
        if any(i.type == "ApprovalGranted" for i in inputs):
            save_adjustment()
        return submit(inputs)

    committer.submit_inputs = adjustment_saved_meanwhile
    try:
        answer = api.client.post(
            "/events",
            json=demo_event("ApprovalGranted", subject_id="ADJ-RACE"),
            headers=api.as_("compliance"),
        )
    finally:
        committer.submit_inputs = submit
    assert answer.status_code == 422, answer.text
    assert [(e["index"], e["field"]) for e in answer.json()["errors"]] == [(0, "subject_id")]
    save_adjustment()
    assert not [
        r
        for r in api.ledger.iter_log()
        if r.type == "ApprovalGranted" and r.data["subject_id"] == "ADJ-RACE"
    ]
    later = api.client.post(  # once stored, refused alike: no pay is compliance's to read
        "/events",
        json=demo_event("ApprovalGranted", subject_id="ADJ-RACE"),
        headers=api.as_("compliance"),
    )
    assert later.status_code == 422
    assert later.json()["errors"] == answer.json()["errors"]


def _sun_moved_to_zhao(api: Api) -> dict[str, str]:
    """rep-sun, whose sales pay lead-he overrides, moved to mgr-zhao on 1
    November; the headers of a rep token of lead-he's."""
    _move_sun_to_zhao(api, "2026-11-01T09:00:00+08:00")
    tokens = api.client.app.state.tokens  # type: ignore[attr-defined]
    token = tokens.create(actor="lead-he", role="rep", rep_id="lead-he")[0]
    return {"Authorization": f"Bearer {token}"}


def _move_sun_to_zhao(api: Api, at: str) -> None:
    """rep-sun, whose sales pay lead-he overrides, moves to mgr-zhao at ``at``."""
    moved = demo_event("RepTransferred", at=at, rep_id="rep-sun", manager_id="mgr-zhao")
    assert api.client.post("/events", json=moved, headers=api.as_("admin")).status_code == 201
