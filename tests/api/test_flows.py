"""Writes over HTTP: events, idempotency, disputes end to end, and the logs."""

from __future__ import annotations

import json
import re
from typing import Any

from structlog.testing import capture_logs

from api.routes.events import _record_doc, record_out
from api.schemas import RecordOut
from ledger.application import Outcome, RecordResult
from tests.api.conftest import Api, demo_adjustment, demo_sale


def _json(api: Api, who: str) -> dict[str, str]:
    """A role's headers for a body given as bytes (the API takes application/json only)."""
    return {**api.as_(who), "Content-Type": "application/json"}


class TestPostEvents:
    def test_a_list_is_atomic_and_names_the_bad_item(self, api: Api) -> None:
        before = api.head()
        response = api.client.post(
            "/events",
            json=[demo_sale("S-A"), demo_sale("S-B", amount=12.5)],
            headers=api.as_("integration"),
        )
        assert response.status_code == 422
        body = response.json()
        assert body["errors"] == [
            {
                "index": 1,
                "field": "amount",
                "reason": body["errors"][0]["reason"],
                "kind": "invalid",
            }
        ]
        assert "not a JSON number" in body["errors"][0]["reason"]
        # the detail names the same place as the errors: item 1, never "line 2"
        assert body["detail"].startswith("1 bad item; nothing was stored. First: item 1")
        assert "line" not in body["detail"]
        assert api.head() == before

    def test_retrying_the_same_body_is_safe(self, api: Api) -> None:
        first = api.client.post(
            "/events", json=[demo_sale("S-A"), demo_sale("S-B")], headers=api.as_("integration")
        )
        assert first.status_code == 201
        assert first.json()["stored"] == 2
        head = api.head()
        again = api.client.post(
            "/events", json=[demo_sale("S-A"), demo_sale("S-B")], headers=api.as_("integration")
        )
        assert again.status_code == 201
        assert (again.json()["stored"], again.json()["skipped"]) == (0, 2)
        assert api.head() == head

    def test_a_store_busy_past_the_wait_is_503_and_a_retry_stores(self, api: Api) -> None:
        """Another writer holds the store past the wait for the writer connection
        (shortened here from its 5 s): 503 with Retry-After, nothing stored; the
        retry, once it is free, stores the sale."""
        pool = api.ledger.factory.datastore.pool  # type: ignore[attr-defined]
        pool.pool_timeout = 0.2
        before = api.head()
        with api.ledger.chain.append_session():
            busy = api.client.post(
                "/events", json=demo_sale("S-BUSY"), headers=api.as_("integration")
            )
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "1"
        assert busy.json()["error"] == "unavailable"
        assert api.head() == before
        retry = api.client.post("/events", json=demo_sale("S-BUSY"), headers=api.as_("integration"))
        assert retry.status_code == 201
        assert retry.json()["stored"] == 1

    def test_the_answer_is_a_record_out_and_a_json_number_is_refused(self, api: Api) -> None:
        """The answer, serialised without the model, validates as RecordOut and
        equals `record_out`; money as a JSON number is refused like on import."""
        body = json.dumps(demo_sale("S-F")).replace('"1000.00"', "1000.10")
        refused = api.client.post(
            "/events",
            content=body.encode(),
            headers={**api.as_("integration"), "Content-Type": "application/json"},
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "amount"
        response = api.client.post("/events", json=demo_sale("S-F"), headers=api.as_("integration"))
        assert response.status_code == 201
        answer = RecordOut.model_validate(response.json())
        event = api.ledger.event(str(answer.events[0].event_id))
        assert event.data["amount"] == "1000.00"
        assert answer.events[0].position == event.position
        result = RecordResult(
            [Outcome(1, "SaleRecorded", "stored", event.event_id, event.position)], 1, 0
        )
        assert _record_doc(result) == record_out(result).model_dump()

    def test_a_conflicting_duplicate_is_409(self, api: Api) -> None:
        api.client.post("/events", json=demo_sale("S-A"), headers=api.as_("integration"))
        response = api.client.post(
            "/events", json=demo_sale("S-A", amount="2000.00"), headers=api.as_("integration")
        )
        assert response.status_code == 409
        assert response.json()["error"] == "conflict"

    def test_one_id_twice_in_a_list_names_both_items(self, api: Api) -> None:
        """Two items of one list under one sale id, with other amounts, were
        refused as "already stored with other content": nothing was. Now the
        answer says the id is given twice in the request, naming both items
        (0-based, as the list's indexes) and the field."""
        body = [demo_sale("S-B"), demo_sale("S-T"), demo_sale("S-T", amount="2000.00")]
        response = api.client.post("/events", json=body, headers=api.as_("integration"))
        assert response.status_code == 409, response.text
        answer = response.json()
        [error] = answer["errors"]
        assert (error["index"], error["field"], error["kind"]) == (2, "sale_id", "conflict")
        assert error["reason"].startswith(
            "sale S-T is given twice in this request, at item 1 and item 2, with other content"
        )
        assert answer["detail"].endswith(f"First: item 2, field sale_id: {error['reason']}")
        assert "already stored" not in response.text

    def test_the_actor_is_the_tokens(self, api: Api) -> None:
        response = api.client.post(
            "/events", json=demo_sale("S-A", actor="someone-else"), headers=api.as_("integration")
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "actor"
        ok = api.client.post("/events", json=demo_sale("S-C"), headers=api.as_("integration"))
        event_id = ok.json()["events"][0]["event_id"]
        assert api.ledger.event(event_id).actor == "crm-sync"

    def test_malformed_json_and_unknown_type(self, api: Api) -> None:
        bad = api.client.post(
            "/events",
            content=b"{nope",
            headers={**api.as_("integration"), "Content-Type": "application/json"},
        )
        assert bad.status_code == 422
        unknown = api.client.post(
            "/events",
            json={"type": "SaleBooked", "occurred_at": "2026-11-02T10:00:00+08:00"},
            headers=api.as_("integration"),
        )
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "type"

    def test_self_approval_is_409(self, api: Api) -> None:
        adj = demo_adjustment("ADJ-X", "50.00", "r")
        assert api.client.post("/events", json=adj, headers=api.as_("finance")).status_code == 201
        response = api.client.post(
            "/approvals",
            json={"subject_id": "ADJ-X", "decision": "grant"},
            headers=api.as_("finance"),
        )
        assert response.status_code == 409
        assert "maker-checker" in response.json()["detail"]


class TestDisputeFlow:
    def test_upheld_dispute_becomes_an_approved_adjustment_next_period(self, api: Api) -> None:
        """A rep disputes a paid line; finance upholds; a second finance user approves;
        the next period's statement shows the adjustment with the dispute."""
        run = api.demo.run_id
        raised = api.client.post(
            "/disputes",
            json={"run_id": run, "message": "S-1002 split should be 70/30"},
            headers=api.as_("rep"),
        )
        assert raised.status_code == 201, raised.text
        dsp = raised.json()["dispute_id"]
        listed = api.client.get("/reps/rep-li/disputes", headers=api.as_("rep")).json()
        assert [d["status"] for d in listed if d["dispute_id"] == dsp] == ["open"]

        upheld = api.client.post(
            f"/disputes/{dsp}/resolution",
            json={"outcome": "upheld", "note": "CRM shows 70/30", "amount": "600.00"},
            headers=api.as_("finance"),
        )
        assert upheld.status_code == 201, upheld.text
        pending = api.client.get("/reps/rep-li/statements/2026-Q4", headers=api.as_("rep")).json()
        assert f"ADJ-{dsp}" in [p["subject_id"] for p in pending["pending"]]

        self_approval = api.client.post(
            "/approvals",
            json={"subject_id": f"ADJ-{dsp}", "decision": "grant"},
            headers=api.as_("finance"),
        )
        assert self_approval.status_code == 409
        approved = api.client.post(
            "/approvals",
            json={"subject_id": f"ADJ-{dsp}", "decision": "grant"},
            headers=api.as_("finance2"),
        )
        assert approved.status_code == 201, approved.text

        statement = api.client.get("/reps/rep-li/statements/2026-Q4", headers=api.as_("rep")).json()
        adjustment = next(x for x in statement["lines"] if x["kind"] == "adjustment")
        assert adjustment["amount"] == "600.00"
        step = adjustment["explanation"][0]
        assert step["values"]["dispute_id"] == dsp
        assert step["values"]["approved_by"] == "fin-bob"
        # −7000 correction of Q3 + 600 = −6400
        assert statement["total"] == "-6400.00"
        resolved = api.client.get("/reps/rep-li/disputes", headers=api.as_("rep")).json()
        assert [(d["status"], d["outcome"]) for d in resolved if d["dispute_id"] == dsp] == [
            ("resolved", "upheld")
        ]

    def test_another_reps_dispute_id_gets_no_hint_it_exists(self, api: Api) -> None:
        """SPEC §5, never a hint: naming rep-li's dispute (DSP-401, the demo's) a
        rep of the same run is answered as for an unused id — the dispute gets
        an id of its own, as an unused chosen id does too — never a conflict
        saying the id is taken, nor the chosen id back when it is free."""
        run = api.demo.run_id
        answers = [
            api.client.post(
                "/disputes",
                json={"run_id": run, "message": "my split", "dispute_id": chosen},
                headers=api.as_("other_rep"),
            )
            for chosen in ("DSP-401", "DSP-NEW-1")
        ]
        assert [a.status_code for a in answers] == [201, 201], answers[0].text
        ids = [a.json()["dispute_id"] for a in answers]
        assert all(re.fullmatch(r"DSP-[0-9a-f]{12}", i) for i in ids), ids
        mine = api.client.get("/reps/rep-chen/disputes", headers=api.as_("other_rep")).json()
        assert set(ids) <= {d["dispute_id"] for d in mine}
        theirs = api.client.get("/reps/rep-li/disputes", headers=api.as_("rep")).json()
        assert [d["message"] for d in theirs if d["dispute_id"] == "DSP-401"] != ["my split"]


class TestPayoutsOverHttp:
    def test_idempotency_key_returns_the_same_run(self, api: Api) -> None:
        headers = {**api.as_("finance"), "Idempotency-Key": "q4-payroll-1"}
        first = api.client.post("/payouts/2026-Q4/runs", headers=headers)
        assert first.status_code == 201
        head = api.head()
        second = api.client.post("/payouts/2026-Q4/runs", headers=headers)
        assert second.status_code == 201  # the first answer, replayed (SPEC §5)
        assert second.json() == first.json()
        assert api.head() == head


class TestLogs:
    def test_one_line_per_request_without_tokens_or_names(self, api: Api) -> None:
        with capture_logs() as logs:
            api.client.get(
                "/reps/rep-li/statements/2026-Q3",
                headers={**api.as_("finance"), "X-Request-ID": "req-123"},
            )
        requests = [e for e in logs if e["event"] == "request"]
        assert len(requests) == 1
        entry = requests[0]
        assert (entry["status"], entry["actor"], entry["role"]) == (200, "fin-amy", "finance")
        assert entry["route"] == "/reps/{rep_id}/statements/{period}"
        assert "duration_ms" in entry
        audit = [e for e in logs if e["event"] == "audit.read"]
        assert audit
        assert audit[0]["rep_id"] == "rep-li"
        text = json.dumps(logs)
        assert api.tokens["finance"] not in text
        assert "Li Wei" not in text

    def test_the_redaction_processor(self) -> None:
        from api.logging import redact

        entry = redact(
            None,
            "info",
            {
                "event": "x",
                "authorization": "Bearer abc",
                "name": "Li Wei",
                "note": "Bearer il1.aaa.bbb",
            },
        )
        assert entry["authorization"] == "[redacted]"
        assert entry["name"] == "[redacted]"
        assert "il1.aaa.bbb" not in entry["note"]


class TestLargeBodies:
    """Bodies from `LARGE_BODY_BYTES` on are parsed by a worker process; the
    answer must be the one parsing here gives."""

    @staticmethod
    def _batch(n: int, **bad: dict[str, Any]) -> list[dict[str, Any]]:
        rows = [demo_sale(f"L-{i}", category="software") for i in range(n)]
        for index, fields in bad.items():
            rows[int(index.removeprefix("i"))] |= fields
        return rows

    def test_a_large_batch_is_stored_as_parsed_in_a_worker(self, api: Api) -> None:
        from api.body_parser import LARGE_BODY_BYTES

        body = json.dumps(self._batch(400)).encode()
        assert len(body) >= LARGE_BODY_BYTES
        response = api.client.post("/events", content=body, headers=_json(api, "integration"))
        assert response.status_code == 201, response.text
        assert api.client.app.state.body_parser._pool is not None  # type: ignore[attr-defined]
        answer = response.json()
        assert answer["stored"] == 400
        assert [e["index"] for e in answer["events"]] == list(range(400))
        positions = [e["position"] for e in answer["events"]]
        assert positions == sorted(positions)
        stored = {r.data["sale_id"]: r for r in api.ledger.iter_log() if r.type == "SaleRecorded"}
        assert stored["L-7"].actor == "crm-sync"
        assert stored["L-7"].data["amount"] == "1000.00"
        assert stored["L-7"].occurred_at.isoformat() == "2026-11-02T10:00:00+08:00"

    def test_bad_lines_are_named_as_when_parsed_here(self, api: Api) -> None:
        parser = api.client.app.state.body_parser  # type: ignore[attr-defined]
        rows = self._batch(
            400,
            i3={"amount": 12.5},
            i150={"actor": "someone-else"},
            i399={"rep_id": "not ok!"},
        )
        body = json.dumps(rows).encode()
        before = api.head()
        there = api.client.post("/events", content=body, headers=_json(api, "integration"))
        parser.large_body_bytes = 10**9  # parse here
        here = api.client.post("/events", content=body, headers=_json(api, "integration"))
        assert there.status_code == here.status_code == 422
        assert there.json() == here.json()
        assert [e["index"] for e in there.json()["errors"]] == [3, 150, 399]
        assert api.head() == before

    def test_a_dead_worker_leaves_bodies_parsed_here(self, api: Api) -> None:
        """Should the worker die (killed, out of memory), requests are still
        answered: the body is parsed in the API process, from then on too."""
        parser = api.client.app.state.body_parser  # type: ignore[attr-defined]
        first = self._batch(400)
        response = api.client.post("/events", json=first, headers=api.as_("integration"))
        assert response.status_code == 201, response.text
        for process in list(parser._pool._processes.values()):
            process.kill()
            process.join()
        second = [row | {"sale_id": f"D-{i}"} for i, row in enumerate(first)]
        response = api.client.post("/events", json=second, headers=api.as_("integration"))
        assert response.status_code == 201, response.text
        assert response.json()["stored"] == 400
        assert parser._failed
        assert parser._pool is None
