"""SPEC §4 and §5 over HTTP, on both stores: a paid statement's ``later_events``
name to each reader only the events GET /events would show them — a manager
a rep left still reads the periods they managed, but not what was recorded
since on another manager's watch: it is withheld, as a diff's cause is. The
body differs by reader, and so does its ETag."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from api import auth
from ledger.application import Ledger
from projections.service import Reports
from tests.api.test_dated_transfers_http import Served, serving
from tests.builders import enrol, jsonl, line, pay_period, sale, seeded, stored_record

Q3 = "/reps/r1/statements/2026-Q3"


@pytest.fixture
def moved(db_url: str, make_ledger: Callable[..., Ledger]) -> Iterator[Served]:
    """r1, lead-he's, sold S1 in July; Q3 is paid. Then r1 moved to mgr-zhao
    at the first moment of 1 October (no hour of Q4 on lead-he's watch), S1
    was cancelled on the 10th (inside the window: mgr-zhao's watch, recorded
    by crm-late), and a sale of 20 September (lead-he's watch) was recorded
    late, by crm-sync: both change what Q3 would pay."""
    with serving(_moved(make_ledger(), cancelled=True), db_url) as served:
        yield served


def _moved(ledger: Ledger, *, cancelled: bool) -> Ledger:
    """`moved`'s ledger; ``cancelled``: with S1's cancellation."""
    seeded(ledger, "lead-he", "mgr-zhao")
    ledger.import_lines(
        jsonl(enrol("r1", team="north", manager_id="lead-he"), sale("S1", "r1", "10000.00")),
        actor="hr-sync",
    )
    reports = Reports(ledger)
    reports.catch_up()
    pay_period(reports, "2026-Q3")
    october = "2026-10-01T00:00:00+08:00"  # at midnight: Q4 is none of lead-he's
    transfer = line("RepTransferred", at=october, rep_id="r1", manager_id="mgr-zhao")
    late = sale("S2", "r1", "4000.00", at="2026-09-20T10:00:00+08:00")
    cancel = line(
        "SaleCancelled",
        at="2026-10-10T10:00:00+08:00",
        actor="crm-late",
        sale_id="S1",
        reason="returned",
    )
    for event in (transfer, late, cancel) if cancelled else (transfer, late):
        ledger.import_lines(jsonl(event), actor=event["actor"])
    return ledger


def _later(served: Served, who: str, url: str = Q3) -> list[dict[str, Any]]:
    answer = served.get(url, who)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "paid"
    return list(answer.json()["later_events"])


def test_a_former_manager_is_not_named_a_later_event_of_another_managers_watch(
    moved: Served,
) -> None:
    """lead-he still reads r1's Q3 (they managed it), and is named the late
    sale of their watch, but not the cancellation recorded on mgr-zhao's
    (GET /events: 404): not its id, type, actor or time — one withheld mark
    says there is more. mgr-zhao and finance are named both. Every reader
    was named both."""
    app: Any = moved.client.app
    ledger: Ledger = app.state.ledger
    cancelled = stored_record(ledger, "SaleCancelled", sale_id="S1").event_id
    late = stored_record(ledger, "SaleRecorded", sale_id="S2").event_id
    assert moved.get(f"/events/{cancelled}", "he").status_code == 404
    assert moved.get(f"/events/{late}", "he").status_code == 200
    for who in ("zhao", "fin"):
        named = {(e["event_id"], e["actor"]) for e in _later(moved, who)}
        assert named == {(late, "crm-sync"), (cancelled, "crm-late")}, who
    theirs = _later(moved, "he")
    assert [e.get("event_id") for e in theirs] == [late, None]
    assert theirs[-1] == {"withheld": True}
    for url in (Q3, f"{Q3}?view=summary", f"{Q3}?offset=0&limit=5"):
        body = moved.get(url, "he").text
        assert "crm-late" not in body, url
        assert cancelled not in body, url
    assert "crm-late" in moved.page("/app/reps/r1/statements/2026-Q3", "zhao").text
    page = moved.page("/app/reps/r1/statements/2026-Q3", "he")
    assert page.status_code == 200, page.text
    assert "crm-late" not in page.text
    assert "crm-sync" in page.text


def test_the_etag_is_the_readers_body(moved: Served) -> None:
    """Each reader's bytes have their own tag (a strong tag of the body
    served): lead-he holding finance's copy is sent their own, not a 304;
    holding their own, a 304."""
    finance = moved.get(Q3, "fin")
    theirs = moved.get(Q3, "he")
    assert finance.headers["ETag"] != theirs.headers["ETag"]
    for held, status in ((finance, 200), (theirs, 304)):
        headers = {
            "Authorization": f"Bearer {moved.tokens['he']}",
            "If-None-Match": held.headers["ETag"],
        }
        again = moved.client.get(Q3, headers=headers)
        assert again.status_code == status
    assert moved.get(Q3, "he").content == theirs.content, "reproducible"


def test_a_former_manager_is_not_told_where_the_correction_went_nor_paid_and_now(
    moved: Served,
) -> None:
    """The correction of r1's Q3 went to Q4, mgr-zhao's period (lead-he gets
    404 on it): lead-he's Q3 names no period it went to — neither its
    ``correction_to`` nor its late sale's ``correction_in`` —, and their page
    shows no "paid and now" (its "now" rests on the withheld cancellation:
    commission 500.00 paid, 200.00 now), no 2026-Q4 and no link to it; it
    still lists the later events they may read and says there are others.
    mgr-zhao and finance are told it all. Every reader was told Q4 and
    shown paid and now."""
    assert moved.get("/reps/r1/statements/2026-Q4", "he").status_code == 404
    for who in ("zhao", "fin"):
        body = moved.get(Q3, who).json()
        assert body["correction_to"] == "2026-Q4", who
        assert {e["correction_in"] for e in body["later_events"]} == {"2026-Q4"}, who
    for url in (Q3, f"{Q3}?view=summary", f"{Q3}?offset=0&limit=5", f"{Q3}?as_of=11"):
        answer = moved.get(url, "he")
        assert answer.status_code == 200, (url, answer.text)
        assert answer.json()["correction_to"] is None, url
        assert "2026-Q4" not in answer.text, url
    page = moved.page("/app/reps/r1/statements/2026-Q3", "he").text
    assert "2026-Q4" not in page
    assert "200.00" not in page
    assert "crm-sync" in page
    assert "status-corrected" in page
    theirs = moved.page("/app/reps/r1/statements/2026-Q3", "zhao").text
    assert "2026-Q4" in theirs
    assert "200.00" in theirs


def test_a_former_manager_is_offered_no_link_to_the_reps_periods(moved: Served) -> None:
    """lead-he reads r1's Q3, not r1's periods (My pay: 404): their statement
    page offers no link there; mgr-zhao's does. It linked every reader to it."""
    pay = "/app/reps/r1/pay"
    assert moved.page(pay, "he").status_code == 404
    assert moved.page(pay, "zhao").status_code == 200
    assert f'href="{pay}"' not in moved.page("/app/reps/r1/statements/2026-Q3", "he").text
    assert f'href="{pay}"' in moved.page("/app/reps/r1/statements/2026-Q3", "zhao").text


def test_a_former_manager_of_every_later_event_sees_paid_and_now_but_not_where(
    db_url: str, make_ledger: Callable[..., Ledger]
) -> None:
    """Without the cancellation, Q3's one later event is lead-he's late sale:
    their page shows paid and now (500.00 paid, 700.00 now: it rests on that
    sale alone), still without the period its correction went to (2026-Q4,
    mgr-zhao's) or a link to it."""
    with serving(_moved(make_ledger(), cancelled=False), db_url) as served:
        answer = served.get(Q3, "he").json()
        assert answer["correction_to"] is None
        assert [e.get("correction_in") for e in answer["later_events"]] == [None]
        page = served.page("/app/reps/r1/statements/2026-Q3", "he").text
        assert "700.00" in page
        assert "2026-Q4" not in page
        assert "2026-Q4" in served.page("/app/reps/r1/statements/2026-Q3", "zhao").text


def test_each_period_a_correction_went_to_is_judged_once_for_a_reader(
    moved: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether lead-he reads 2026-Q4 (where Q3's correction, and the late sale
    named to them, went) is asked once a request — each ask reads the
    directory — not once for ``correction_to`` and again for each later
    event's ``correction_in``."""
    asked: list[str | None] = []
    judge = auth.check_rep_scope

    def counted(*args: Any, **options: Any) -> None:
        asked.append(options.get("period"))
        judge(*args, **options)

    monkeypatch.setattr(auth, "check_rep_scope", counted)
    answer = moved.get(Q3, "he").json()
    assert answer["correction_to"] is None
    assert asked.count("2026-Q4") == 1


def test_an_open_statement_is_served_after_one_look_through_it(ledger: Ledger) -> None:
    """An open statement names neither later events nor where a correction
    went: its bytes, served as stored, are looked through once — for
    ``later_events``, in every view of a paid statement — not once more for
    ``correction_to``, in none but a paid one's (a statement of many sales is
    megabytes, served on the event loop)."""
    seeded(ledger, "r1")
    ledger.import_lines(jsonl(sale("S1", "r1", "10000.00")), actor="crm-sync")
    reports = Reports(ledger)
    reports.catch_up()
    looked: list[bytes] = []

    class Looked(bytes):
        def __contains__(self, part: Any) -> bool:
            looked.append(bytes(part))
            return super().__contains__(part)

    body = Looked(orjson.dumps(reports.statement("r1", "2026-Q3")))
    assert reports.later_events_withheld(body, lambda: pytest.fail("no reader asked")) is body
    assert looked == [b'"later_events"']
