"""The work-queue lists over HTTP (SPEC §5): each list scoped by role exactly as
the single reads are — a rep sees only themselves, a manager only their team,
finance and compliance everyone — paged with a bounded limit and sorted stably.

The demo's team east (rep-li, rep-chen, rep-wang; manager mgr-zhao) gets a
second team here: rep-zhou of team west, managed by mgr-qian, with a pending
adjustment, a pending red-line case and a pending target of their own, so
every list has an item of another team that must never leak. The demo's
inside team (lead-he, rep-sun, rep-xu; the second plan's) is there too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import Api

EAST = {"rep-li", "rep-chen", "rep-wang"}
WEST = {"rep-zhou"}
# the demo's second plan's team (paid by month): in every rep list, no quarter's
INSIDE = {"lead-he", "rep-sun", "rep-xu"}
EVERYONE = EAST | WEST | INSIDE

# token -> the reps whose items it may see in any list
SCOPE = {
    "rep": {"rep-li"},
    "other_rep": {"rep-chen"},
    "manager": EAST,
    "other_manager": WEST,
    "finance": EVERYONE,
    "compliance": EVERYONE,
}

LISTS = [
    "/reps",
    "/periods/2026-Q3/summary",
    "/periods/2026-Q4/summary",
    "/approvals/pending",
    "/disputes",
    "/cases",
]
# The lists each token may call (the others answer 403, see test_roles).
_SCOPED = {"rep", "other_rep", "manager", "other_manager"}
ALLOWED = {
    "/disputes": {*_SCOPED, "finance"},
    # SPEC §5: a summary is pay (finance's), cases are histories (compliance's)
    "/periods/2026-Q3/summary": {*_SCOPED, "finance"},
    "/periods/2026-Q4/summary": {*_SCOPED, "finance"},
    "/cases": {*_SCOPED, "compliance"},
}


def _line(type_: str, at: str, actor: str, **fields: Any) -> str:
    return json.dumps({"type": type_, "occurred_at": f"{at}+08:00", "actor": actor, **fields})


def _west(api: Api) -> None:
    """Team west: rep-zhou under mgr-qian, with a subject of each kind pending."""
    api.ledger.import_lines(
        [
            _line(
                "RepEnrolled",
                "2026-10-01T09:00:00",
                "it-admin",
                rep_id="rep-zhou",
                name="Zhou Min",
                plan_id="field-sales",
                team="west",
                manager_id="mgr-qian",
            ),
            _line(
                "TargetSet",
                "2026-10-15T09:00:00",
                "mgr-qian",
                target_id="T-ZHOU-Q4",
                rep_id="rep-zhou",
                period="2026-Q4",
                kpi="sales_amount",
                value="90000",
                reason="joined mid-quarter",
            ),
            _line(
                "AdjustmentRequested",
                "2026-11-02T10:00:00",
                "fin-carl",
                adjustment_id="ADJ-ZHOU",
                rep_id="rep-zhou",
                period="2026-Q4",
                amount="777.00",
                reason="relocation",
            ),
            _line(
                "ViolationRecorded",
                "2026-11-03T10:00:00",
                "cmp-sun",
                case_id="CASE-ZHOU",
                rep_id="rep-zhou",
                code="trade-secret-leak",
                severity="red_line",
                description="price list sent to a competitor",
                amount="4321.00",
            ),
        ],
        actor="it-admin",
    )


def _reps_in(body: dict[str, Any]) -> set[str]:
    return {item["rep_id"] for item in body["items"] if item.get("rep_id") is not None}


def _all_items(api: Api, path: str, who: str) -> list[dict[str, Any]]:
    """Every item of a list, page by page (limit 2, to cross page borders)."""
    items: list[dict[str, Any]] = []
    joiner = "&" if "?" in path else "?"
    offset = 0
    while True:
        response = api.client.get(f"{path}{joiner}offset={offset}&limit=2", headers=api.as_(who))
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        offset += 2
        if offset >= body["total"]:
            return items


class TestScope:
    @pytest.mark.parametrize("path", LISTS)
    @pytest.mark.parametrize("who", sorted(SCOPE))
    def test_a_scoped_list_never_leaks_an_item(self, api: Api, path: str, who: str) -> None:
        """Each role x each list: only the reps in the caller's scope appear, and
        nothing of another rep or team is anywhere in the answer."""
        _west(api)
        if who not in ALLOWED.get(path, set(SCOPE)):
            assert api.client.get(path, headers=api.as_(who)).status_code == 403
            return
        response = api.client.get(path, headers=api.as_(who))
        assert response.status_code == 200, response.text
        assert _reps_in(response.json()) <= SCOPE[who]
        for hidden in EVERYONE - SCOPE[who]:
            assert hidden not in response.text, (who, path, hidden)

    def test_reps_lists_exactly_the_callers_scope(self, api: Api) -> None:
        _west(api)
        for who, scope in SCOPE.items():
            body = api.client.get("/reps", headers=api.as_(who)).json()
            assert _reps_in(body) == scope, who
            assert body["total"] == len(scope)

    def test_team_filter(self, api: Api) -> None:
        _west(api)
        body = api.client.get("/reps?team=west", headers=api.as_("finance")).json()
        assert _reps_in(body) == WEST
        body = api.client.get("/reps?team=west", headers=api.as_("manager")).json()
        assert body["items"] == []

    def test_summary_subtotals_count_only_the_visible_reps(self, api: Api) -> None:
        """A manager's team subtotal is their team's, never the whole company's."""
        _west(api)
        mine = api.client.get("/periods/2026-Q3/summary", headers=api.as_("manager")).json()
        everyone = api.client.get("/periods/2026-Q3/summary", headers=api.as_("finance")).json()
        assert [t["team"] for t in mine["teams"]] == ["east"]
        assert mine["teams"][0]["payable"] == "55350.00"  # Li 33100 + Chen 1800 + Wang 20450
        assert {t["team"] for t in everyone["teams"]} == {"east"}  # Zhou enrolled in Q4
        q4 = api.client.get("/periods/2026-Q4/summary", headers=api.as_("other_manager")).json()
        assert [(t["team"], t["reps"]) for t in q4["teams"]] == [("west", 1)]
        rep = api.client.get("/periods/2026-Q3/summary", headers=api.as_("rep")).json()
        assert [t["payable"] for t in rep["teams"]] == ["33100.00"]

    def test_pending_shows_deciders_what_they_may_take(self, api: Api) -> None:
        """Finance: targets, adjustments, runs not recorded by them; compliance:
        red-line cases; a manager follows their team's; a rep their own."""
        _west(api)
        kinds = {
            who: {(i["kind"], i["subject_id"]) for i in _all_items(api, "/approvals/pending", who)}
            for who in ("finance", "compliance", "other_manager", "manager", "rep")
        }
        assert kinds["finance"] == {
            ("target", "T-WANG-Q3-B"),
            ("target", "T-ZHOU-Q4"),
            ("adjustment", "ADJ-ZHOU"),
        }
        assert kinds["compliance"] == {("case", "CASE-ZHOU")}
        assert kinds["other_manager"] == {
            ("target", "T-ZHOU-Q4"),
            ("adjustment", "ADJ-ZHOU"),
            ("case", "CASE-ZHOU"),
        }
        assert kinds["manager"] == {("target", "T-WANG-Q3-B")}
        assert kinds["rep"] == set()

    def test_pending_items_carry_what_a_decision_needs(self, api: Api) -> None:
        _west(api)
        items = _all_items(api, "/approvals/pending", "finance")
        adjustment = next(i for i in items if i["subject_id"] == "ADJ-ZHOU")
        assert adjustment["recorded_by"] == "fin-carl"
        assert adjustment["amount"] == "777.00"
        assert adjustment["period"] == "2026-Q4"
        assert adjustment["recorded_at"]
        assert "adjustment needs an approval" in adjustment["rule"]
        assert adjustment["may_decide"] is True

    def test_whoever_recorded_a_subject_does_not_see_it_to_decide(self, api: Api) -> None:
        """Maker-checker: fin-carl's adjustment is not in fin-carl's queue."""
        _west(api)
        from api.tokens import TokenStore
        from tests.api.conftest import SECRET

        token = TokenStore(api.ledger, SECRET).create(actor="fin-carl", role="finance")[0]
        items = api.client.get(
            "/approvals/pending", headers={"Authorization": f"Bearer {token}"}
        ).json()["items"]
        assert "ADJ-ZHOU" not in {i["subject_id"] for i in items}
        assert "T-ZHOU-Q4" in {i["subject_id"] for i in items}

    def test_cases_by_severity_and_status(self, api: Api) -> None:
        _west(api)
        red = _all_items(api, "/cases?severity=red_line", "compliance")
        assert {(c["case_id"], c["status"]) for c in red} == {
            ("CASE-201", "in_force"),
            ("CASE-ZHOU", "pending"),
        }
        pending = _all_items(api, "/cases?status=pending", "compliance")
        assert [c["case_id"] for c in pending] == ["CASE-ZHOU"]
        assert pending[0]["amount"] == "4321.00"
        assert pending[0]["recorded_by"] == "cmp-sun"
        minor = _all_items(api, "/cases?severity=minor", "manager")
        assert minor
        assert all(c["severity"] == "minor" and c["rep_id"] == "rep-wang" for c in minor)

    def test_cases_are_oldest_first_by_the_instant(self, api: Api) -> None:
        """01:00+08:00 on the 11th (17:00 UTC on the 10th) is before 20:00 UTC on
        the 10th read as text, and after it in time: time decides."""
        cases = [
            ("CASE-TEXT-LATE", "2026-11-11T01:00:00+08:00"),
            ("CASE-TEXT-EARLY", "2026-11-10T20:00:00+00:00"),
        ]
        api.ledger.import_lines(
            [
                json.dumps(
                    {
                        "type": "ViolationRecorded",
                        "occurred_at": at,
                        "actor": "mgr-zhao",
                        "case_id": case_id,
                        "rep_id": "rep-li",
                        "code": "late-report",
                        "severity": "minor",
                        "description": "report filed late",
                    }
                )
                for case_id, at in cases
            ],
            actor="it-admin",
        )
        listed = [c["case_id"] for c in _all_items(api, "/cases", "compliance")]
        ours = [c for c in listed if c.startswith("CASE-TEXT")]
        assert ours == ["CASE-TEXT-LATE", "CASE-TEXT-EARLY"]

    def test_a_bad_filter_names_the_field(self, api: Api) -> None:
        for path, field in [
            ("/cases?severity=huge", "severity"),
            ("/cases?status=maybe", "status"),
            ("/disputes?status=closed", "status"),
            ("/payouts/runs?status=lost", "status"),
            ("/payouts/runs?period=2026-13", "period"),
            ("/periods/2026-Q5/summary", "period"),
        ]:
            who = "compliance" if path.startswith("/cases") else "finance"  # SPEC §5
            response = api.client.get(path, headers=api.as_(who))
            assert response.status_code == 422, path
            assert response.json()["field"] == field, path


class TestRuns:
    def test_runs_list_and_one_run(self, api: Api) -> None:
        run_id = api.demo.run_id
        body = api.client.get("/payouts/runs?period=2026-Q3", headers=api.as_("finance")).json()
        assert [r["run_id"] for r in body["items"]] == [run_id]
        [row] = body["items"]
        assert (row["status"], row["payable"], row["reps"]) == ("paid", "55350.00", 3)
        assert row["calculated_by"] == "fin-amy"
        assert row["decided_by"] == "fin-bob"
        assert (
            api.client.get("/payouts/runs?status=calculated", headers=api.as_("finance")).json()[
                "items"
            ]
            == []
        )
        one = api.client.get(f"/payouts/runs/{run_id}", headers=api.as_("finance")).json()
        assert {s["rep_id"]: s["payable"] for s in one["statements"]} == {
            "rep-li": "33100.00",
            "rep-chen": "1800.00",
            "rep-wang": "20450.00",
        }
        missing = api.client.get("/payouts/runs/run-none", headers=api.as_("finance"))
        assert missing.status_code == 404

    def test_an_unknown_run_is_one_short_answer(self, api: Api) -> None:
        """A 404 for an unknown run id echoed all of it (5,000 characters),
        and reading or exporting a run said "no payout run x" where paying it
        or disputing it said "unknown payout run 'x'". Now one wording, and
        an id longer than any id cut with an ellipsis."""
        finance = api.as_("finance")
        long = "r" * 5_000
        for path in (f"/payouts/runs/{long}", f"/payouts/runs/{long}/export.csv"):
            answer = api.client.get(path, headers=finance)
            assert answer.status_code == 404
            assert answer.json()["detail"] == (
                f"unknown payout run {'r' * 64!r}...(5000 characters)"
            )
            assert len(answer.text) < 300
        said = {api.client.get("/payouts/runs/run-nope", headers=finance).json()["detail"]}
        paid = api.client.post("/payouts/runs/run-nope/pay", headers=finance)
        assert paid.status_code == 404  # the path's run, not found (`test_unknown_run_http`)
        said.add(paid.json()["detail"])
        disputed = api.client.post(
            "/disputes",
            headers=api.as_("rep"),
            json={"rep_id": "rep-li", "run_id": "run-nope", "message": "m"},
        ).json()
        said.add(disputed["errors"][0]["reason"])
        assert said == {"unknown payout run 'run-nope'"}

    def test_a_new_run_waits_for_its_approval(self, api: Api) -> None:
        created = api.client.post("/payouts/2026-Q4/runs", headers=api.as_("finance"))
        assert created.status_code == 201, created.text
        run_id = created.json()["run_id"]
        open_runs = api.client.get(
            "/payouts/runs?status=calculated", headers=api.as_("finance2")
        ).json()["items"]
        assert [r["run_id"] for r in open_runs] == [run_id]
        assert "fin-amy" in open_runs[0]["held_by"]
        pending = _all_items(api, "/approvals/pending", "finance2")
        assert ("run", run_id) in {(i["kind"], i["subject_id"]) for i in pending}
        # not in the queue of whoever calculated it
        mine = _all_items(api, "/approvals/pending", "finance")
        assert run_id not in {i["subject_id"] for i in mine}
        summary = api.client.get("/periods/2026-Q4/summary", headers=api.as_("finance")).json()
        assert {i["status"] for i in summary["items"]} == {"calculated"}
        assert {i["run_id"] for i in summary["items"]} == {run_id}


class TestPaging:
    def test_pages_are_disjoint_and_cover_the_list_in_order(self, api: Api) -> None:
        _west(api)
        whole = api.client.get("/reps?limit=500", headers=api.as_("finance")).json()
        paged = _all_items(api, "/reps", "finance")
        assert paged == whole["items"]
        assert [r["rep_id"] for r in paged] == sorted(EVERYONE)

    @pytest.mark.parametrize(
        "query", ["limit=0", "limit=501", "offset=-1", "limit=x", "offset=9007199254740992"]
    )
    def test_a_limit_out_of_bounds_is_refused(self, api: Api, query: str) -> None:
        response = api.client.get(f"/reps?{query}", headers=api.as_("finance"))
        assert response.status_code == 422
        assert set(response.json()) >= {"error", "detail"}

    def test_the_largest_offset_is_an_empty_page(self, api: Api) -> None:
        response = api.client.get("/reps?offset=9007199254740991", headers=api.as_("finance"))
        assert response.status_code == 200
        assert response.json()["items"] == []


class TestRepArrays:
    """A rep's disputes and disciplinary history stay arrays, paged by ``offset``
    and ``limit`` (whole by default), with the count in ``X-Total-Count``."""

    @pytest.mark.parametrize(
        ("path", "who"),
        [("/reps/rep-li/disputes", "rep"), ("/reps/rep-chen/history", "compliance")],
    )
    def test_pages_cover_the_array_in_order(self, api: Api, path: str, who: str) -> None:
        headers = api.as_(who)
        whole = api.client.get(path, headers=headers)
        assert whole.status_code == 200
        items = whole.json()
        assert isinstance(items, list)
        assert items, "the demo gives this list entries"
        assert whole.headers["X-Total-Count"] == str(len(items))
        pages = [
            api.client.get(f"{path}?offset={i}&limit=1", headers=headers) for i in range(len(items))
        ]
        assert [p.json() for p in pages] == [[item] for item in items]
        assert {p.headers["X-Total-Count"] for p in pages} == {str(len(items))}
        past = api.client.get(f"{path}?offset={len(items)}", headers=headers)
        assert (past.status_code, past.json()) == (200, [])

    @pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "offset=2e64"])
    @pytest.mark.parametrize(
        ("path", "reader"),
        # a role the list is for (finance reads no history: 403 whatever it asks)
        [("/reps/rep-li/disputes", "finance"), ("/reps/rep-li/history", "compliance")],
    )
    def test_a_window_out_of_bounds_is_refused(
        self, api: Api, path: str, reader: str, query: str
    ) -> None:
        response = api.client.get(f"{path}?{query}", headers=api.as_(reader))
        assert response.status_code == 422
        assert set(response.json()) >= {"error", "detail"}


class TestDisputes:
    def test_post_disputes_answers_with_the_dispute_id(self, api: Api) -> None:
        response = api.client.post(
            "/disputes",
            json={"run_id": api.demo.run_id, "message": "my S-1007 is missing"},
            headers=api.as_("rep"),
        )
        assert response.status_code == 201, response.text
        dispute_id = response.json()["dispute_id"]
        assert dispute_id.startswith("DSP-")
        listed = api.client.get("/disputes?status=open", headers=api.as_("finance")).json()
        assert dispute_id in {d["dispute_id"] for d in listed["items"]}
        mine = api.client.get("/disputes", headers=api.as_("rep")).json()["items"]
        assert {d["rep_id"] for d in mine} == {"rep-li"}
        assert api.client.get("/disputes", headers=api.as_("other_rep")).json()["items"] == []

    def test_resolved_upheld_answers_with_the_adjustment(self, api: Api) -> None:
        response = api.client.post(
            "/disputes/DSP-401/resolution",
            json={"outcome": "upheld", "note": "70/30 agreed", "amount": "600.00"},
            headers=api.as_("finance"),
        )
        assert response.status_code == 201, response.text
        assert response.json()["adjustment_id"] == "ADJ-DSP-401"
        resolved = api.client.get("/disputes?status=resolved", headers=api.as_("manager")).json()
        assert [d["outcome"] for d in resolved["items"]] == ["upheld"]
        pending = _all_items(api, "/approvals/pending", "finance2")
        adjustment = next(i for i in pending if i["subject_id"] == "ADJ-DSP-401")
        assert adjustment["amount"] == "600.00"
        assert adjustment["period"] == "2026-Q4"
