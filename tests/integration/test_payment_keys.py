"""SPEC §2: ``payment_id`` is the natural key of ``PaymentReceived`` across
sales (`ledger.payment_keys`), on SQLite and PostgreSQL. A payment lives on
its sale's stream, and the id was checked among that sale's payments alone:
payment P-dup stored on S1 was stored again on S2 when a CRM re-sent it with
a corrected sale id — the money released twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.catalogue import EVENT_ADAPTER, PAYMENT_KEYS
from ledger.errors import BatchRejectedError, ConflictError
from ledger.payment_keys import PaymentKey
from ledger.results import RecordResult
from projections.runner import verify_views
from projections.service import Reports
from tests.builders import jsonl, line, pipelined, sale, seeded, stored_count
from tests.integration.test_audit_chain import Raw
from tests.integration.test_writes import _claims_asked, _staged, appended_before_the_table

PAID_AT = "2026-08-01T10:00:00+08:00"
TAKEN = (
    "payment P-dup is already stored with other content, and an id names one fact: "
    "that fact is corrected by a later event, not re-sent; another fact needs an id of its own"
)
TOLD = TAKEN.replace("other content,", "other content (a payment of sale S1),")


def _payment(sale_id: str, amount: str = "100.00", payment_id: str = "P-dup") -> dict[str, Any]:
    return line(
        "PaymentReceived", at=PAID_AT, payment_id=payment_id, sale_id=sale_id, amount=amount
    )


@pytest.fixture
def sold(ledger: Ledger) -> Ledger:
    """r1 sold S1, S2 and S3; crm-sync recorded payment P-dup of S1."""
    seeded(ledger, "r1")
    ledger.import_lines(jsonl(sale("S1", "r1"), sale("S2", "r1"), sale("S3", "r1")), actor="crm")
    assert ledger.import_lines(jsonl(_payment("S1")), actor="crm").stored == 1
    return ledger


def _payments(ledger: Ledger) -> list[tuple[str, str]]:
    """(payment id, sale id) of every stored payment, in log order."""
    return [
        (e.data["payment_id"], e.data["sale_id"])
        for e in ledger.read_log()
        if e.type == "PaymentReceived"
    ]


def _rejected(
    ledger: Ledger, lines: list[str], *, actor: str = "crm", chunk_size: int | None = None
) -> BatchRejectedError:
    before = stored_count(ledger)
    with pytest.raises(BatchRejectedError) as caught:
        ledger.import_lines(lines, actor=actor, chunk_size=chunk_size)
    assert stored_count(ledger) == before, "a rejected import must store nothing"
    return caught.value


class TestOnePaymentIdAcrossSales:
    """A payment id another sale's payment holds is a conflict, as any key
    stored with other content; naming that sale only to who recorded it."""

    def test_a_payment_id_of_another_sale_is_refused_on_import(self, sold: Ledger) -> None:
        """The whole file is refused, naming the line: its sale is told to
        crm-sync, who recorded P-dup of S1 (the line's own actor)."""
        error = _rejected(sold, jsonl(_payment("S3", payment_id="P-new"), _payment("S2")))
        assert error.status == "conflict"
        assert [(e.line, e.field, e.reason) for e in error.errors] == [(2, "payment_id", TOLD)]
        assert _payments(sold) == [("P-dup", "S1")]

    def test_another_sender_is_not_told_the_other_sale(self, sold: Ledger) -> None:
        """crm-other did not record P-dup: told the id is taken, not whose."""
        other = {**_payment("S2"), "actor": "crm-other"}
        error = _rejected(sold, jsonl(other), actor="crm-other")
        assert [(e.field, e.reason) for e in error.errors] == [("payment_id", TAKEN)]
        assert "S1" not in str(error)

    def test_a_payment_id_of_another_sale_is_refused_by_record(self, sold: Ledger) -> None:
        """POST /events' path (`Ledger.record`): the same conflict."""
        item = EVENT_ADAPTER.validate_python(_payment("S2"))
        with pytest.raises(BatchRejectedError) as caught:
            sold.record([item], actor="crm-sync")
        assert caught.value.status == "conflict"
        assert [(e.field, e.reason) for e in caught.value.errors] == [("payment_id", TOLD)]
        assert _payments(sold) == [("P-dup", "S1")]

    def test_the_same_payment_re_sent_is_skipped(self, sold: Ledger) -> None:
        result = sold.import_lines(jsonl(_payment("S1")), actor="someone-else")
        assert (result.stored, result.skipped) == (0, 1)
        assert _payments(sold) == [("P-dup", "S1")]

    def test_one_payment_id_on_two_sales_in_one_file_is_given_twice(self, ledger: Ledger) -> None:
        """Nothing is stored under P-dup yet: said given twice, both lines named."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1"), sale("S2", "r1")), actor="crm")
        error = _rejected(ledger, jsonl(_payment("S1"), _payment("S2")))
        assert [(e.line, e.field) for e in error.errors] == [(2, "payment_id")]
        assert error.errors[0].describe("line") == (
            "line 2, field payment_id: payment P-dup is given twice in this file, at line 1 "
            "and line 2, with other content: nothing is stored under it yet; send the one "
            "meant (another fact needs an id of its own)"
        )
        assert _payments(ledger) == []

    def test_one_payment_id_on_two_sales_chunks_apart_is_given_twice(self, ledger: Ledger) -> None:
        """A streamed import appends its chunks as it goes: the second use, a
        chunk after the first (appended, not committed), is still given twice."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1"), sale("S2", "r1")), actor="crm")
        lines = jsonl(_payment("S1"), _payment("S1", "1.00", "P-2"), _payment("S2"))
        error = _rejected(ledger, lines, chunk_size=2)
        assert [(e.line, e.field) for e in error.errors] == [(3, "payment_id")]
        assert "given twice in this file, at line 1 and line 3" in error.errors[0].describe()
        assert _payments(ledger) == []

    def test_an_import_s_payments_read_the_claims_in_one_query_if_any(
        self, sold: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A streamed import assumes its payment ids new, as the keys its
        lines create (the store's claim proves it): none is looked up. A chunk
        that collides is checked again looking its ids up together, once."""
        asked = _claims_asked(sold, monkeypatch, PAYMENT_KEYS)
        lines = jsonl(*(_payment("S2", "1.00", f"P-{n}") for n in range(4)))
        assert sold.import_lines(lines, actor="crm").stored == 4
        assert asked == []
        refused = jsonl(
            _payment("S3", "1.00", "P-7"), _payment("S2"), _payment("S3", "1.00", "P-8")
        )
        error = _rejected(sold, refused)
        assert [(e.line, e.field, e.reason) for e in error.errors] == [(2, "payment_id", TOLD)]
        assert asked == [["P-7", "P-dup", "P-8"]]


class TestOnePaymentIdInTheStore:
    """The store itself refuses a payment id another sale's payment holds: a
    check made before the other was committed does not let it in."""

    def test_a_payment_checked_before_the_other_committed_is_refused(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        """B checks P-dup of S2 (and P-9 of S3) while the store holds no P-dup;
        A stores P-dup of S1; B appends what it checked: refused by the store,
        nothing of B's batch stored."""
        a = make_ledger()
        seeded(a, "r1")
        a.import_lines(jsonl(sale("S1", "r1"), sale("S2", "r1"), sale("S3", "r1")), actor="crm")
        b = make_ledger()
        checked = _staged(b, _payment("S3", payment_id="P-9"), _payment("S2"))
        assert a.import_lines(jsonl(_payment("S1")), actor="crm").stored == 1
        before = stored_count(a)
        with b.chain.append_session() as session:
            assert session.try_append(checked) is None  # an optimistic append: staged again
        with pytest.raises(ConflictError) as caught, b.chain.append_session() as session:
            session.append(checked)
        assert (caught.value.field, caught.value.reason) == ("payment_id", TAKEN)
        assert stored_count(a) == before
        assert _payments(a) == [("P-dup", "S1")]

    def test_two_group_commit_batches_pipelined_store_one_payment(self, ledger: Ledger) -> None:
        """The second group is staged while the first is being committed:
        its P-dup passed the rule (the first not committed yet); the store
        refuses it, the group is staged again under the lock, and the rule
        refuses it as a key stored with other content."""
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1"), sale("S2", "r1")), actor="crm")
        paid, refused = pipelined(ledger, [_payment("S1")], [_payment("S2")])
        assert isinstance(paid, RecordResult)
        assert paid.stored == 1
        assert isinstance(refused, BatchRejectedError)
        assert [(e.field, e.reason) for e in refused.errors] == [("payment_id", TOLD)]
        assert _payments(ledger) == [("P-dup", "S1")]


def _paid_at(ledger: Ledger, sale_id: str) -> int:
    """The position of P-dup's payment of ``sale_id``."""
    [position] = [
        e.position
        for e in ledger.read_log()
        if e.type == "PaymentReceived" and e.data["sale_id"] == sale_id
    ]
    return position


class TestAStoreOfAnEarlierVersion:
    """A store written before the table is indexed from its log when opened."""

    def test_a_store_holding_one_payment_id_on_two_sales_still_opens(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        """P-dup stored on S1, then on S2 (before the rule): the store opens,
        both stay, S1's (the earlier) claims the id, either re-sent is
        skipped, verify agrees, and P-dup on S3 is refused."""
        ledger = make_ledger()
        seeded(ledger, "r1")
        ledger.import_lines(
            jsonl(sale("S1", "r1"), sale("S2", "r1"), sale("S3", "r1")), actor="crm"
        )
        later = _staged(ledger, _payment("S2", "200.00"))
        ledger.import_lines(jsonl(_payment("S1")), actor="crm")
        raw = Raw(db_url)
        appended_before_the_table(ledger, raw, raw.payment_keys, later)
        reopened = make_ledger()
        assert _payments(reopened) == [("P-dup", "S1"), ("P-dup", "S2")]
        assert reopened.chain.select_all_keys(PAYMENT_KEYS) == [
            PaymentKey("P-dup", "S1", _paid_at(reopened, "S1"))
        ]
        resent = jsonl(_payment("S1"), _payment("S2", "200.00"))
        assert reopened.import_lines(resent, actor="crm").skipped == 2
        error = _rejected(reopened, jsonl(_payment("S3")))
        assert [(e.field, e.reason) for e in error.errors] == [("payment_id", TOLD)]
        Reports(reopened).catch_up()
        assert verify_views(reopened) == []  # the earlier payment's claim is the log's
        later_claim = PaymentKey("P-dup", "S2", _paid_at(reopened, "S2"))
        with raw.cursor() as c:  # the later payment's claim instead: not what the log says
            c.execute(
                raw.q(f"UPDATE {raw.payment_keys} SET sale_id = ?, position = ?"),
                later_claim[1:],
            )
        earlier = PaymentKey("P-dup", "S1", _paid_at(reopened, "S1"))
        assert verify_views(reopened) == [
            f"payment_keys {tuple(later_claim)}: differs from the log's {tuple(earlier)}"
        ]


class TestVerifyReadsThePaymentKeys:
    """`verify` holds the payment ids' table to the log's payments."""

    def test_a_deleted_row_is_missing(self, db_url: str, sold: Ledger) -> None:
        """Without P-dup's row the store would take it on another sale."""
        Reports(sold).catch_up()
        assert verify_views(sold) == []
        raw = Raw(db_url)
        with raw.cursor() as c:
            c.execute(raw.q(f"DELETE FROM {raw.payment_keys} WHERE payment_id = ?"), ("P-dup",))
        claim = PaymentKey("P-dup", "S1", _paid_at(sold, "S1"))
        assert verify_views(sold) == [f"payment_keys {tuple(claim)}: missing from the table"]

    def test_a_row_no_payment_claims_is_named(self, db_url: str, sold: Ledger) -> None:
        """A payment id claimed that no payment holds would refuse it."""
        Reports(sold).catch_up()
        forged = PaymentKey("P-ghost", "S2", _paid_at(sold, "S1"))
        with Raw(db_url).cursor() as c:
            c.execute(
                Raw(db_url).q(f"INSERT INTO {Raw(db_url).payment_keys} VALUES (?, ?, ?)"), forged
            )
        assert verify_views(sold) == [
            f"payment_keys {tuple(forged)}: in the table but no payment claims it"
        ]
